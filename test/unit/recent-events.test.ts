/**
 * The in-memory window of recent encoded events that serves replays: consecutive seqs up to the
 * head, a character budget that drops the oldest first, null whenever it cannot serve a request.
 */
import { describe, expect, it } from "vitest";
import type { EncodedEvent } from "../../worker/chat/listener-frames";
import { RecentEvents } from "../../worker/chat/recent-events";

const event = (seq: number, chars = 10): EncodedEvent => ({ seq, kind: "usage", json: "x".repeat(chars) });
const range = (from: number, to: number, chars = 10) =>
  Array.from({ length: to - from + 1 }, (_, i) => event(from + i, chars));
const seqs = (events: readonly EncodedEvent[] | null) => events?.map((e) => e.seq) ?? null;

describe("RecentEvents", () => {
  it("serves every seq from the oldest held one up to the head, in order", () => {
    const recent = new RecentEvents(1000);
    recent.push(range(5, 7));
    recent.push(range(8, 9));
    expect(seqs(recent.from(5, 9))).toEqual([5, 6, 7, 8, 9]);
    expect(seqs(recent.from(8, 9))).toEqual([8, 9]);
    expect(seqs(recent.from(10, 9))).toEqual([]);
  });

  it("answers null for seqs it does not hold or a head it has not seen", () => {
    const recent = new RecentEvents(1000);
    expect(recent.from(1, 3)).toBeNull(); // empty: those were committed by an earlier instance
    expect(seqs(recent.from(4, 3))).toEqual([]); // nothing after the head either way
    recent.push(range(5, 7));
    expect(recent.from(4, 7)).toBeNull();
    expect(recent.from(5, 8)).toBeNull(); // the head moved on without it
  });

  it("drops the oldest events past its character budget, and keeps serving the rest", () => {
    const recent = new RecentEvents(50);
    recent.push(range(1, 4)); // 40 chars
    recent.push(range(5, 7)); // 70 chars: 1-2 go
    expect(recent.from(2, 7)).toBeNull();
    expect(seqs(recent.from(3, 7))).toEqual([3, 4, 5, 6, 7]);
    recent.push([event(8, 100)]); // larger than the budget on its own
    expect(recent.from(8, 8)).toBeNull();
  });

  it("stays consistent across many evictions (the array is compacted underneath)", () => {
    const recent = new RecentEvents(300);
    for (let seq = 1; seq <= 5000; seq++) recent.push([event(seq)]);
    expect(seqs(recent.from(4971, 5000))).toEqual(range(4971, 5000).map((e) => e.seq));
    expect(recent.from(4970, 5000)).toBeNull();
  });

  it("holds nothing with a zero budget, and nothing after clear()", () => {
    const off = new RecentEvents(0);
    off.push(range(1, 3));
    expect(off.from(1, 3)).toBeNull();
    const recent = new RecentEvents(1000);
    recent.push(range(1, 3));
    recent.clear();
    expect(recent.from(1, 3)).toBeNull();
  });
});
