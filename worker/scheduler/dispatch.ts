/**
 * Handing claimed runs to their chats: each goes to the chat's Durable Object through the same
 * `sendMessage` a user's message uses (so it runs in the chat's one wrapped bootstrap, or waits in
 * its queue when the chat is busy), with at most `concurrency` calls in flight. A call that throws
 * leaves the run `pending` with the error; reconciliation hands it over again later.
 */
import type { RunRequest } from "../chat/run-store";
import type { Progress } from "./claims";
import type { TickIo } from "./io";
import { mapLimit } from "./map-limit";
import type { Handover } from "./run-types";

/** Sends one run to a chat (in production: `chatRoom(env, chatId).sendMessage(chatId, request, "queue")`). */
export type Dispatch = (chatId: string, request: RunRequest) => Promise<{ status: "started" | "queued" | "gone" }>;

export async function dispatchAll(
  io: TickIo,
  handovers: readonly Handover[],
  dispatch: Dispatch,
  concurrency: number,
): Promise<Progress[]> {
  return mapLimit(handovers, concurrency, async (h): Promise<Progress> => {
    io.chatCall();
    try {
      const outcome = await dispatch(h.chatId, {
        userMessageId: h.userMessageId,
        assistantMessageId: h.assistantMessageId,
        content: h.prompt,
        model: h.model,
        permissionMode: h.permissionMode,
        source: "schedule",
      });
      if (outcome.status === "gone") {
        // The chat was deleted after the claim: reconciliation fails the run as chat_deleted.
        return { runId: h.runId, status: "pending", attempted: true, error: "The target chat was deleted." };
      }
      return { runId: h.runId, status: outcome.status === "queued" ? "queued" : "dispatched", attempted: true };
    } catch (error: unknown) {
      const message = error instanceof Error ? error.message : String(error);
      console.error(
        JSON.stringify({
          msg: "scheduled run not handed to its chat",
          runId: h.runId,
          chatId: h.chatId,
          error: message,
        }),
      );
      return { runId: h.runId, status: "pending", attempted: true, error: `Could not reach the chat: ${message}` };
    }
  });
}
