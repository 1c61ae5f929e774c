/**
 * The snapshot's size budget: whatever a message holds (answers, thinking, tool inputs and outputs
 * well over 2 MB), its snapshot stays under the 2,000,000-byte row limit of D1 and Durable Object
 * SQLite, counts what it leaves out, keeps prompts visible, and does not depend on how deltas were
 * split (the Durable Object folds runs of deltas merged, the browser one by one).
 */
import { describe, expect, it } from "vitest";
import type { Envelope, EventKind, EventPayloads, MessageSnapshot } from "../../worker/protocol";
import { reduce, snapshotText } from "../../worker/protocol";
import {
  BLOCK_BYTES,
  SNAPSHOT_CONTENT_BYTES,
  SNAPSHOT_RESERVE_BYTES,
  textCost,
} from "../../worker/protocol/snapshot-size";
import { utf8ByteLength } from "../../worker/protocol/utf8";
import { mulberry32, type Rng } from "./prng";

/** The production row limit (D1 and Durable Object SQLite): local SQLite does not enforce it. */
const ROW_LIMIT = 2_000_000;
const A = "assistant-1";

function ev<K extends EventKind>(seq: number, kind: K, payload: EventPayloads[K]): Envelope {
  return { chatId: "c", seq, messageId: A, kind, payload, at: seq } as Envelope;
}

function fold(events: Envelope[]): MessageSnapshot {
  let s: MessageSnapshot | undefined;
  for (const e of events) s = reduce(s, e);
  if (!s) throw new Error("no events");
  return s;
}

/** Merges runs of consecutive deltas of one kind into one event with the last seq, as the DO's lazy fold does. */
function mergeDeltas(events: Envelope[]): Envelope[] {
  const out: Envelope[] = [];
  for (const e of events) {
    const last = out.at(-1);
    if ((e.kind === "text_delta" || e.kind === "thinking_delta") && last?.kind === e.kind) {
      const text = (last.payload as { text: string }).text + (e.payload as { text: string }).text;
      out[out.length - 1] = { ...e, payload: { text } } as Envelope;
    } else out.push(e);
  }
  return out;
}

const rowBytes = (s: MessageSnapshot) => utf8ByteLength(JSON.stringify(s));

/** 256 Ki units from an alphabet that is costly to store: escapes, controls, 3-byte characters, surrogate pairs. */
function pool(rng: Rng): string {
  const alphabet = ["a", "b", " ", "\n", '"', "\\", "\u0001", "é", "中", "😀", "x", "y"];
  const parts: string[] = [];
  for (let i = 0; i < 200_000; i++) parts.push(rng.pick(alphabet));
  return parts.join("").slice(0, 256 * 1024);
}

/** `length` units of `source` from a random offset (repeated as needed). */
function slice(rng: Rng, source: string, length: number): string {
  const start = rng.int(0, source.length - 1);
  const doubled = source.slice(start) + source;
  return length <= doubled.length
    ? doubled.slice(0, length)
    : doubled.repeat(Math.ceil(length / doubled.length)).slice(0, length);
}

/** A long assistant message: deltas (split anywhere, even inside surrogate pairs), tools, prompts. */
function hugeMessage(rng: Rng, totalChars: number): Envelope[] {
  const source = pool(rng);
  const text = (_rng: Rng, length: number) => slice(rng, source, length);
  const events: Envelope[] = [ev(1, "run_started", { userMessageId: "u", model: "m" })];
  let chars = 0;
  let tool = 0;
  while (chars < totalChars) {
    const seq = events.length + 1;
    const choice = rng.int(0, 9);
    if (choice <= 4) {
      const piece = text(rng, rng.int(1, 200_000));
      // Split at an arbitrary unit boundary, so a surrogate pair may straddle two deltas.
      const cut = rng.int(0, piece.length);
      const kind = choice <= 2 ? "text_delta" : "thinking_delta";
      events.push(ev(seq, kind, { text: piece.slice(0, cut) }));
      events.push(ev(seq + 1, kind, { text: piece.slice(cut) }));
      chars += piece.length;
    } else if (choice <= 7) {
      const toolUseId = `t${tool++}`;
      const input = { command: text(rng, rng.int(10, 300_000)) };
      events.push(ev(seq, "tool_started", { toolUseId, name: "Bash", input }));
      const output = text(rng, rng.int(0, 250_000));
      events.push(
        rng.chance(0.7)
          ? ev(seq + 1, "tool_completed", { toolUseId, output })
          : ev(seq + 1, "tool_failed", { toolUseId, error: output }),
      );
      chars += input.command.length + output.length;
    } else if (choice === 8) {
      const requestId = `r${seq}`;
      events.push(
        ev(seq, "permission_requested", { requestId, toolName: "Write", input: { content: text(rng, 50_000) } }),
      );
      events.push(ev(seq + 1, "permission_resolved", { requestId, decision: "allow", by: "user" }));
    } else {
      events.push(ev(seq, "notice", { code: "fresh_session", text: "The agent starts a fresh session." }));
    }
  }
  events.push(ev(events.length + 1, "run_failed", { code: "boom", error: text(rng, 60_000) }));
  return events;
}

