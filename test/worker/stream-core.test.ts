import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, createChat, signUp } from "./helpers";
import { append, conversation, openSse, openWs, room, until, untilReady } from "./stream-helpers";

const usage = (messageId: string, n: number) => ({
  kind: "usage",
  messageId,
  payload: { inputTokens: n, outputTokens: n },
});

describe("seq assignment", () => {
  it("gives 1..N with no gap or repeat under many concurrent appends, and N+1 after eviction", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const mid = crypto.randomUUID();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        append(chat.id, [usage(mid, i), usage(mid, i + 1000), usage(mid, i + 2000)]),
      ),
    );
    const ws = await openWs(session, chat.id, 0);
    const { events, head } = await untilReady(ws);
    ws.close();
    expect(head).toBe(120);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    const payloads = events.map((e) => (e.payload as { inputTokens: number }).inputTokens).sort((a, b) => a - b);
    expect(new Set(payloads).size).toBe(120);

    await evictDurableObject(room(chat.id));
    expect(await append(chat.id, [usage(mid, 9)])).toBe(121);
  });

  it("coalesces text deltas into fewer events without losing or reordering text", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const user = crypto.randomUUID();
    const assistant = crypto.randomUUID();
    const parts = Array.from({ length: 200 }, (_, i) => `tok${i} `);
    await append(chat.id, conversation(user, assistant, []).slice(0, 2));
    for (const text of parts) await append(chat.id, [{ kind: "text_delta", messageId: assistant, payload: { text } }]);
    await room(chat.id).flush(chat.id);
    const ws = await openWs(session, chat.id);
    const { events } = await untilReady(ws);
    ws.close();
    const deltas = events.filter((e) => e.kind === "text_delta");
    expect(deltas.length).toBeLessThan(parts.length);
    expect(deltas.map((e) => (e.payload as { text: string }).text).join("")).toBe(parts.join(""));
  });
});

