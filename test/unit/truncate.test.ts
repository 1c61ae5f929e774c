/**
 * Event size limits: every draft `fitDraft` returns fits the limit, cut text never splits a code
 * point and carries a visible marker with the original size, split deltas rejoin exactly, and the
 * byte arithmetic agrees with TextEncoder and JSON.stringify.
 */
import { describe, expect, it } from "vitest";
import { eventByteSize, fitDraft } from "../../worker/chat/truncate";
import type { EventDraft } from "../../worker/protocol";
import { parseDraft } from "../../worker/protocol";
import { cutAtBytes, jsonStringBytes, utf8ByteLength } from "../../worker/protocol/utf8";
import { mulberry32, randomText } from "./prng";

const encoder = new TextEncoder();
const bytes = (s: string) => encoder.encode(s).length;
const LIMIT = 1_000;

/** No lone surrogate: the cut never lands inside a pair. */
function wellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

function onlyOne(drafts: EventDraft[]): EventDraft {
  expect(drafts).toHaveLength(1);
  const [d] = drafts;
  if (d === undefined) throw new Error("no draft");
  return d;
}

describe("utf8 arithmetic", () => {
  it("agrees with TextEncoder and JSON.stringify, lone surrogates included", () => {
    const rng = mulberry32(7);
    for (let i = 0; i < 500; i++) {
      const s = randomText(rng, 30) + (rng.chance(0.1) ? "\uD83D" : "") + (rng.chance(0.1) ? "x\uDE00" : "");
      expect(utf8ByteLength(s)).toBe(bytes(s));
      expect(jsonStringBytes(s)).toBe(bytes(JSON.stringify(s)) - 2);
    }
  });

  it("cuts at code point boundaries", () => {
    expect(cutAtBytes("a€b", 2)).toEqual(["a", "€b"]);
    expect(cutAtBytes("a€b", 4)).toEqual(["a€", "b"]);
    expect(cutAtBytes("😀😀", 7)).toEqual(["😀", "😀"]);
    expect(cutAtBytes('a"b', 2, "json")).toEqual(["a", '"b']);
  });
});

