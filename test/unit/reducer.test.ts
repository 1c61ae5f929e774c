/**
 * The snapshot reducer: each rule, and the laws the Durable Object and the client rely on
 * (replay from scratch = incremental folding through stored JSON = folding with re-deliveries).
 */
import { describe, expect, it } from "vitest";
import type { Envelope, EventKind, EventPayloads, MessageSnapshot } from "../../worker/protocol";
import { messageSnapshotSchema, parseEnvelope, reduce, replay, snapshotText } from "../../worker/protocol";
import type { Rng } from "./prng";
import { mulberry32, randomText } from "./prng";

function ev<K extends EventKind>(seq: number, messageId: string | null, kind: K, payload: EventPayloads[K]): Envelope {
  return parseEnvelope({ chatId: "chat-1", seq, messageId, kind, payload, at: 1_000 + seq });
}

function fold(events: Envelope[]): MessageSnapshot {
  let s: MessageSnapshot | undefined;
  for (const e of events) s = reduce(s, e);
  if (s === undefined) throw new Error("no events");
  return s;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const A = "assistant-1";
const started = ev(2, A, "run_started", { userMessageId: "user-1", model: "sonnet" });

describe("reduce: rules", () => {
  it("user_message creates a completed user snapshot", () => {
    const s = reduce(
      undefined,
      ev(1, "user-1", "user_message", { content: "hi", assistantMessageId: A, source: "user" }),
    );
    expect(s).toEqual({
      messageId: "user-1",
      role: "user",
      status: "completed",
      content: "hi",
      blocks: [],
      error: null,
      cancelReason: null,
      usage: null,
      result: null,
      lastSeq: 1,
      createdSeq: 1,
      heldBytes: 0,
      omittedBytes: 0,
    });
    expect(snapshotText(s)).toBe("hi");
  });

  it("a later user_message replaces the text (an edit of a queued message), even though the message is completed", () => {
    const sent = reduce(
      undefined,
      ev(1, "user-1", "user_message", { content: "first", assistantMessageId: A, source: "user" }),
    );
    const edited = reduce(
      sent,
      ev(4, "user-1", "user_message", { content: "second", assistantMessageId: A, source: "user" }),
    );
    expect(edited).toMatchObject({ content: "second", status: "completed", createdSeq: 1, lastSeq: 4 });
    expect(sent.content).toBe("first");
  });

  it("message_queued creates a queued assistant snapshot; run_started moves it to streaming", () => {
    const q = reduce(undefined, ev(3, A, "message_queued", { userMessageId: "user-1", content: "later" }));
    expect(q).toMatchObject({ role: "assistant", status: "queued", content: "", createdSeq: 3, lastSeq: 3 });
    const s = reduce(q, ev(7, A, "run_started", { userMessageId: "user-1", model: "m" }));
    expect(s).toMatchObject({ status: "streaming", createdSeq: 3, lastSeq: 7 });
    expect(q.status).toBe("queued");
  });

  it("run_started creates a streaming snapshot when none exists", () => {
    expect(reduce(undefined, started)).toMatchObject({
      role: "assistant",
      status: "streaming",
      createdSeq: 2,
      lastSeq: 2,
    });
  });

  it("text and thinking deltas extend the last block of their type or open a new one", () => {
    const s = fold([
      started,
      ev(3, A, "text_delta", { text: "Hel" }),
      ev(4, A, "text_delta", { text: "lo" }),
      ev(5, A, "thinking_delta", { text: "hmm" }),
      ev(6, A, "thinking_delta", { text: "…" }),
      ev(7, A, "text_delta", { text: " world" }),
    ]);
    expect(s.blocks).toEqual([
      { type: "text", text: "Hello" },
      { type: "thinking", text: "hmm…" },
      { type: "text", text: " world" },
    ]);
    expect(s.content).toBe("");
    expect(snapshotText(s)).toBe("Hello world");
  });

  it("tool_started adds a card that tool_completed and tool_failed update by toolUseId", () => {
    const s = fold([
      started,
      ev(3, A, "tool_started", { toolUseId: "t1", name: "Bash", input: { command: "ls" } }),
      ev(4, A, "tool_started", { toolUseId: "t2", name: "Read", input: { path: "a" } }),
      ev(5, A, "tool_failed", { toolUseId: "t2", error: "ENOENT" }),
      ev(6, A, "tool_completed", { toolUseId: "t1", output: "a\nb", truncatedFromBytes: 9_999 }),
    ]);
    expect(s.blocks).toEqual([
      {
        type: "tool",
        toolUseId: "t1",
        name: "Bash",
        input: { command: "ls" },
        status: "completed",
        output: "a\nb",
        error: null,
        truncatedFromBytes: 9_999,
      },
      {
        type: "tool",
        toolUseId: "t2",
        name: "Read",
        input: { path: "a" },
        status: "failed",
        output: null,
        error: "ENOENT",
        truncatedFromBytes: null,
      },
    ]);
  });

  it("a tool result without a start adds a card named unknown", () => {
    const s = fold([started, ev(3, A, "tool_completed", { toolUseId: "t9", output: "ok" })]);
    expect(s.blocks).toEqual([
      {
        type: "tool",
        toolUseId: "t9",
        name: "unknown",
        input: null,
        status: "completed",
        output: "ok",
        error: null,
        truncatedFromBytes: null,
      },
    ]);
  });

  it("permission_requested adds a prompt that permission_resolved answers", () => {
    const asked = fold([
      started,
      ev(3, A, "permission_requested", {
        requestId: "r1",
        toolName: "Bash",
        input: { command: "rm" },
        toolUseId: "t1",
      }),
      ev(4, A, "permission_requested", { requestId: "r2", toolName: "Edit", input: {} }),
    ]);
    const answered = reduce(asked, ev(5, A, "permission_resolved", { requestId: "r1", decision: "deny", by: "user" }));
    expect(answered.blocks).toEqual([
      {
        type: "permission",
        requestId: "r1",
        toolName: "Bash",
        input: { command: "rm" },
        toolUseId: "t1",
        decision: "deny",
        by: "user",
      },
      { type: "permission", requestId: "r2", toolName: "Edit", input: {}, toolUseId: null, decision: null, by: null },
    ]);
    expect(asked.blocks[0]).toMatchObject({ decision: null });
  });

  it("usage: the latest wins", () => {
    const s = fold([
      started,
      ev(3, A, "usage", { inputTokens: 1, outputTokens: 2 }),
      ev(4, A, "usage", { inputTokens: 10, outputTokens: 20, costUsd: 0.5 }),
    ]);
    expect(s.usage).toEqual({ inputTokens: 10, outputTokens: 20, costUsd: 0.5 });
  });

  it("run_completed, run_failed and run_cancelled set the terminal status", () => {
    const done = fold([started, ev(3, A, "run_completed", { result: "x", durationMs: 12, numTurns: 2, costUsd: 0.1 })]);
    expect(done).toMatchObject({
      status: "completed",
      result: { durationMs: 12, numTurns: 2, costUsd: 0.1 },
      lastSeq: 3,
    });
    const failed = fold([started, ev(3, A, "run_failed", { code: "sandbox_lost", error: "the sandbox went away" })]);
    expect(failed).toMatchObject({
      status: "failed",
      error: { code: "sandbox_lost", message: "the sandbox went away" },
    });
    const cancelled = fold([started, ev(3, A, "run_cancelled", { reason: "user" })]);
    expect(cancelled).toMatchObject({ status: "cancelled", cancelReason: "user", lastSeq: 3 });
  });

  it("a queued message can be cancelled without ever streaming", () => {
    const s = fold([
      ev(3, A, "message_queued", { userMessageId: "user-1", content: "x" }),
      ev(5, A, "run_cancelled", { reason: "removed_from_queue" }),
    ]);
    expect(s).toMatchObject({ status: "cancelled", cancelReason: "removed_from_queue", createdSeq: 3, lastSeq: 5 });
  });

  it("ignores every event after a terminal one", () => {
    const done = fold([started, ev(3, A, "text_delta", { text: "a" }), ev(4, A, "run_cancelled", { reason: "user" })]);
    for (const late of [
      ev(5, A, "text_delta", { text: "b" }),
      ev(6, A, "run_completed", {}),
      ev(7, A, "run_started", { userMessageId: "user-1", model: "m" }),
    ]) {
      expect(reduce(done, late)).toBe(done);
    }
  });

  it("ignores an event whose seq is not above lastSeq", () => {
    const s = fold([started, ev(3, A, "text_delta", { text: "a" })]);
    expect(reduce(s, ev(3, A, "text_delta", { text: "a" }))).toBe(s);
    expect(reduce(s, ev(1, A, "text_delta", { text: "z" }))).toBe(s);
  });

  it("returns the snapshot unchanged for a chat-level event and throws for caller bugs", () => {
    const s = reduce(undefined, started);
    const queue = ev(9, null, "queue_updated", { items: [] });
    expect(reduce(s, queue)).toBe(s);
    expect(() => reduce(undefined, queue)).toThrow();
    expect(() => reduce(s, ev(10, "other", "text_delta", { text: "x" }))).toThrow();
  });

  it("never mutates its input", () => {
    const s = deepFreeze(fold([started, ev(3, A, "text_delta", { text: "a" })]));
    const next = reduce(s, deepFreeze(ev(4, A, "text_delta", { text: "b" })));
    expect(snapshotText(next)).toBe("ab");
    expect(snapshotText(s)).toBe("a");
  });

  it("stored snapshots validate, and bad ones do not", () => {
    const s = fold([started, ev(3, A, "tool_started", { toolUseId: "t", name: "Bash", input: { a: [1] } })]);
    expect(messageSnapshotSchema.parse(JSON.parse(JSON.stringify(s)))).toEqual(s);
    expect(messageSnapshotSchema.safeParse({ ...s, status: "done" }).success).toBe(false);
    expect(messageSnapshotSchema.safeParse({ ...s, blocks: [{ type: "text" }] }).success).toBe(false);
  });
});

type Script = { messageId: string; events: Array<(seq: number) => Envelope>; terminal: EventKind | null; text: string };

/** One assistant message's events in order, plus what its snapshot must end with. */
function messageScript(rng: Rng, n: number): Script[] {
  const user = `user-${n}`;
  const id = `assistant-${n}`;
  const events: Script["events"] = [];
  const scripts: Script[] = [];
  const content = randomText(rng, 8);
  if (rng.chance(0.4)) {
    events.push((seq) => ev(seq, id, "message_queued", { userMessageId: user, content }));
    if (rng.chance(0.2)) {
      events.push((seq) => ev(seq, id, "run_cancelled", { reason: "removed_from_queue" }));
      return [{ messageId: id, events, terminal: "run_cancelled", text: "" }];
    }
  }
  const userEvents = [
    (seq: number) => ev(seq, user, "user_message", { content, assistantMessageId: id, source: "user" }),
  ];
  scripts.push({ messageId: user, events: userEvents, terminal: null, text: content });
  events.push((seq) => ev(seq, id, "run_started", { userMessageId: user, model: "m" }));
  let text = "";
  const tools: string[] = [];
  const requests: string[] = [];
  const body = rng.int(0, 12);
  for (let i = 0; i < body; i++) {
    const choice = rng.int(0, 7);
    if (choice <= 2) {
      const t = randomText(rng, 6);
      text += t;
      events.push((seq) => ev(seq, id, "text_delta", { text: t }));
    } else if (choice === 3) {
      const t = randomText(rng, 6);
      events.push((seq) => ev(seq, id, "thinking_delta", { text: t }));
    } else if (choice === 4) {
      const toolUseId = `tool-${n}-${i}`;
      tools.push(toolUseId);
      events.push((seq) => ev(seq, id, "tool_started", { toolUseId, name: "Bash", input: { i } }));
    } else if (choice === 5 && tools.length > 0) {
      const toolUseId = rng.pick(tools);
      const output = randomText(rng, 5);
      events.push((seq) =>
        rng.chance(0.5)
          ? ev(seq, id, "tool_completed", { toolUseId, output })
          : ev(seq, id, "tool_failed", { toolUseId, error: output }),
      );
    } else if (choice === 6) {
      const requestId = `req-${n}-${i}`;
      requests.push(requestId);
      events.push((seq) => ev(seq, id, "permission_requested", { requestId, toolName: "Bash", input: null }));
    } else if (choice === 7 && requests.length > 0) {
      const requestId = rng.pick(requests);
      events.push((seq) => ev(seq, id, "permission_resolved", { requestId, decision: "allow", by: "user" }));
    } else {
      events.push((seq) => ev(seq, id, "usage", { inputTokens: i, outputTokens: i }));
    }
  }
  const terminal = rng.pick(["run_completed", "run_failed", "run_cancelled", null] as const);
  if (terminal === "run_completed") events.push((seq) => ev(seq, id, "run_completed", { durationMs: 5 }));
  if (terminal === "run_failed") events.push((seq) => ev(seq, id, "run_failed", { code: "boom", error: "boom" }));
  if (terminal === "run_cancelled") events.push((seq) => ev(seq, id, "run_cancelled", { reason: "user" }));
  if (terminal !== null && rng.chance(0.5)) {
    // A late delta (a race with cancellation) that the reducer must ignore.
    events.push((seq) => ev(seq, id, "text_delta", { text: "late" }));
  }
  scripts.push({ messageId: id, events, terminal, text });
  return scripts;
}

/** Interleaves the scripts randomly (each keeps its own order), adds chat-level events, numbers seqs. */
function randomChat(rng: Rng): { events: Envelope[]; scripts: Script[] } {
  const scripts = Array.from({ length: rng.int(1, 5) }, (_, n) => messageScript(rng, n)).flat();
  const cursors = scripts.map(() => 0);
  const events: Envelope[] = [];
  for (;;) {
    const open = scripts.flatMap((s, i) => ((cursors[i] ?? 0) < s.events.length ? [i] : []));
    if (open.length === 0) break;
    if (rng.chance(0.1)) events.push(ev(events.length + 1, null, "queue_updated", { items: [] }));
    const i = rng.pick(open);
    const make = scripts[i]?.events[cursors[i] ?? 0];
    if (make === undefined) throw new Error("unreachable");
    events.push(make(events.length + 1));
    cursors[i] = (cursors[i] ?? 0) + 1;
  }
  return { events: deepFreeze(events), scripts };
}

function withRedeliveries(rng: Rng, events: Envelope[]): Envelope[] {
  const out: Envelope[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e === undefined) continue;
    out.push(e);
    if (rng.chance(0.15)) out.push(...events.slice(rng.int(0, i), i + 1)); // a reconnect re-sends a prefix
    if (rng.chance(0.05)) out.push(e);
  }
  return out;
}

