import { describe, expect, it } from "vitest";
import type { Envelope } from "../../worker/protocol/events";
import { type MessageSnapshot, reduce, replay, snapshotText } from "../../worker/protocol/snapshot";
import { api, createChat, json, type Session, signUp } from "./helpers";
import { append, conversation, openWs, room, untilReady } from "./stream-helpers";

type MessageView = {
  id: string;
  role: "user" | "assistant";
  status: string;
  lastSeq: number;
  snapshot: MessageSnapshot;
  assistantMessageId: string | null;
};
type QueueItem = { userMessageId: string; assistantMessageId: string; content: string };
type ChatBody = {
  messages: MessageView[];
  hasMoreMessages: boolean;
  resumeAfter: number;
  queue: QueueItem[];
  olderReplies: MessageView[];
};
type Activity = { streaming: boolean; queued: number; lastRun: string | null; lastMessageAt: number | null };
type ListBody = { chats: { id: string; activity: Activity }[] };

const id = () => crypto.randomUUID();

async function getChat(session: Session, chatId: string): Promise<ChatBody> {
  const res = await api(`/api/chats/${chatId}`, { session });
  expect(res.status).toBe(200);
  return json<ChatBody>(res);
}

async function fullLog(session: Session, chatId: string): Promise<Envelope[]> {
  const ws = await openWs(session, chatId, 0);
  const { events } = await untilReady(ws);
  ws.close();
  return events;
}

/** What a client does: the snapshots it loaded, then every event after `resumeAfter`, through the reducer. */
function resume(body: ChatBody, log: Envelope[]): Map<string, MessageSnapshot> {
  const state = new Map(body.messages.map((m) => [m.id, m.snapshot]));
  for (const event of log) {
    if (event.seq <= body.resumeAfter || event.messageId === null) continue;
    state.set(event.messageId, reduce(state.get(event.messageId), event));
  }
  return state;
}

function queueDrafts(items: QueueItem[]) {
  return { kind: "queue_updated", messageId: null, payload: { items } };
}