describe("fitDraft", () => {
  it("returns a draft that fits unchanged", () => {
    const d: EventDraft = { kind: "tool_completed", messageId: "m", payload: { toolUseId: "t", output: "ok" } };
    expect(fitDraft(d, LIMIT)).toEqual([d]);
    expect(fitDraft(d)[0]).toBe(d);
  });

  it("cuts a large tool output with a marker and the original byte count, at every boundary", () => {
    // Multi-byte characters of every width, shifted so the cut lands at each offset inside one.
    for (const filler of ["é", "€", "😀", '"', "\n", "\u0001"]) {
      for (let shift = 0; shift < 4; shift++) {
        const output = "x".repeat(shift) + filler.repeat(2_000);
        const original = bytes(output);
        const d = onlyOne(
          fitDraft({ kind: "tool_completed", messageId: "m", payload: { toolUseId: "t", output } }, LIMIT),
        );
        if (d.kind !== "tool_completed") throw new Error("kind changed");
        expect(eventByteSize(d)).toBeLessThanOrEqual(LIMIT);
        expect(eventByteSize(d)).toBeGreaterThan(LIMIT - 60);
        expect(d.payload.truncatedFromBytes).toBe(original);
        expect(wellFormed(d.payload.output)).toBe(true);
        const match = /\n… \[output truncated: showing (\d+) of (\d+) bytes; the full output is in the sandbox\]$/.exec(
          d.payload.output,
        );
        expect(match).not.toBeNull();
        const kept = d.payload.output.slice(0, match?.index);
        expect(output.startsWith(kept)).toBe(true);
        expect(Number(match?.[1])).toBe(bytes(kept));
        expect(Number(match?.[2])).toBe(original);
        expect(parseDraft(d)).toEqual(d);
        expect(eventByteSize(d)).toBe(bytes(JSON.stringify(d)));
      }
    }
  });

  it("keeps an earlier truncation's original size", () => {
    const d = onlyOne(
      fitDraft(
        {
          kind: "tool_failed",
          messageId: "m",
          payload: { toolUseId: "t", error: "e".repeat(5_000), truncatedFromBytes: 9_000_000 },
        },
        LIMIT,
      ),
    );
    if (d.kind !== "tool_failed") throw new Error("kind changed");
    expect(d.payload.truncatedFromBytes).toBe(9_000_000);
    expect(d.payload.error).toMatch(
      /\[error truncated: showing \d+ of 9000000 bytes; the full output is in the sandbox\]$/,
    );
    expect(eventByteSize(d)).toBeLessThanOrEqual(LIMIT);
  });

  it("splits a large text delta into pieces that fit and rejoin exactly", () => {
    const rng = mulberry32(3);
    for (let i = 0; i < 50; i++) {
      const text = randomText(rng, 3_000);
      const kind = rng.pick(["text_delta", "thinking_delta"] as const);
      const parts = fitDraft({ kind, messageId: "m", payload: { text } }, LIMIT);
      let joined = "";
      for (const p of parts) {
        if (p.kind !== kind) throw new Error("kind changed");
        expect(eventByteSize(p)).toBeLessThanOrEqual(LIMIT);
        expect(wellFormed(p.payload.text)).toBe(true);
        expect(p.messageId).toBe("m");
        joined += p.payload.text;
      }
      expect(joined).toBe(text);
    }
  });

  it("replaces a huge tool or permission input with a preview", () => {
    const input = { command: "echo 😀".repeat(1_000) };
    const json = JSON.stringify(input);
    for (const draft of [
      { kind: "tool_started", messageId: "m", payload: { toolUseId: "t", name: "Bash", input } },
      {
        kind: "permission_requested",
        messageId: "m",
        payload: { requestId: "r", toolName: "Bash", input, toolUseId: "t" },
      },
    ] satisfies EventDraft[]) {
      const d = onlyOne(fitDraft(draft, LIMIT));
      if (d.kind !== "tool_started" && d.kind !== "permission_requested") throw new Error("kind changed");
      expect(eventByteSize(d)).toBeLessThanOrEqual(LIMIT);
      const preview = d.payload.input as { truncated: boolean; preview: string; bytes: number };
      expect(preview.truncated).toBe(true);
      expect(preview.bytes).toBe(bytes(json));
      expect(json.startsWith(preview.preview)).toBe(true);
      expect(preview.preview.length).toBeGreaterThan(100);
    }
  });

  it("cuts other long texts (user message, failure, queue) with a marker", () => {
    const long = "ü".repeat(3_000);
    const drafts: EventDraft[] = [
      { kind: "user_message", messageId: "u", payload: { content: long, assistantMessageId: "a", source: "user" } },
      { kind: "message_queued", messageId: "a", payload: { content: long, userMessageId: "u" } },
      { kind: "run_failed", messageId: "a", payload: { code: "boom", error: long } },
      { kind: "run_completed", messageId: "a", payload: { result: long } },
      {
        kind: "queue_updated",
        messageId: null,
        payload: {
          items: [1, 2, 3].map((n) => ({
            userMessageId: `u${n}`,
            assistantMessageId: `a${n}`,
            content: n === 2 ? "short" : long,
          })),
        },
      },
    ];
    for (const draft of drafts) {
      const d = onlyOne(fitDraft(draft, LIMIT));
      expect(eventByteSize(d)).toBeLessThanOrEqual(LIMIT);
      expect(JSON.stringify(d)).toMatch(/truncated: showing \d+ of 6000 bytes/);
      expect(parseDraft(d)).toEqual(d);
    }
  });

  it("throws when even a cut cannot fit", () => {
    const d: EventDraft = {
      kind: "tool_completed",
      messageId: "m",
      payload: { toolUseId: "t".repeat(2_000), output: "x" },
    };
    expect(() => fitDraft(d, LIMIT)).toThrow();
  });

  it("uses 256 KiB by default", () => {
    const output = "y".repeat(300 * 1024);
    const d = onlyOne(fitDraft({ kind: "tool_completed", messageId: "m", payload: { toolUseId: "t", output } }));
    expect(eventByteSize(d)).toBeLessThanOrEqual(256 * 1024);
    expect(eventByteSize(d)).toBeGreaterThan(256 * 1024 - 100);
  });
});
