import { describe, expect, it } from "vitest";
import type { ChatDetail } from "../../client/src/api/schemas";
import { ChatState } from "../../client/src/models/chat-state";
import type { Envelope } from "../../worker/protocol/events";
import { type MessageSnapshot, replay, snapshotText } from "../../worker/protocol/snapshot";
import { Events } from "./fakes";

/** A message's text as the reducer keeps it (an assistant's text is in its blocks). */
const textOf = (snapshot: MessageSnapshot | undefined) => (snapshot ? snapshotText(snapshot) : undefined);

const chat = { id: "c1", title: "t", model: "m", permissionMode: "default" as const, createdAt: 1, updatedAt: 1 };

function snapshotsOf(state: ChatState, ids: Iterable<string>) {
  return new Map([...ids].map((id) => [id, state.message(id)?.peek()]));
}

/** The detail `GET /api/chats/:id` would answer once D1 holds the events up to `upTo`. */
function detailAt(events: Envelope[], upTo: number, queue: ChatDetail["queue"] = []): ChatDetail {
  const snapshots = replay(events.filter((e) => e.seq <= upTo));
  const pairs = new Map<string, string>();
  for (const e of events)
    if (e.seq <= upTo && e.kind === "user_message") pairs.set(e.messageId ?? "", e.payload.assistantMessageId);
  return {
    chat,
    messages: [...snapshots.values()].map((snapshot) => ({
      id: snapshot.messageId,
      role: snapshot.role,
      createdAt: 1,
      snapshot,
      assistantMessageId: pairs.get(snapshot.messageId) ?? null,
    })),
    hasMoreMessages: false,
    resumeAfter: upTo,
    queue,
    olderReplies: [],
  };
}