describe("GET /api/chats/:chatId: the seq its snapshots are consistent with", () => {
  it("is 0 before D1 holds anything and the head after a flush; snapshots never pass it", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    // No terminal event: nothing is flushed to D1 until asked (or the cadence's alarm, a second away).
    await append(chat.id, conversation(id(), id(), ["one", "two"]).slice(0, -1));
    expect((await getChat(session, chat.id)).resumeAfter).toBe(0);
    const { head } = await room(chat.id).flush(chat.id);
    const body = await getChat(session, chat.id);
    expect(body.resumeAfter).toBe(head);
    for (const m of body.messages) expect(m.snapshot.lastSeq).toBeLessThanOrEqual(body.resumeAfter);
  });

  it("snapshots + the stream after resumeAfter equal the replay of the whole log, while the chat streams and flushes", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const reads: ChatBody[] = [];
    const writer = (async () => {
      for (let round = 0; round < 6; round++) {
        const [u, a] = [id(), id()];
        const events = conversation(u, a, [`r${round} a`, `r${round} b`, `r${round} c`]);
        for (const [i, draft] of events.entries()) {
          // Non-delta events between deltas keep them from merging, so each is its own seq.
          await append(chat.id, [draft]);
          if (i % 3 === round % 3) await room(chat.id).flush(chat.id);
        }
      }
    })();
    const reader = (async () => {
      for (let i = 0; i < 12; i++) reads.push(await getChat(session, chat.id));
    })();
    await Promise.all([writer, reader]);
    await room(chat.id).flush(chat.id);
    reads.push(await getChat(session, chat.id));

    const log = await fullLog(session, chat.id);
    const expected = replay(log);
    const positions = new Set(reads.map((r) => r.resumeAfter));
    expect(positions.size).toBeGreaterThan(2);
    for (const body of reads) {
      // Exactly the events up to resumeAfter, no more and no fewer.
      const asOf = replay(log.filter((e) => e.seq <= body.resumeAfter));
      for (const m of body.messages) expect(m.snapshot).toEqual(asOf.get(m.id));
      expect(body.messages.length).toBe(asOf.size);
      expect(resume(body, log)).toEqual(expected);
    }
  });

  it("pairs each user message with its reply, also on older pages and for a reply queued before its prompt started", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const [u1, a1, u2, a2] = [id(), id(), id(), id()];
    await append(chat.id, conversation(u1, a1, ["first"]).slice(0, 3));
    // The second message is queued while the first streams: its reply exists before its prompt.
    await append(chat.id, [
      { kind: "message_queued", messageId: a2, payload: { userMessageId: u2, content: "second" } },
      queueDrafts([{ userMessageId: u2, assistantMessageId: a2, content: "second" }]),
    ]);
    await append(chat.id, conversation(u1, a1, ["first"]).slice(3));
    await append(chat.id, [queueDrafts([]), ...conversation(u2, a2, ["second reply"])]);
    await room(chat.id).flush(chat.id);

    const body = await getChat(session, chat.id);
    const byId = new Map(body.messages.map((m) => [m.id, m]));
    expect(byId.get(u1)?.assistantMessageId).toBe(a1);
    expect(byId.get(u2)?.assistantMessageId).toBe(a2);
    expect(byId.get(a2)?.assistantMessageId).toBeNull();
    // The reply was created (queued) before its prompt: pairing is what orders them.
    expect(byId.get(a2)?.snapshot.createdSeq).toBeLessThan(byId.get(u2)?.snapshot.createdSeq ?? 0);

    const older = await api(`/api/chats/${chat.id}/messages?limit=1&before=${byId.get(a2)?.snapshot.createdSeq}`, {
      session,
    });
    const page = await json<{ messages: MessageView[] }>(older);
    expect(page.messages.map((m) => [m.id, m.assistantMessageId])).toEqual([[a1, null]]);
    const users = await api(`/api/chats/${chat.id}/messages?limit=100`, { session });
    const all = (await json<{ messages: MessageView[] }>(users)).messages.filter((m) => m.role === "user");
    expect(all.map((m) => m.assistantMessageId)).toEqual([a1, a2]);
  });

  it("adds the replies of prompts on the page that are older than the page (a log written before queued prompts were logged when sent)", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const [u0, a0, u1] = [id(), id(), id()];
    const queued = Array.from({ length: 51 }, () => id());
    await append(chat.id, conversation(u0, a0, ["busy"]).slice(0, 3));
    // 51 replies queued while the first runs: created now, long before their prompts start.
    for (const a of queued) {
      await append(chat.id, [{ kind: "message_queued", messageId: a, payload: { userMessageId: id(), content: "q" } }]);
    }
    const first = queued[0] ?? "";
    await append(chat.id, [
      { kind: "run_completed", messageId: a0, payload: {} },
      ...conversation(u1, first, ["first queued, now done"]),
    ]);
    await room(chat.id).flush(chat.id);
    const body = await getChat(session, chat.id);
    expect(body.hasMoreMessages).toBe(true);
    const prompt = body.messages.find((m) => m.id === u1);
    expect(prompt?.assistantMessageId).toBe(first);
    expect(body.messages.some((m) => m.id === first)).toBe(false);
    expect(body.olderReplies.map((m) => [m.id, snapshotText(m.snapshot), m.snapshot.status])).toEqual([
      [first, "first queued, now done", "completed"],
    ]);
    // A page whose replies are all on it needs none.
    const plain = await createChat(session);
    await append(plain.id, conversation(id(), id(), ["x"]));
    await room(plain.id).flush(plain.id);
    expect((await getChat(session, plain.id)).olderReplies).toEqual([]);
  });

  it("returns the queue as of resumeAfter, and an empty one once nothing is queued", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const [u1, a1, u2, a2, u3, a3] = [id(), id(), id(), id(), id(), id()];
    const q2 = { userMessageId: u2, assistantMessageId: a2, content: "two" };
    const q3 = { userMessageId: u3, assistantMessageId: a3, content: "three" };
    expect((await getChat(session, chat.id)).queue).toEqual([]);
    await append(chat.id, conversation(u1, a1, ["working"]).slice(0, 3));
    await append(chat.id, [
      { kind: "message_queued", messageId: a2, payload: { userMessageId: u2, content: "two" } },
      queueDrafts([q2]),
      { kind: "message_queued", messageId: a3, payload: { userMessageId: u3, content: "three" } },
      queueDrafts([q2, q3]),
    ]);
    await room(chat.id).flush(chat.id);
    expect((await getChat(session, chat.id)).queue).toEqual([q2, q3]);

    // Edited in place, then not yet flushed: the read stays at the flushed state.
    await append(chat.id, [queueDrafts([q2, { ...q3, content: "three, edited" }])]);
    expect((await getChat(session, chat.id)).queue).toEqual([q2, q3]);
    await room(chat.id).flush(chat.id);
    expect((await getChat(session, chat.id)).queue).toEqual([q2, { ...q3, content: "three, edited" }]);

    // Both leave the queue (one removed, one started): empty, though older queue events exist.
    await append(chat.id, [
      { kind: "run_cancelled", messageId: a3, payload: { reason: "removed_from_queue" } },
      queueDrafts([q2]),
      { kind: "run_completed", messageId: a1, payload: {} },
      queueDrafts([]),
      ...conversation(u2, a2, ["two done"]),
    ]);
    await room(chat.id).flush(chat.id);
    expect((await getChat(session, chat.id)).queue).toEqual([]);
  });
});