/** Folds in chunks, storing every snapshot as JSON between chunks as the DO does with D1. */
function foldThroughStorage(rng: Rng, events: Envelope[]): Map<string, MessageSnapshot> {
  let stored = new Map<string, string>();
  let i = 0;
  while (i < events.length) {
    const end = Math.min(events.length, i + rng.int(1, 10));
    const live = new Map<string, MessageSnapshot>();
    for (const [id, json] of stored) live.set(id, messageSnapshotSchema.parse(JSON.parse(json)));
    for (const e of events.slice(i, end)) {
      if (e.messageId === null) continue;
      live.set(e.messageId, deepFreeze(reduce(live.get(e.messageId), e)));
    }
    stored = new Map([...live].map(([id, s]) => [id, JSON.stringify(s)]));
    i = end;
  }
  return new Map([...stored].map(([id, json]) => [id, messageSnapshotSchema.parse(JSON.parse(json))]));
}

describe("reduce: laws (seeded property test)", () => {
  const statusOf = { run_completed: "completed", run_failed: "failed", run_cancelled: "cancelled" } as const;

  it("replay = incremental folding through storage = folding with re-deliveries; one terminal status", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rng = mulberry32(seed);
      const { events, scripts } = randomChat(rng);
      const fromScratch = replay(events);
      expect(foldThroughStorage(rng, events), `seed ${seed}`).toEqual(fromScratch);
      expect(replay(withRedeliveries(rng, events)), `seed ${seed}`).toEqual(fromScratch);

      for (const script of scripts) {
        const s = fromScratch.get(script.messageId);
        expect(s, `seed ${seed}`).toBeDefined();
        if (s === undefined) continue;
        expect(snapshotText(s), `seed ${seed}`).toBe(script.text);
        const own = events.filter((e) => e.messageId === script.messageId);
        expect(s.createdSeq).toBe(own[0]?.seq);
        if (script.messageId.startsWith("user-")) {
          expect(s.status).toBe("completed");
          continue;
        }
        if (script.terminal === null) {
          expect(s.status, `seed ${seed}`).toBe("streaming");
          expect(s.lastSeq).toBe(own.at(-1)?.seq);
        } else {
          expect(s.status, `seed ${seed}`).toBe(statusOf[script.terminal as keyof typeof statusOf]);
          expect(s.lastSeq, `seed ${seed}`).toBe(own.find((e) => e.kind === script.terminal)?.seq);
        }
      }
    }
  });
});
