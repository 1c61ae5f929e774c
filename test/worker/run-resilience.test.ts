/**
 * Runs survive what happens mid-stream: a dropped provider connection (re-attach from the last
 * offset), the chat's Durable Object evicted (the alarm re-attaches from the stored cursor), and a
 * provider that dies (the watchdog fails the run after its silence limit). No event is lost or
 * doubled: the streamed text must equal the scripted text exactly.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { snapshotText } from "../../worker/protocol/snapshot";
import { createChat, must, signUp } from "./helpers";
import {
  admin,
  proxiedChat as proxiedChatSetup,
  script,
  send,
  storedSnapshot,
  terminalCounts,
  text,
  Watcher,
} from "./run-helpers";
import { room } from "./stream-helpers";

const REPLY = "This answer streams slowly, two characters at a time, so things can go wrong midway.";
const slowTurn = { blocks: [{ type: "text" as const, text: REPLY }], chunkSize: 2, delayMs: 40 };

async function proxiedChat() {
  const proxied = await proxiedChatSetup();
  return { ...proxied, s: await script([slowTurn]) };
}

describe("mid-run resilience", () => {
  it("re-attaches after the provider connection drops, without losing or doubling an event", async () => {
    const { session, chat, key, watcher, s } = await proxiedChat();
    const m = await send(session, chat.id, `${s.marker} stream`);
    for (const cut of [5, 20]) {
      await watcher.until((e) => e.messageId === m.assistantMessageId && text([e]).length > 0 && e.seq > cut);
      await admin(key, "drop");
    }
    expect((await watcher.terminalOf(m.assistantMessageId)).kind).toBe("run_completed");
    expect(text(watcher.of(m.assistantMessageId))).toBe(REPLY);
    expect(snapshotText(must(await storedSnapshot(chat.id, m.assistantMessageId)))).toBe(REPLY);
    expect(await terminalCounts(chat.id, m.assistantMessageId)).toEqual({ log: 1, d1: 1 });
    watcher.close();
  });

  it("re-attaches from the stored cursor after the Durable Object is reset mid-run", async () => {
    const session = await signUp();
    const chat = await createChat(session, { permissionMode: "bypassPermissions" });
    const s = await script([
      { blocks: [{ type: "tool_use", name: "Bash", input: { command: "echo one > evict.txt" } }] },
      slowTurn,
    ]);
    const watcher = await Watcher.open(session, chat.id);
    const m = await send(session, chat.id, `${s.marker} survive a reset`);
    await watcher.until((e) => e.messageId === m.assistantMessageId && text([e]).length > 0);
    // A graceful eviction waits for the run's stream to drain, so reset the object the hard way:
    // its in-memory state (the live stream, the mapper, waiting deltas) is gone, its storage stays.
    await runInDurableObject(room(chat.id), (_instance, state) => state.abort("simulated crash")).catch(() => {});
    watcher.close();
    // The new instance finds the run in its storage; the alarm re-attaches from the stored cursor.
    await runDurableObjectAlarm(room(chat.id));
    const after = await Watcher.open(session, chat.id);
    expect((await after.terminalOf(m.assistantMessageId)).kind).toBe("run_completed");
    const events = after.of(m.assistantMessageId);
    expect(text(events)).toBe(REPLY);
    expect(events.filter((e) => e.kind === "tool_started")).toHaveLength(1);
    expect(events.filter((e) => e.kind === "tool_completed")).toHaveLength(1);
    expect(events.filter((e) => e.kind === "run_started")).toHaveLength(1);
    expect(snapshotText(must(await storedSnapshot(chat.id, m.assistantMessageId)))).toBe(REPLY);
    expect(await terminalCounts(chat.id, m.assistantMessageId)).toEqual({ log: 1, d1: 1 });
    after.close();
  });

  it("keeps hibernated listeners through a graceful eviction while a run streams", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const s = await script([slowTurn]);
    const watcher = await Watcher.open(session, chat.id);
    const m = await send(session, chat.id, `${s.marker} evict me`);
    await watcher.until((e) => e.messageId === m.assistantMessageId && text([e]).length > 0);
    await evictDurableObject(room(chat.id));
    await runDurableObjectAlarm(room(chat.id));
    expect((await watcher.terminalOf(m.assistantMessageId)).kind).toBe("run_completed");
    expect(text(watcher.of(m.assistantMessageId))).toBe(REPLY);
    expect(await terminalCounts(chat.id, m.assistantMessageId)).toEqual({ log: 1, d1: 1 });
    watcher.close();
  });

  it("fails the run with a timeout when the provider dies and stays silent past the limit", async () => {
    const { session, chat, key, watcher, s } = await proxiedChat();
    const m = await send(session, chat.id, `${s.marker} then the provider dies`);
    await watcher.until((e) => e.messageId === m.assistantMessageId && text([e]).length > 0);
    await admin(key, "down");
    const end = await watcher.terminalOf(m.assistantMessageId);
    expect(end.kind).toBe("run_failed");
    expect((end.payload as { code: string }).code).toBe("provider_timeout");
    const snapshot = await storedSnapshot(chat.id, m.assistantMessageId);
    expect(snapshot?.status).toBe("failed");
    expect(snapshot?.lastSeq).toBe(end.seq);
    expect(snapshotText(must(snapshot)).length).toBeGreaterThan(0); // partial answer kept
    await admin(key, "up");
    expect(await terminalCounts(chat.id, m.assistantMessageId)).toEqual({ log: 1, d1: 1 });
    watcher.close();
  });
});
