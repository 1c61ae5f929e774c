/**
 * The delta coalescer: merges within the window and under the size cap, flushes on anything
 * else, and (property) never reorders drafts nor loses or invents text.
 */
import { describe, expect, it } from "vitest";
import { Coalescer } from "../../worker/chat/coalescer";
import { utf8ByteLength } from "../../worker/chat/utf8";
import type { EventDraft } from "../../worker/protocol";
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
  it("merges deltas inside the window and flushes when it passes", () => {
    const c = new Coalescer({ windowMs: 25 });
    expect(c.push(text("a"), 100)).toEqual([]);
    expect(c.push(text("b"), 110)).toEqual([]);
    expect(c.nextDeadline()).toBe(125);
    expect(c.flushDue(124)).toEqual([]);
    expect(c.flushDue(125)).toEqual([text("ab")]);
    expect(c.nextDeadline()).toBeNull();
    expect(c.flushDue(1_000)).toEqual([]);
  });

  it("measures the window from the first pending delta", () => {
    const c = new Coalescer({ windowMs: 25 });
    c.push(text("a"), 0);
    c.push(text("b"), 20);
    expect(c.nextDeadline()).toBe(25);
    // A delta arriving after the window joins the pending text and leaves at once.
    expect(c.push(text("c"), 30)).toEqual([text("abc")]);
    expect(c.nextDeadline()).toBeNull();
  });

  it("flushes at the size cap, counting UTF-8 bytes", () => {
    const c = new Coalescer({ maxBytes: 8 });
    expect(c.push(text("€€"), 0)).toEqual([]); // 6 bytes
    expect(c.push(text("€"), 1)).toEqual([text("€€")]); // 9 would exceed: flush, keep "€" pending
    expect(c.push(text("ab"), 2)).toEqual([]); // 5 bytes
    expect(c.push(text("abc"), 3)).toEqual([text("€ababc")]); // reaches 8: flush
    expect(c.push(text("x".repeat(20)), 4)).toEqual([text("x".repeat(20))]); // alone over the cap
  });

  it("flushes pending text before any other draft, a different kind or a different message", () => {
    const c = new Coalescer();
    expect(c.push(text("a"), 0)).toEqual([]);
    expect(c.push(thinking("t"), 1)).toEqual([text("a")]);
    expect(c.push(text("b", "m2"), 2)).toEqual([thinking("t")]);
    expect(c.push(tool, 3)).toEqual([text("b", "m2"), tool]);
    expect(c.push(tool, 4)).toEqual([tool]);
    expect(c.flushAll()).toEqual([]);
  });

  it("property: order is preserved and the text out equals the text in", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rng = mulberry32(seed);
      const c = new Coalescer({ windowMs: rng.int(1, 40), maxBytes: rng.int(4, 64) });
      const input: EventDraft[] = [];
      const output: EventDraft[] = [];
      let now = 0;
      for (let i = rng.int(0, 60); i > 0; i--) {
        now += rng.int(0, 15);
        output.push(...c.flushDue(now));
        const messageId = rng.pick(["m1", "m2"]);
        const draft: EventDraft = rng.chance(0.1)
          ? { kind: "usage", messageId, payload: { inputTokens: i, outputTokens: i } }
          : {
              kind: rng.pick(["text_delta", "thinking_delta"] as const),
              messageId,
              payload: { text: randomText(rng, 6) },
            };
        input.push(draft);
        output.push(...c.push(draft, now));
        const deadline = c.nextDeadline();
        if (deadline !== null) expect(deadline, `seed ${seed}`).toBeGreaterThan(now);
      }
      output.push(...c.flushAll());

      // Group maximal runs of same (kind, message): runs must match in order with the same text.
      const runs = (drafts: EventDraft[]) => {
        const out: Array<{ key: string; text: string }> = [];
        for (const d of drafts) {
          const key = `${d.kind}/${d.messageId}`;
          const t =
            d.kind === "text_delta" || d.kind === "thinking_delta" ? d.payload.text : `<${JSON.stringify(d.payload)}>`;
          const last = out.at(-1);
          if (last && last.key === key && !t.startsWith("<")) last.text += t;
          else out.push({ key, text: t });
        }
        return out;
      };
      expect(runs(output), `seed ${seed}`).toEqual(runs(input));
      for (const d of output) {
        if (d.kind === "usage") expect(input).toContain(d);
      }
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