describe("chat state", () => {
  it("folds events with the protocol reducer; a repeated or older seq is never applied twice", () => {
    const e = new Events("c1");
    const events = [e.user("u1", "a1"), e.started("a1", "u1"), e.text("a1", "Hel"), e.text("a1", "lo")];
    const state = new ChatState("c1");
    expect(state.apply(events)).toBe("ok");
    expect(state.apply(events)).toBe("ok");
    expect(state.apply([events[2] as Envelope, events[1] as Envelope])).toBe("ok");
    expect(textOf(state.message("a1")?.peek())).toBe("Hello");
    expect(state.cursor).toBe(4);
    expect(snapshotsOf(state, ["u1", "a1"])).toEqual(replay(events));
  });

  it("reports a gap instead of applying past it", () => {
    const e = new Events("c1");
    const [u, s, t] = [e.user("u1", "a1"), e.started("a1", "u1"), e.text("a1", "x")];
    const state = new ChatState("c1");
    expect(state.apply([u, t])).toBe("gap");
    expect(state.cursor).toBe(1);
    expect(state.message("a1")).toBeUndefined();
    expect(state.apply([s, t])).toBe("ok");
    expect(textOf(state.message("a1")?.peek())).toBe("x");
  });

  it("snapshots from the API, then the stream after resumeAfter, equal the replay of the whole log", () => {
    const e = new Events("c1");
    const log = [
      e.user("u1", "a1"),
      e.started("a1", "u1"),
      e.text("a1", "one "),
      e.text("a1", "two "),
      e.completed("a1"),
      e.user("u2", "a2"),
      e.started("a2", "u2"),
      e.text("a2", "three "),
      e.text("a2", "four"),
      e.completed("a2"),
    ];
    for (let upTo = 0; upTo <= log.length; upTo++) {
      const state = new ChatState("c1");
      state.loadDetail(detailAt(log, upTo));
      // The stream sends everything after the cursor; an old cursor would resend, which is dropped.
      state.apply(log.filter((ev) => ev.seq > upTo - 2));
      expect(snapshotsOf(state, ["u1", "a1", "u2", "a2"])).toEqual(replay(log));
      expect(state.timeline.value).toEqual(["u1", "a1", "u2", "a2"]);
    }
  });

  it("a later load never overwrites what the stream already built (no first-chunk overwrite)", () => {
    const e = new Events("c1");
    const log = [e.user("u1", "a1"), e.started("a1", "u1"), e.text("a1", "cached "), e.text("a1", "and live")];
    const state = new ChatState("c1");
    state.loadDetail(detailAt(log, 2));
    state.apply(log.slice(2));
    // A reload of the detail, older than what the stream gave (D1 trails the log).
    state.loadDetail(detailAt(log, 3));
    expect(textOf(state.message("a1")?.peek())).toBe("cached and live");
    expect(state.cursor).toBe(4);
  });

  it("terminal events end streaming; a failed message keeps its partial content and error", () => {
    const e = new Events("c1");
    const state = new ChatState("c1");
    state.apply([e.user("u1", "a1"), e.started("a1", "u1"), e.text("a1", "partial")]);
    expect(state.streaming.value).toEqual(["a1"]);
    expect(state.busy.value).toBe(true);
    state.apply([e.failed("a1", "model_error", "The model said no")]);
    expect(state.streaming.value).toEqual([]);
    expect(state.busy.value).toBe(false);
    const failed = state.message("a1")?.peek();
    expect(failed).toMatchObject({ status: "failed", error: { code: "model_error" } });
    expect(textOf(failed)).toBe("partial");
    expect(state.timeline.value).toEqual(["u1", "a1"]);
    expect(state.finished.value).toMatchObject({ messageId: "a1", status: "failed" });
    expect(state.lastRun.value?.status).toBe("failed");
    expect(state.promptOf("a1")?.content).toBe("hi");
  });

  it("queue updates: queued replies stay off the timeline, appear after their prompt once started", () => {
    const e = new Events("c1");
    const state = new ChatState("c1");
    const item = { userMessageId: "u2", assistantMessageId: "a2", content: "second" };
    const gone = { userMessageId: "u3", assistantMessageId: "a3", content: "third" };
    state.apply([e.user("u1", "a1"), e.started("a1", "u1"), e.text("a1", "working")]);
    state.apply([
      e.queued("a2", "u2", "second"),
      e.queue([item]),
      e.queued("a3", "u3", "third"),
      e.queue([item, gone]),
    ]);
    expect(state.queue.value).toEqual([item, gone]);
    expect(state.timeline.value).toEqual(["u1", "a1"]);
    state.apply([e.cancelled("a3", "removed_from_queue"), e.queue([item])]);
    state.apply([e.completed("a1"), e.queue([]), e.user("u2", "a2", "second"), e.started("a2", "u2")]);
    expect(state.queue.value).toEqual([]);
    // a2 was created (queued) before u2, but reads after it; the removed a3 never shows.
    expect(state.timeline.value).toEqual(["u1", "a1", "u2", "a2"]);
    expect(state.streaming.value).toEqual(["a2"]);
  });

  it("a prompt sent while a run streams is in the log at once: off the timeline while queued, in history once it runs or is removed", () => {
    const e = new Events("c1");
    const state = new ChatState("c1");
    const item = { userMessageId: "u2", assistantMessageId: "a2", content: "second" };
    const gone = { userMessageId: "u3", assistantMessageId: "a3", content: "third" };
    state.apply([e.user("u1", "a1"), e.started("a1", "u1"), e.text("a1", "working")]);
    // The server appends each queued prompt's user message first, then its queued reply.
    state.apply([
      e.user("u2", "a2", "second"),
      e.queued("a2", "u2", "second"),
      e.queue([item]),
      e.user("u3", "a3", "third"),
      e.queued("a3", "u3", "third"),
      e.queue([item, gone]),
    ]);
    expect(state.timeline.value).toEqual(["u1", "a1"]);
    // Removed from the queue: the prompt stays in the history, as sent.
    state.apply([e.cancelled("a3", "removed_from_queue"), e.queue([item])]);
    expect(state.timeline.value).toEqual(["u1", "a1", "u3", "a3"]);
    state.apply([e.completed("a1"), e.queue([]), e.started("a2", "u2")]);
    expect(state.timeline.value).toEqual(["u1", "a1", "u2", "a2", "u3", "a3"]);
    expect(state.streaming.value).toEqual(["a2"]);
  });

  it("reset drops the chat's state and takes the replay from seq 1", () => {
    const e = new Events("c1");
    const state = new ChatState("c1");
    state.apply([e.user("u1", "a1"), e.started("a1", "u1"), e.text("a1", "old")]);
    state.reset();
    expect(state.cursor).toBe(0);
    expect(state.timeline.value).toEqual([]);
    const fresh = new Events("c1");
    state.apply([fresh.user("u9", "a9"), fresh.started("a9", "u9")]);
    expect(state.timeline.value).toEqual(["u9", "a9"]);
  });

  it("a reply older than the page sits with its prompt without moving where older pages start", () => {
    const e = new Events("c1");
    const log = [
      e.user("u0", "a0"),
      e.started("a0", "u0"),
      e.queued("a1", "u1", "later"),
      e.completed("a0"),
      e.user("u1", "a1", "later"),
      e.started("a1", "u1"),
      e.completed("a1"),
    ];
    const full = detailAt(log, 7);
    const reply = full.messages.find((m) => m.id === "a1");
    const page = full.messages.filter((m) => m.id === "u1");
    const state = new ChatState("c1");
    state.loadDetail({ ...full, messages: page, olderReplies: reply ? [reply] : [], hasMoreMessages: true });
    expect(state.timeline.value).toEqual(["u1", "a1"]);
    expect(state.oldestSeq).toBe(5);
  });

  it("older pages add missing messages and keep newer ones", () => {
    const e = new Events("c1");
    const log = [
      e.user("u1", "a1"),
      e.started("a1", "u1"),
      e.completed("a1"),
      e.user("u2", "a2"),
      e.started("a2", "u2"),
    ];
    const state = new ChatState("c1");
    const latest = detailAt(log, 5);
    state.loadDetail({ ...latest, messages: latest.messages.slice(2), hasMoreMessages: true });
    expect(state.hasOlder.value).toBe(true);
    expect(state.oldestSeq).toBe(4);
    state.addOlder({ messages: detailAt(log, 3).messages, nextBefore: null });
    expect(state.timeline.value).toEqual(["u1", "a1", "u2", "a2"]);
    expect(state.hasOlder.value).toBe(false);
  });
});
