import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Envelope } from "../../worker/protocol/events";
import { type MessageSnapshot, replay, snapshotText } from "../../worker/protocol/snapshot";
import { api, createChat, json, must, type Session, signUp } from "./helpers";
import { append, conversation, openWs, room, untilReady } from "./stream-helpers";

async function doLog(session: Session, chatId: string): Promise<Envelope[]> {
  const ws = await openWs(session, chatId, 0);
  const { events } = await untilReady(ws);
  ws.close();
  return events;
}

async function d1Events(chatId: string) {
  const rows = await env.DB.prepare(
    "SELECT seq, message_id, kind, payload, created_at FROM chat_events WHERE chat_id = ? ORDER BY seq",
  )
    .bind(chatId)
    .all<{ seq: number; message_id: string | null; kind: string; payload: string; created_at: number }>();
  return rows.results.map((r) => ({
    chatId,
    seq: r.seq,
    messageId: r.message_id,
    kind: r.kind,
    payload: JSON.parse(r.payload) as unknown,
    at: r.created_at,
  }));
}

async function d1Messages(chatId: string) {
  const rows = await env.DB.prepare(
    "SELECT id, status, last_seq, content_render, error FROM messages WHERE chat_id = ?",
  )
    .bind(chatId)
    .all<{ id: string; status: string; last_seq: number; content_render: string; error: string | null }>();
  return new Map(rows.results.map((r) => [r.id, r]));
}

