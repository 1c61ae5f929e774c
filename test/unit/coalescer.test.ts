/**
 * The delta coalescer: merges within the window and under the size cap, flushes on anything
 * else, and (property) never reorders drafts nor loses or invents text.
 */
import { describe, expect, it } from "vitest";
import { Coalescer } from "../../worker/chat/coalescer";
import type { EventDraft } from "../../worker/protocol";
import { utf8ByteLength } from "../../worker/protocol/utf8";
import { mulberry32, randomText } from "./prng";

const text = (t: string, messageId = "m1"): EventDraft => ({ kind: "text_delta", messageId, payload: { text: t } });
const thinking = (t: string, messageId = "m1"): EventDraft => ({
  kind: "thinking_delta",
  messageId,
  payload: { text: t },
});
const tool: EventDraft = {
  kind: "tool_started",
  messageId: "m1",
  payload: { toolUseId: "t", name: "Bash", input: {} },
};

describe("Coalescer", () => {
  it("merges deltas inside the window; the caller flushes at the deadline", () => {
    const c = new Coalescer({ windowMs: 25 });
    expect(c.push([text("a")], 100)).toEqual([]);
    expect(c.push([text("b")], 110)).toEqual([]);
    expect(c.nextDeadline()).toBe(125);
    expect(c.flushAll()).toEqual([text("ab")]);
    expect(c.nextDeadline()).toBeNull();
    expect(c.flushAll()).toEqual([]);
  });

  it("measures the window from the first waiting delta", () => {
    const c = new Coalescer({ windowMs: 25 });
    c.push([text("a")], 0);
    c.push([text("b")], 20);
    expect(c.nextDeadline()).toBe(25);
    // A delta arriving after the window joins what waits and everything leaves at once.
    expect(c.push([text("c")], 30)).toEqual([text("abc")]);
    expect(c.nextDeadline()).toBeNull();
  });

  it("holds deltas of several messages and kinds together, as separate events in arrival order", () => {
    const c = new Coalescer();
    expect(c.push([text("a")], 0)).toEqual([]);
    expect(c.push([thinking("t")], 1)).toEqual([]);
    expect(c.push([text("b", "m2")], 2)).toEqual([]);
    expect(c.push([text("c", "m2")], 3)).toEqual([]);
    expect(c.push([tool], 4)).toEqual([text("a"), thinking("t"), text("bc", "m2"), tool]);
    expect(c.push([tool], 5)).toEqual([tool]);
    expect(c.flushAll()).toEqual([]);
  });

  it("flushes at the size cap of everything waiting, counting UTF-8 bytes", () => {
    const c = new Coalescer({ maxBytes: 8 });
    expect(c.push([text("€€")], 0)).toEqual([]); // 6 bytes
    expect(c.push([thinking("€")], 1)).toEqual([text("€€")]); // 9 would exceed: flush, keep "€" waiting
    expect(c.push([text("ab")], 2)).toEqual([]); // 5 bytes
    expect(c.push([text("abc")], 3)).toEqual([thinking("€"), text("ababc")]); // reaches 8: flush
    expect(c.push([text("x".repeat(20))], 4)).toEqual([text("x".repeat(20))]); // alone over the cap
  });

  it("commits a source's drafts whole or not at all, and names the oldest waiting source", () => {
    const c = new Coalescer();
    expect(c.push([thinking("t1"), text("a")], 0, 1)).toEqual([]);
    expect(c.oldestWaitingSource).toBe(1);
    expect(c.push([text("b")], 1, 2)).toEqual([]);
    expect(c.oldestWaitingSource).toBe(1);
    // A tool line that also carries text: the tool releases what waits, and the text may not stay behind.
    expect(c.push([tool, text("c")], 2, 3)).toEqual([thinking("t1"), text("ab"), tool, text("c")]);
    expect(c.oldestWaitingSource).toBeNull();
    expect(c.hasPending).toBe(false);

    // A size flush that releases only older sources leaves this one waiting, whole.
    const small = new Coalescer({ maxBytes: 4 });
    expect(small.push([text("abc")], 0, 7)).toEqual([]);
    expect(small.push([text("de")], 1, 8)).toEqual([text("abc")]);
    expect(small.oldestWaitingSource).toBe(8);
    // A source whose first delta joined an older one that is then flushed goes out whole.
    expect(small.push([text("f"), thinking("g")], 2, 9)).toEqual([text("def"), thinking("g")]);
    expect(small.hasPending).toBe(false);
  });

  it("property: order and text are preserved, and what left is exactly the sources before the oldest waiting one", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rng = mulberry32(seed);
      const c = new Coalescer({ windowMs: rng.int(1, 40), maxBytes: rng.int(4, 64) });
      const groups: EventDraft[][] = [];
      const output: EventDraft[] = [];
      let now = 0;
      for (let source = 0, n = rng.int(0, 60); source < n; source++) {
        now += rng.int(0, 15);
        const deadline = c.nextDeadline();
        if (deadline !== null && now >= deadline) output.push(...c.flushAll());
        const group: EventDraft[] = [];
        for (let k = rng.int(0, 3); k > 0; k--) {
          const messageId = rng.pick(["m1", "m2"]);
          group.push(
            rng.chance(0.1)
              ? { kind: "usage", messageId, payload: { inputTokens: k, outputTokens: k } }
              : {
                  kind: rng.pick(["text_delta", "thinking_delta"] as const),
                  messageId,
                  payload: { text: randomText(rng, 6) },
                },
          );
        }
        groups.push(group);
        output.push(...c.push(group, now, source));
        const waitingFrom = c.oldestWaitingSource ?? groups.length;
        expect(runs(output), `seed ${seed} source ${source}`).toEqual(runs(groups.slice(0, waitingFrom).flat()));
        const next = c.nextDeadline();
        if (next !== null) expect(next, `seed ${seed}`).toBeGreaterThan(now);
      }
      output.push(...c.flushAll());
      const input = groups.flat();
      expect(runs(output), `seed ${seed}`).toEqual(runs(input));
      // No merged draft exceeds the cap unless a single input delta already did.
      const largestInput = Math.max(
        0,
        ...input.map((d) =>
          d.kind === "text_delta" || d.kind === "thinking_delta" ? utf8ByteLength(d.payload.text) : 0,
        ),
      );
      for (const d of output) {
        if (d.kind === "text_delta" || d.kind === "thinking_delta") {
          expect(utf8ByteLength(d.payload.text), `seed ${seed}`).toBeLessThanOrEqual(
            Math.max(c.maxBytes, largestInput),
          );
        }
      }
    }
  });
});

/** Maximal runs of same (kind, message) with their text concatenated; other drafts as their JSON. */
function runs(drafts: EventDraft[]): Array<{ key: string; text: string }> {
  const out: Array<{ key: string; text: string }> = [];
  for (const d of drafts) {
    const key = `${d.kind}/${d.messageId}`;
    const delta = d.kind === "text_delta" || d.kind === "thinking_delta";
    const t = delta ? d.payload.text : `<${JSON.stringify(d.payload)}>`;
    const last = out.at(-1);
    if (delta && last && last.key === key) last.text += t;
    else if (!delta || t !== "") out.push({ key, text: t });
  }
  return out;
}
