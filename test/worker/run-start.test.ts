/**
 * The start of a run, when the provider's answer is slow or lost. A start the provider acted on but
 * whose answer timed out is retried (the idempotency key returns the same run); a run cancelled
 * while its start is in flight is stopped at the provider by its key, so it is not left running
 * and the chat's next message starts at once. Real provider and CLI behind the fault injector.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, json } from "./helpers";
import { faultRule, modelRequests, proxiedChat, ruleTaken, script, send, terminalCounts, text } from "./run-helpers";

const START = "^POST /v1/sandboxes/[^/]+/runs$";

/** The provider's own view of the run started with this key (a repeated start returns it). */
async function runAtProvider(chatId: string, key: string): Promise<{ status: string }> {
  const res = await fetch(`${env.SANDBOX_URL}/v1/sandboxes/${chatId}/runs`, {
    method: "POST",
    headers: { authorization: `Bearer ${env.SANDBOX_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ prompt: "lookup", model: "m", permissionMode: "default", idempotencyKey: key }),
  });
  if (res.status !== 200) throw new Error(`no run with key ${key}: ${res.status}`);
  return json(res);
}

describe("starting a run", () => {
  it("retries a start whose answer timed out, and gets the run the provider had started", async () => {
    const { session, chat, key, watcher } = await proxiedChat();
    const s = await script([{ blocks: [{ type: "text", text: "started once, answered late" }] }]);
    // The provider starts the run; its answer comes after the client's 3 s timeout.
    await faultRule(key, "hold", START, { ms: 4500 });
    const m = await send(session, chat.id, `${s.marker} go`);
    expect((await watcher.terminalOf(m.assistantMessageId)).kind).toBe("run_completed");
    expect(text(watcher.of(m.assistantMessageId))).toBe("started once, answered late");
    expect(await modelRequests(s.id)).toHaveLength(1); // one agent run, not two
    expect(await terminalCounts(chat.id, m.assistantMessageId)).toEqual({ log: 1, d1: 1 });
    watcher.close();
  });

  it("stops a run cancelled while its start is in flight, and the next message starts at once", async () => {
    const { session, chat, key, watcher } = await proxiedChat();
    const long = await script([
      { blocks: [{ type: "text", text: "an answer nobody waits for ".repeat(20) }], chunkSize: 4, delayMs: 200 },
    ]);
    await faultRule(key, "hold", START, { ms: 2500 });
    const m = await send(session, chat.id, `${long.marker} go`);
    await ruleTaken(key); // the provider has the start request (and starts the agent)
    expect(await json(await api(`/api/chats/${chat.id}/cancel`, { session, method: "POST" }))).toEqual({
      cancelled: true,
    });
    expect(await watcher.terminalOf(m.assistantMessageId)).toMatchObject({
      kind: "run_cancelled",
      payload: { reason: "user" },
    });
    // Without a cancel by key the agent would stream on for a minute and block the sandbox.
    const next = await script([{ blocks: [{ type: "text", text: "right after the cancel" }] }]);
    const m2 = await send(session, chat.id, `${next.marker} next`);
    expect((await watcher.terminalOf(m2.assistantMessageId)).kind).toBe("run_completed");
    expect(text(watcher.of(m2.assistantMessageId))).toBe("right after the cancel");
    expect((await runAtProvider(chat.id, m.assistantMessageId)).status).toBe("exited");
    for (const id of [m.assistantMessageId, m2.assistantMessageId]) {
      expect(await terminalCounts(chat.id, id)).toEqual({ log: 1, d1: 1 });
    }
    watcher.close();
  });
});