describe("durability: DO SQLite first, D1 in batches", () => {
  it("after a flush, D1 chat_events equals the DO log and each snapshot equals the replay of its events", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const [u1, a1, u2, a2] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    // Quotes, backslashes, control characters and non-ASCII text must reach D1 byte for byte.
    await append(chat.id, conversation(u1, a1, ["Hello", ", ", 'w"o\\r\u0001l\nd ü 🎉']));
    await append(chat.id, conversation(u2, a2, ["Second"]).slice(0, 4));
    await append(chat.id, [{ kind: "run_failed", messageId: a2, payload: { code: "model_error", error: "boom" } }]);
    await room(chat.id).flush(chat.id);

    const log = await doLog(session, chat.id);
    expect(await d1Events(chat.id)).toEqual(log);
    const rawPayloads = await env.DB.prepare("SELECT payload FROM chat_events WHERE chat_id = ? ORDER BY seq")
      .bind(chat.id)
      .all<{ payload: string }>();
    expect(rawPayloads.results.map((r) => r.payload)).toEqual(log.map((e) => JSON.stringify(e.payload)));

    const expected = replay(log);
    const stored = await d1Messages(chat.id);
    expect(stored.size).toBe(4);
    for (const [id, snapshot] of expected) {
      const row = stored.get(id);
      expect(JSON.parse(row?.content_render ?? "null")).toEqual(snapshot);
      expect(row?.status).toBe(snapshot.status);
      expect(row?.last_seq).toBe(log.filter((e) => e.messageId === id).at(-1)?.seq);
    }
    expect(stored.get(a1)?.status).toBe("completed");
    expect(stored.get(a2)).toMatchObject({ status: "failed", error: "boom" });
    const a2Snapshot = JSON.parse(stored.get(a2)?.content_render ?? "{}") as MessageSnapshot;
    expect(snapshotText(a2Snapshot)).toBe("Second");

    // The same history through the API, without waking the DO.
    const page = await json<{ events: Envelope[] }>(
      await api(`/api/chats/${chat.id}/events?after=0&limit=1000`, { session }),
    );
    expect(page.events).toEqual(log);
    const messages = await json<{ messages: { id: string; snapshot: MessageSnapshot }[] }>(
      await api(`/api/chats/${chat.id}/messages`, { session }),
    );
    expect(messages.messages.map((m) => m.id)).toEqual([u1, a1, u2, a2]);
    expect(messages.messages[1]?.snapshot).toEqual(expected.get(a1));
  });

  it("writes D1 on its own: at once on a terminal event, by alarm otherwise", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const [u, a] = [crypto.randomUUID(), crypto.randomUUID()];
    await append(chat.id, conversation(u, a, ["x"]).slice(0, 2));
    expect(await runDurableObjectAlarm(room(chat.id))).toBe(true);
    expect((await d1Events(chat.id)).map((e) => e.seq)).toEqual([1, 2]);
    await append(chat.id, [{ kind: "run_cancelled", messageId: a, payload: { reason: "user" } }]);
    // The terminal event's flush runs right after the append; wait for it through the DO's turn.
    for (let i = 0; i < 50 && (await d1Events(chat.id)).length < 3; i++) await room(chat.id).head();
    expect((await d1Events(chat.id)).map((e) => e.kind)).toEqual(["user_message", "run_started", "run_cancelled"]);
    expect((await d1Messages(chat.id)).get(a)?.status).toBe("cancelled");
  });

  it("rebuilds snapshots after eviction from their checkpoints and the log, whatever was flushed", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const [u1, a1, u2, a2] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    const first = conversation(u1, a1, ["one ", "two ", "three"]);
    const second = conversation(u2, a2, ["alpha ", "beta"]);
    // a1 half flushed (a checkpoint), then more of it; a2 started but never flushed; then eviction.
    await append(chat.id, first.slice(0, 3));
    await room(chat.id).flush(chat.id);
    await append(chat.id, first.slice(3, 4));
    await append(chat.id, second.slice(0, 3));
    await evictDurableObject(room(chat.id));
    // Both messages go on in a fresh instance that must fold onto what it rebuilds.
    await append(chat.id, [...first.slice(4), ...second.slice(3)]);
    await room(chat.id).flush(chat.id);

    const log = await doLog(session, chat.id);
    const expected = replay(log);
    const stored = await d1Messages(chat.id);
    for (const id of [u1, a1, u2, a2]) {
      expect(JSON.parse(stored.get(id)?.content_render ?? "null")).toEqual(expected.get(id));
    }
    expect(expected.get(a1)).toMatchObject({ status: "completed" });
    expect(snapshotText(must(expected.get(a1)))).toBe("one two three");
    expect(expected.get(a2)).toMatchObject({ status: "completed" });
    expect(snapshotText(must(expected.get(a2)))).toBe("alpha beta");
    // A finished message rebuilt from its checkpoint alone after another eviction.
    await evictDurableObject(room(chat.id));
    await append(chat.id, [{ kind: "text_delta", messageId: a1, payload: { text: " ignored" } }]);
    await room(chat.id).flush(chat.id);
    expect(JSON.parse((await d1Messages(chat.id)).get(a1)?.content_render ?? "null")).toEqual(expected.get(a1));
  });

  it("retries a failed D1 write only after its backoff, whatever wakes the object, and loses nothing", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const [u, a, u2, a2] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    // A real D1 failure, scoped to this chat: a trigger that aborts its inserts.
    const trigger = `fail_${chat.id.replaceAll("-", "")}`;
    await env.DB.prepare(
      `CREATE TRIGGER ${trigger} BEFORE INSERT ON chat_events WHEN NEW.chat_id = '${chat.id}' BEGIN SELECT RAISE(ABORT, 'injected D1 failure'); END`,
    ).run();
    await append(chat.id, conversation(u, a, ["partial ", "answer"])); // its terminal event flushes at once: fails
    await room(chat.id).flush(chat.id); // and a second failure: the backoff doubles
    expect(await d1Events(chat.id)).toEqual([]);
    expect((await d1Messages(chat.id)).size).toBe(0); // same batch: no snapshot ahead of its events

    // D1 works again, but the backoff has not passed: neither the alarm (which the watchdog also
    // uses) nor another terminal event may write to D1 before it does.
    await env.DB.prepare(`DROP TRIGGER ${trigger}`).run();
    expect(await runDurableObjectAlarm(room(chat.id))).toBe(true);
    await append(chat.id, conversation(u2, a2, ["more"]));
    expect(await d1Events(chat.id)).toEqual([]);

    // After the backoff, the alarm catches up with everything.
    for (let i = 0; i < 200 && (await d1Events(chat.id)).length === 0; i++) {
      await runDurableObjectAlarm(room(chat.id));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const log = await doLog(session, chat.id);
    expect(await d1Events(chat.id)).toEqual(log);
    expect((await d1Messages(chat.id)).get(a)?.status).toBe("completed");
    expect((await d1Messages(chat.id)).get(a2)?.status).toBe("completed");
  });

  it("deleting a chat removes its D1 rows and its DO storage, and closes its listeners", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const [u, a] = [crypto.randomUUID(), crypto.randomUUID()];
    await append(chat.id, conversation(u, a, ["bye"]));
    await room(chat.id).flush(chat.id);
    const ws = await openWs(session, chat.id, 0);
    await untilReady(ws);
    const closed = new Promise<number>((resolve) => ws.socket.addEventListener("close", (e) => resolve(e.code)));
    expect((await api(`/api/chats/${chat.id}`, { session, method: "DELETE" })).status).toBe(204);
    expect(await closed).toBe(4404);
    expect(await d1Events(chat.id)).toEqual([]);
    expect(await room(chat.id).head()).toBe(0);
  });
});