describe("snapshot size budget", () => {
  it("keeps every snapshot under the row limit for messages of 3-20 MB, whatever they hold (seeded)", () => {
    for (let seed = 1; seed <= 6; seed++) {
      const rng = mulberry32(seed);
      const events = hugeMessage(rng, rng.int(3_000_000, seed === 1 ? 20_000_000 : 8_000_000));
      const s = fold(events);
      expect(s.status, `seed ${seed}`).toBe("failed");
      expect(s.omittedBytes, `seed ${seed}`).toBeGreaterThan(0);
      expect(s.heldBytes, `seed ${seed}`).toBeLessThanOrEqual(SNAPSHOT_CONTENT_BYTES + SNAPSHOT_RESERVE_BYTES);
      // heldBytes bounds what the blocks really take as JSON.
      expect(utf8ByteLength(JSON.stringify(s.blocks)), `seed ${seed}`).toBeLessThanOrEqual(s.heldBytes);
      expect(rowBytes(s), `seed ${seed}`).toBeLessThanOrEqual(ROW_LIMIT - 300_000);
    }
  }, 60_000);

  it("gives the same snapshot whether deltas are folded one by one or merged, at every point (seeded)", () => {
    for (let seed = 1; seed <= 6; seed++) {
      const rng = mulberry32(100 + seed);
      const events = hugeMessage(rng, rng.int(1_000_000, 4_000_000));
      expect(fold(mergeDeltas(events)), `seed ${seed}`).toEqual(fold(events));
      // Also from an intermediate snapshot (a checkpoint) on.
      const middle = rng.int(1, events.length - 1);
      let checkpoint: MessageSnapshot | undefined = JSON.parse(JSON.stringify(fold(events.slice(0, middle))));
      for (const e of mergeDeltas(events.slice(middle))) checkpoint = reduce(checkpoint, e);
      expect(checkpoint, `seed ${seed}`).toEqual(fold(events));
    }
  }, 60_000);

  it("holds an answer whole up to the budget, then keeps its start and counts the rest", () => {
    const answer = "x".repeat(SNAPSHOT_CONTENT_BYTES * 3);
    const events = [ev(1, "run_started", { userMessageId: "u", model: "m" })];
    for (let i = 0; i < answer.length; i += 250_000) {
      events.push(ev(events.length + 1, "text_delta", { text: answer.slice(i, i + 250_000) }));
    }
    events.push(ev(events.length + 1, "run_completed", {}));
    const s = fold(events);
    const held = snapshotText(s);
    expect(answer.startsWith(held)).toBe(true);
    expect(held.length).toBe(SNAPSHOT_CONTENT_BYTES - BLOCK_BYTES);
    expect(s.heldBytes + s.omittedBytes).toBe(textCost(answer) + BLOCK_BYTES);
    expect(s.status).toBe("completed");

    const small = fold([ev(1, "run_started", { userMessageId: "u", model: "m" }), ev(2, "text_delta", { text: "hi" })]);
    expect(small).toMatchObject({ omittedBytes: 0, heldBytes: BLOCK_BYTES + 2 });
  });

  it("keeps a prompt visible and answerable after the content is full, and still updates tool states", () => {
    const events: Envelope[] = [
      ev(1, "run_started", { userMessageId: "u", model: "m" }),
      ev(2, "tool_started", { toolUseId: "t1", name: "Bash", input: { command: "cat big" } }),
      ev(3, "text_delta", { text: "y".repeat(SNAPSHOT_CONTENT_BYTES) }),
      ev(4, "tool_completed", { toolUseId: "t1", output: "z".repeat(100_000) }),
      ev(5, "permission_requested", { requestId: "r1", toolName: "Bash", input: { command: "rm -rf build" } }),
      ev(6, "tool_started", { toolUseId: "t2", name: "Read", input: { path: "a" } }),
      ev(7, "notice", { code: "fresh_session", text: "The agent starts a fresh session." }),
    ];
    const s = fold(events);
    expect(s.omittedBytes).toBeGreaterThan(0);
    expect(s.blocks.find((b) => b.type === "tool" && b.toolUseId === "t1")).toMatchObject({
      status: "completed",
      output: "",
      truncatedFromBytes: 100_000,
    });
    expect(s.blocks.find((b) => b.type === "tool" && b.toolUseId === "t2")).toBeUndefined();
    expect(s.blocks.find((b) => b.type === "permission")).toMatchObject({
      requestId: "r1",
      input: null,
      decision: null,
    });
    expect(s.blocks.at(-1)).toEqual({
      type: "notice",
      code: "fresh_session",
      text: "The agent starts a fresh session.",
    });
    const answered = reduce(s, ev(8, "permission_resolved", { requestId: "r1", decision: "allow", by: "user" }));
    expect(answered.blocks.find((b) => b.type === "permission")).toMatchObject({ decision: "allow", by: "user" });
  });

  it("stays bounded with thousands of prompts and notices once full (the reserve runs out, then they are counted)", () => {
    const events: Envelope[] = [
      ev(1, "run_started", { userMessageId: "u", model: "m" }),
      ev(2, "text_delta", { text: "y".repeat(SNAPSHOT_CONTENT_BYTES) }),
    ];
    for (let i = 0; i < 5_000; i++) {
      events.push(ev(events.length + 1, "permission_requested", { requestId: `r${i}`, toolName: "Bash", input: {} }));
      events.push(ev(events.length + 1, "notice", { code: "n", text: "note" }));
    }
    const s = fold(events);
    expect(s.heldBytes).toBeLessThanOrEqual(SNAPSHOT_CONTENT_BYTES + SNAPSHOT_RESERVE_BYTES);
    expect(rowBytes(s)).toBeLessThanOrEqual(SNAPSHOT_CONTENT_BYTES + SNAPSHOT_RESERVE_BYTES + 2_000);
  });
});