describe("listeners", () => {
  it("replays, says ready, then streams live over WebSocket and SSE alike", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const a = crypto.randomUUID();
    await append(chat.id, [usage(a, 1), usage(a, 2)]);
    const ws = await openWs(session, chat.id, 0);
    const sse = await openSse(session, chat.id, { after: 0 });
    expect(sse.response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    for (const listener of [ws, sse]) {
      const replay = await untilReady(listener);
      expect(replay.events.map((e) => e.seq)).toEqual([1, 2]);
      expect(replay.head).toBe(2);
    }
    await append(chat.id, [usage(a, 3)]);
    for (const listener of [ws, sse]) expect((await until(listener, 3)).map((e) => e.seq)).toEqual([3]);
    ws.close();
    sse.close();
  });

  it("resumes from a cursor: ?after=, Last-Event-ID, and the larger of the two", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const a = crypto.randomUUID();
    await append(
      chat.id,
      [1, 2, 3, 4, 5].map((n) => usage(a, n)),
    );
    const ws = await openWs(session, chat.id, 3);
    expect((await untilReady(ws)).events.map((e) => e.seq)).toEqual([4, 5]);
    ws.close();
    const byHeader = await openSse(session, chat.id, { lastEventId: 2 });
    expect((await untilReady(byHeader)).events.map((e) => e.seq)).toEqual([3, 4, 5]);
    byHeader.close();
    const larger = await openSse(session, chat.id, { after: 1, lastEventId: 4 });
    expect((await untilReady(larger)).events.map((e) => e.seq)).toEqual([5]);
    larger.close();
  });

  it("sends reset and a full replay to a cursor ahead of the head", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const a = crypto.randomUUID();
    await append(chat.id, [usage(a, 1), usage(a, 2)]);
    for (const listener of [await openWs(session, chat.id, 50), await openSse(session, chat.id, { after: 50 })]) {
      const result = await untilReady(listener);
      expect(result.reset).toBe(true);
      expect(result.events.map((e) => e.seq)).toEqual([1, 2]);
      listener.close();
    }
  });

  it("replays the same envelopes from the events held in memory as from SQLite", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const [u1, a1, u2, a2] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    await append(chat.id, conversation(u1, a1, ["one ", "two"]));
    const replay = async (after: number) => {
      const ws = await openWs(session, chat.id, after);
      const { events } = await untilReady(ws);
      ws.close();
      return events;
    };
    const warm = await replay(0); // all committed by this instance: from memory
    // A fresh instance holds only what it commits itself; older seqs come from SQLite.
    await evictDurableObject(room(chat.id));
    const before = warm.length;
    const head = await append(chat.id, conversation(u2, a2, ["three"]));
    const cold = await replay(0);
    expect(cold.slice(0, before)).toEqual(warm);
    expect(cold.map((e) => e.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    expect(await replay(before)).toEqual(cold.slice(before)); // held in memory
    expect(await replay(before - 1)).toEqual(cold.slice(before - 1)); // reaches back past it: SQLite
    const sse = await openSse(session, chat.id, { after: before + 2 });
    expect((await untilReady(sse)).events).toEqual(cold.slice(before + 2));
    sse.close();
  });

  it("keeps listeners across eviction (hibernation): later events still arrive", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const a = crypto.randomUUID();
    await append(chat.id, [usage(a, 1)]);
    const ws = await openWs(session, chat.id, 0);
    const sse = await openSse(session, chat.id, { after: 0 });
    await untilReady(ws);
    await untilReady(sse);
    await evictDurableObject(room(chat.id));
    await append(chat.id, [usage(a, 2), usage(a, 3)]);
    expect((await until(ws, 3)).map((e) => e.seq)).toEqual([2, 3]);
    expect((await until(sse, 3)).map((e) => e.seq)).toEqual([2, 3]);
    ws.close();
    sse.close();
  });

  it("closes an SSE listener's bridge socket in the room once its client goes away", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    await append(chat.id, [usage(crypto.randomUUID(), 1)]);
    const sse = await openSse(session, chat.id, { after: 0 });
    await untilReady(sse);
    const bridges = () => runInDurableObject(room(chat.id), (_, state) => state.getWebSockets("sse").length);
    expect(await bridges()).toBe(1);
    sse.close();
    // The close travels client → Worker → room; each check is a turn of the room.
    let open = 1;
    for (let i = 0; i < 100 && open > 0; i++) open = await bridges();
    expect(open).toBe(0);
  });

  it("closes a WebSocket listener past its age (4001) before it sends more; the reconnect resumes, a revoked session's cannot", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const a = crypto.randomUUID();
    await append(chat.id, [usage(a, 1)]);
    const closeOf = (socket: WebSocket) =>
      new Promise<{ code: number; reason: string }>((resolve) =>
        socket.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })),
      );
    const ws = await openWs(session, chat.id, 0);
    const sse = await openSse(session, chat.id, { after: 0 });
    await untilReady(ws);
    await untilReady(sse);
    const closed = closeOf(ws.socket);
    const MAX_AGE = 5 * 60_000; // WS_MAX_MS's default (the tests do not set it)
    await room(chat.id).ageListeners(MAX_AGE - 1_000);
    await append(chat.id, [usage(a, 2)]);
    expect((await until(ws, 2)).map((e) => e.seq)).toEqual([2]);
    await room(chat.id).ageListeners(1_000);
    await append(chat.id, [usage(a, 3)]);
    expect(await closed).toEqual({ code: 4001, reason: "connected too long: reconnect" });
    expect(await ws.next()).toBeNull();
    // The SSE bridge is bounded by the Worker (SSE_MAX_MS), not here: it goes on.
    expect((await until(sse, 3)).map((e) => e.seq)).toEqual([2, 3]);
    // The reconnect is authenticated again and resumes from its cursor: nothing lost.
    const again = await openWs(session, chat.id, 2);
    expect((await untilReady(again)).events.map((e) => e.seq)).toEqual([3]);

    // After logout the next age check closes the listener, and it cannot come back.
    expect((await api("/api/auth/logout", { method: "POST", session })).status).toBe(204);
    await append(chat.id, [usage(a, 4)]);
    expect((await until(again, 4)).map((e) => e.seq)).toEqual([4]);
    const closedAgain = closeOf(again.socket);
    await room(chat.id).ageListeners(MAX_AGE);
    await append(chat.id, [usage(a, 5)]);
    expect((await closedAgain).code).toBe(4001);
    await expect(openWs(session, chat.id, 4)).rejects.toThrow(/no websocket: 401/);
    sse.close();
  });

  it("answers a ping with a pong and closes on any other frame", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const ws = await openWs(session, chat.id);
    await untilReady(ws);
    ws.socket.send('{"type":"ping"}');
    expect(await ws.next()).toEqual({ type: "pong" });
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.socket.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })),
    );
    ws.socket.send("not json at all");
    expect(await closed).toEqual({ code: 1003, reason: "unexpected frame" });
  });
});
