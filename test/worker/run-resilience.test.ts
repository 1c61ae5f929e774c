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

/** A seeded PRNG (mulberry32): every trial is reproducible from its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)) };
}

/** Words for scripted text, so a doubled or lost piece shows in a string comparison. */
function prose(rng: ReturnType<typeof prng>, tag: string, length: number): string {
  const words = ["alpha", "beta", "gamma", "delta", "ünïcode", "中文", 'quote"d', "tab\tbed", "line\nbreak"];
  let out = "";
  for (let i = 0; out.length < length; i++) out += `${tag}${i}:${words[rng.int(0, words.length - 1)]} `;
  return out;
}

describe("mid-run resilience", () => {
  it("re-attaches after the provider connection drops, without losing or doubling an event", async () => {
    const { session, chat, key, watcher, s } = await proxiedChat();
    const m = await send(session, chat.id, `${s.marker} stream`);
    // Cut the stream after the 2nd and the 4th text event.
    const deltas = () => watcher.events.filter((e) => e.messageId === m.assistantMessageId && text([e]).length > 0);
    for (const cut of [2, 4]) {
      await watcher.until(() => deltas().length >= cut);
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

  it("replays exactly the model's text and thinking after hard resets at random points of mixed records (seeded)", async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const rng = prng(seed);
      const session = await signUp();
      const chat = await createChat(session, { permissionMode: "bypassPermissions" });
      // Thinking, text and tool records, in chunks big enough that the coalescer's size cap splits
      // them mid-record and quick enough that a kind switch lands inside its window.
      const pace = () => ({ chunkSize: rng.int(300, 900), delayMs: rng.int(1, 6) });
      const thinking = [prose(rng, "t1-", rng.int(1500, 4000)), prose(rng, "t2-", rng.int(1500, 4000))];
      const answer = [
        prose(rng, "a1-", rng.int(1500, 5000)),
        prose(rng, "a2-", rng.int(1500, 5000)),
        prose(rng, "a3-", rng.int(1500, 5000)),
      ];
      const s = await script([
        {
          blocks: [
            { type: "thinking", thinking: thinking[0] ?? "" },
            { type: "text", text: answer[0] ?? "" },
            { type: "tool_use", name: "Bash", input: { command: `echo one-${seed}` } },
          ],
          ...pace(),
        },
        {
          blocks: [
            { type: "thinking", thinking: thinking[1] ?? "" },
            { type: "text", text: answer[1] ?? "" },
            { type: "tool_use", name: "Bash", input: { command: `echo two-${seed}` } },
          ],
          ...pace(),
        },
        { blocks: [{ type: "text", text: answer[2] ?? "" }], ...pace() },
      ]);
      let watcher = await Watcher.open(session, chat.id);
      const m = await send(session, chat.id, `${s.marker} stream with resets`);
      for (let resets = rng.int(1, 3); resets > 0; resets--) {
        const after = rng.int(1, 12);
        const seen = (e: { messageId: string | null; kind: string }) =>
          e.messageId === m.assistantMessageId && /_delta$|^tool_/.test(e.kind);
        const point = await watcher.until(
          (e) => watcher.events.filter(seen).length >= after || /^run_(completed|failed)/.test(e.kind),
        );
        if (point.kind.startsWith("run_")) break;
        // The object dies mid-stream, with whatever its writer held; its storage stays.
        await runInDurableObject(room(chat.id), (_instance, state) => state.abort("simulated crash")).catch(() => {});
        watcher.close();
        await runDurableObjectAlarm(room(chat.id));
        watcher = await Watcher.open(session, chat.id);
      }
      const end = await watcher.terminalOf(m.assistantMessageId);
      expect(end.kind, `seed ${seed}`).toBe("run_completed");
      const events = watcher.of(m.assistantMessageId);
      const joined = (kind: string) =>
        events
          .filter((e) => e.kind === kind)
          .map((e) => (e.payload as { text: string }).text)
          .join("");
      expect(joined("thinking_delta"), `seed ${seed}`).toBe(thinking.join(""));
      expect(joined("text_delta"), `seed ${seed}`).toBe(answer.join(""));
      expect(
        events.filter((e) => e.kind === "tool_started"),
        `seed ${seed}`,
      ).toHaveLength(2);
      expect(
        events.filter((e) => e.kind === "tool_completed"),
        `seed ${seed}`,
      ).toHaveLength(2);
      expect(
        events.filter((e) => e.kind === "run_started"),
        `seed ${seed}`,
      ).toHaveLength(1);
      expect(await terminalCounts(chat.id, m.assistantMessageId), `seed ${seed}`).toEqual({ log: 1, d1: 1 });
      watcher.close();
    }
  }, 300_000);

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
