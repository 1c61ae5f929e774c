/**
 * What the chat's runs need from outside the chat's object, for the ChatRoom: the owner's own model
 * key at a run's start (read from D1 and opened, never stored in the object), and the report of a
 * scheduled run's end to the scheduler's run row (best effort: the next tick reconciles it).
 */
import { eq } from "drizzle-orm";
import type { Keyring } from "../crypto/keyring";
import { keyringFromEnv } from "../crypto/keyring-from-env";
import { createDb } from "../db/client";
import { chats } from "../db/schema";
import { schedulerConfig } from "../scheduler/config";
import type { RunOutcome } from "../scheduler/run-types";
import { reportRunOutcome } from "../scheduler/settle";
import { ModelKeyUnreadable, modelKeyForRun } from "../settings/model-key";
import { SetupError, type Terminal } from "./run-outcome";

/** The chat owner's own model key for one run, or null for the service's key. */
export async function ownerModelKey(env: Env, chatId: string): Promise<string | null> {
  const db = createDb(env.DB);
  const chat = await db.select({ userId: chats.userId }).from(chats).where(eq(chats.id, chatId)).get();
  if (!chat) throw new SetupError("chat_not_found", "This chat no longer exists.");
  let keyring: Keyring | null;
  try {
    keyring = await keyringFromEnv(env);
  } catch {
    keyring = null; // A malformed secret: a stored key cannot be opened, which fails below.
  }
  try {
    return await modelKeyForRun(db, keyring, chat.userId);
  } catch (error: unknown) {
    if (error instanceof ModelKeyUnreadable) {
      throw new SetupError(
        "model_key_unreadable",
        "Your stored model key cannot be read (the service's encryption key changed); set it again in settings.",
      );
    }
    throw error;
  }
}

/** Tells the scheduler how a scheduled run ended; if this write is lost, the next tick settles it. */
export function reportScheduledEnd(
  env: Env,
  ctx: DurableObjectState,
  assistantMessageId: string,
  terminal: Terminal,
): void {
  const outcome: RunOutcome = {
    assistantMessageId,
    status: terminal.kind === "run_completed" ? "completed" : terminal.kind === "run_failed" ? "failed" : "cancelled",
    errorCode: terminal.kind === "run_failed" ? terminal.payload.code : null,
    errorText: terminal.kind === "run_failed" ? terminal.payload.error : null,
    endedAt: Date.now(),
  };
  const reporting = reportRunOutcome(env.DB, outcome, schedulerConfig(env as unknown as Record<string, unknown>));
  ctx.waitUntil(
    reporting.then(
      () => {},
      (error: unknown) => {
        console.warn(
          JSON.stringify({ msg: "scheduled run outcome not reported", assistantMessageId, error: String(error) }),
        );
      },
    ),
  );
}
