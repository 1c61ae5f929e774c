/**
 * Deleting a chat stops everything it had going: the active run, every queued message (none may
 * start), its listeners and its storage, and its sandbox with any agent still in it. When the
 * provider cannot be reached at that moment, the cron retries until the sandbox is gone. Real
 * provider, CLI and scripted model (the fault injector plays the provider's outage).
 */
import {
  createExecutionContext,
  createScheduledController,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index";
import { api } from "./helpers";
import { admin, modelRequests, proxiedChat, script, send } from "./run-helpers";
import { room } from "./stream-helpers";

const auth = { authorization: `Bearer ${env.SANDBOX_TOKEN}` };
const sandboxStatus = async (chatId: string) =>
  (await fetch(`${env.SANDBOX_URL}/v1/sandboxes/${chatId}`, { headers: auth })).status;

async function cron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/** Rows left in the object's storage. */
async function storedRows(chatId: string): Promise<number> {
  return runInDurableObject(room(chatId), (_instance, state) => {
    let rows = 0;
    for (const table of ["events", "run", "queue", "permissions", "checkpoints", "message_starts"]) {
      rows += state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).one().n;
    }
    return rows;
  });
}

describe("deleting a chat", () => {
  it("stops its run, starts none of its queue, closes listeners, wipes storage and removes the sandbox", async () => {
    const { session, chat, watcher } = await proxiedChat();
    const long = await script([
      {
        blocks: [{ type: "text", text: "a long answer cut short by the delete ".repeat(10) }],
        chunkSize: 4,
        delayMs: 100,
      },
    ]);
    const queued = [
      await script([{ blocks: [{ type: "text", text: "must never run" }] }]),
      await script([{ blocks: [{ type: "text", text: "nor this one" }] }]),
    ];
    const m1 = await send(session, chat.id, `${long.marker} go`);
    for (const q of queued) expect((await send(session, chat.id, `${q.marker} later`)).status).toBe("queued");
    await watcher.until((e) => e.messageId === m1.assistantMessageId && e.kind === "text_delta");
    expect(await sandboxStatus(chat.id)).toBe(200);

    const closed = new Promise<number>((resolve) => watcher.onClose(resolve));
    expect((await api(`/api/chats/${chat.id}`, { session, method: "DELETE" })).status).toBe(204);
    expect(await closed).toBe(4404);
    expect(await storedRows(chat.id)).toBe(0);
    // Give a wrongly started queued run the time to reach the provider and the model.
    for (let i = 0; i < 20; i++) {
      expect(await sandboxStatus(chat.id)).toBe(404);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const q of queued) expect(await modelRequests(q.id)).toEqual([]);
    expect(await storedRows(chat.id)).toBe(0);
    const pending = await env.DB.prepare("SELECT COUNT(*) AS n FROM chat_deletions WHERE chat_id = ?")
      .bind(chat.id)
      .first<{ n: number }>();
    expect(pending?.n).toBe(0);

    // A send that raced the delete (its D1 check passed just before) starts nothing.
    const late = await room(chat.id).sendMessage(
      chat.id,
      {
        userMessageId: crypto.randomUUID(),
        assistantMessageId: crypto.randomUUID(),
        content: `${queued[0]?.marker} too late`,
        model: "claude-sonnet-4-5",
        permissionMode: "default",
        source: "user",
      },
      "queue",
    );
    expect(late).toEqual({ status: "gone" });
    expect(await storedRows(chat.id)).toBe(0);
    expect(await sandboxStatus(chat.id)).toBe(404);
  });

  it("retries from the cron when the provider is down at delete time, until the sandbox is gone", async () => {
    const { session, chat, key, watcher } = await proxiedChat();
    const s = await script([{ blocks: [{ type: "text", text: "made a sandbox" }] }]);
    const m = await send(session, chat.id, `${s.marker} hi`);
    expect((await watcher.terminalOf(m.assistantMessageId)).kind).toBe("run_completed");
    watcher.close();

    await admin(key, "down");
    expect((await api(`/api/chats/${chat.id}`, { session, method: "DELETE" })).status).toBe(204);
    expect((await api(`/api/chats/${chat.id}`, { session })).status).toBe(404);
    expect(await sandboxStatus(chat.id)).toBe(200); // still there: the provider was unreachable
    const pending = () =>
      env.DB.prepare("SELECT attempts, last_error FROM chat_deletions WHERE chat_id = ?")
        .bind(chat.id)
        .first<{ attempts: number; last_error: string }>();
    expect(await pending()).toMatchObject({ attempts: 1, last_error: expect.stringMatching(/provider/i) });

    await admin(key, "up");
    await env.DB.prepare("UPDATE chat_deletions SET next_attempt_at = 0 WHERE chat_id = ?").bind(chat.id).run();
    await cron();
    expect(await sandboxStatus(chat.id)).toBe(404);
    expect(await pending()).toBeNull();
    expect(await storedRows(chat.id)).toBe(0);
  });
});