describe("GET /api/chats: the state of each chat's runs", () => {
  async function activityOf(session: Session, chatId: string): Promise<Activity | undefined> {
    const body = await json<ListBody>(await api("/api/chats?limit=100", { session }));
    return body.chats.find((c) => c.id === chatId)?.activity;
  }

  it("says streaming, how many are queued, and how the last finished run ended", async () => {
    const session = await signUp();
    const idle = await createChat(session);
    expect(await activityOf(session, idle.id)).toEqual({
      streaming: false,
      queued: 0,
      lastRun: null,
      lastMessageAt: null,
    });

    const busy = await createChat(session);
    const [u1, a1, u2, a2, u3, a3] = [id(), id(), id(), id(), id(), id()];
    await append(busy.id, conversation(u1, a1, ["done"]));
    await append(busy.id, conversation(u2, a2, ["partial"]).slice(0, 3));
    await append(busy.id, [{ kind: "message_queued", messageId: a3, payload: { userMessageId: u3, content: "x" } }]);
    await room(busy.id).flush(busy.id);
    const streaming = await activityOf(session, busy.id);
    expect(streaming).toMatchObject({ streaming: true, queued: 1, lastRun: "completed" });
    expect(streaming?.lastMessageAt).toBeGreaterThan(0);

    await append(busy.id, [{ kind: "run_failed", messageId: a2, payload: { code: "model_error", error: "no" } }]);
    await room(busy.id).flush(busy.id);
    expect(await activityOf(session, busy.id)).toMatchObject({ streaming: false, queued: 1, lastRun: "failed" });
    // Another chat's runs are not counted here.
    expect((await activityOf(session, idle.id))?.streaming).toBe(false);
  });

  it("is present on every row of every page", async () => {
    const session = await signUp();
    for (let i = 0; i < 3; i++) await createChat(session);
    const body = await json<ListBody & { nextCursor: string }>(await api("/api/chats?limit=2", { session }));
    expect(body.chats.every((c) => c.activity.queued === 0)).toBe(true);
    const next = await json<ListBody>(await api(`/api/chats?limit=2&cursor=${body.nextCursor}`, { session }));
    expect(next.chats).toHaveLength(1);
    expect(next.chats[0]?.activity).toBeDefined();
  });
});
