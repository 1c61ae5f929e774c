import { describe, expect, it } from "vitest";
import { ApiError } from "../../client/src/api/http";
import type { ChatDetail } from "../../client/src/api/schemas";
import { LINGER_MS, StreamStore } from "../../client/src/stream/store";
import { type MessageSnapshot, snapshotText } from "../../worker/protocol/snapshot";
import { Events, FakeTransport } from "./fakes";

/** A message's text as the reducer keeps it (an assistant's text is in its blocks). */
const textOf = (snapshot: MessageSnapshot | undefined) => (snapshot ? snapshotText(snapshot) : undefined);

const detail = (id: string, resumeAfter = 0): ChatDetail => ({
  chat: { id, title: id, model: "m", permissionMode: "default", createdAt: 1, updatedAt: 1 },
  messages: [],
  hasMoreMessages: false,
  resumeAfter,
  queue: [],
  olderReplies: [],
});

/** An API whose getChat answers when the test says so (or at once). */
function fakeApi(opts: { manual?: boolean; resumeAfter?: number } = {}) {
  const pending: { id: string; resolve: () => void; reject: (e: unknown) => void }[] = [];
  const calls: string[] = [];
  let missing = new Set<string>();
  return {
    calls,
    pending,
    remove(id: string) {
      missing = new Set([...missing, id]);
    },
    getChat(id: string): Promise<ChatDetail> {
      calls.push(id);
      if (missing.has(id)) return Promise.reject(new ApiError(404, "chat_not_found", "No such chat"));
      if (!opts.manual) return Promise.resolve(detail(id, opts.resumeAfter));
      return new Promise((resolve, reject) => {
        pending.push({ id, resolve: () => resolve(detail(id, opts.resumeAfter)), reject });
      });
    },
  };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Connections per chat that are not gone yet (one still closing counts). */
function openPerChat(t: FakeTransport): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of [...t.sockets, ...t.sources]) {
    if ("gone" in s ? s.gone : s.closed) continue;
    const id = /\/api\/chats\/([^/]+)\//.exec(s.path)?.[1] ?? "?";
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe("stream store", () => {
  it("loads the snapshots, then streams from the seq they hold; ready makes it live", async () => {
    const t = new FakeTransport();
    const store = new StreamStore(fakeApi({ resumeAfter: 7 }), t);
    const state = store.open("c1");
    expect(state.connection.value).toBe("loading");
    await flush();
    expect(t.lastSocket.path).toBe("/api/chats/c1/ws?after=7");
    expect(state.connection.value).toBe("connecting");
    t.lastSocket.open();
    const e = new Events("c1", 7);
    t.lastSocket.events(e.user("u1", "a1"), e.started("a1", "u1"));
    t.lastSocket.ready(9);
    expect(state.connection.value).toBe("live");
    expect(state.cursor).toBe(9);
  });

  it("never holds two connections for one chat under rapid switching (a closing one counts)", async () => {
    const t = new FakeTransport();
    const api = fakeApi({ manual: true });
    const store = new StreamStore(api, t);
    const ids = ["a", "b", "c"];
    const check = () => {
      for (const count of openPerChat(t).values()) expect(count).toBeLessThanOrEqual(1);
    };
    for (let round = 0; round < 45; round++) {
      const id = ids[round % 3] as string;
      store.open(id);
      check();
      if (round % 4 === 0) for (const p of api.pending.splice(0)) p.resolve();
      await flush();
      for (const s of t.sockets) if (!s.closed && !s.gone) s.open();
      check();
      t.advance([0, 700, 2_900, LINGER_MS][round % 4] ?? 0);
      check();
      store.release(id);
      check();
      await flush();
      check();
    }
    // Each chat was loaded once however often it was opened.
    for (const p of api.pending.splice(0)) p.resolve();
    await flush();
    expect(api.calls.length).toBe(3);
    store.open("b");
    await flush();
    t.advance(LINGER_MS);
    await flush();
    expect([...openPerChat(t)]).toEqual([["b", 1]]);
    expect(store.openConnections.value).toBe(1);
  });

  it("a chat reopened while its last socket is still closing waits for that close", async () => {
    const t = new FakeTransport();
    const store = new StreamStore(fakeApi(), t);
    store.open("c1");
    await flush();
    const first = t.lastSocket;
    store.release("c1");
    t.advance(LINGER_MS);
    expect(first.closed).toBe(true);
    expect(first.gone).toBe(false);
    store.open("c1");
    expect(t.sockets).toHaveLength(1);
    await flush();
    expect(first.gone).toBe(true);
    expect(t.sockets).toHaveLength(2);
    expect(t.openCount()).toBe(1);
  });

  it("flipping away and back within the linger time keeps the one connection", async () => {
    const t = new FakeTransport();
    const store = new StreamStore(fakeApi(), t);
    store.open("c1");
    await flush();
    for (let i = 0; i < 5; i++) {
      store.release("c1");
      t.advance(LINGER_MS - 100);
      store.open("c1");
    }
    expect(t.sockets).toHaveLength(1);
    expect(t.openCount()).toBe(1);
  });

  it("keeps a running chat streaming after its view goes, then disconnects at its end; reopening resumes from the cursor", async () => {
    const t = new FakeTransport();
    const api = fakeApi();
    const store = new StreamStore(api, t);
    const state = store.open("c1");
    await flush();
    const first = t.lastSocket;
    first.open();
    const e = new Events("c1");
    first.events(e.user("u1", "a1"), e.started("a1", "u1"), e.text("a1", "cached "));
    first.ready(3);
    store.release("c1");
    store.open("c2");
    await flush();
    expect(first.closed).toBe(false);
    first.events(e.text("a1", "background "));
    first.events(e.completed("a1"));
    // Idle and not shown: it goes after the linger time.
    t.advance(LINGER_MS);
    expect(first.closed).toBe(true);
    expect(store.isConnected("c1")).toBe(false);
    expect(state.message("a1")?.peek()).toMatchObject({ status: "completed" });
    expect(textOf(state.message("a1")?.peek())).toBe("cached background ");
    store.release("c2");
    // Back to it: the cached state is shown at once and the stream resumes; no reload.
    expect(store.open("c1")).toBe(state);
    await flush();
    expect(t.lastSocket.path).toBe("/api/chats/c1/ws?after=5");
    expect(api.calls.filter((id) => id === "c1")).toHaveLength(1);
    // A replay overlapping what is cached changes nothing.
    t.lastSocket.events(e.text("a1", "late"));
    expect(textOf(state.message("a1")?.peek())).toBe("cached background ");
  });

  it("an idle chat disconnects when its view goes; a listed chat gets no connection", async () => {
    const t = new FakeTransport();
    const store = new StreamStore(fakeApi(), t);
    store.open("c1");
    await flush();
    store.release("c1");
    t.advance(LINGER_MS);
    await flush();
    expect(t.openCount()).toBe(0);
    expect(store.peek("listed-only")).toBeUndefined();
    expect(t.sockets.every((s) => !s.path.includes("listed-only"))).toBe(true);
  });

  it("a message sent just before leaving keeps the chat connected until its reply ends", async () => {
    const t = new FakeTransport();
    const store = new StreamStore(fakeApi(), t);
    store.open("c1");
    await flush();
    t.lastSocket.open();
    t.lastSocket.ready(0);
    store.expect("c1", "a1");
    store.release("c1");
    expect(store.isConnected("c1")).toBe(true);
    const e = new Events("c1");
    t.lastSocket.events(e.user("u1", "a1"), e.started("a1", "u1"));
    t.advance(LINGER_MS);
    expect(store.isConnected("c1")).toBe(true);
    t.lastSocket.events(e.completed("a1"));
    t.advance(LINGER_MS);
    expect(store.isConnected("c1")).toBe(false);
  });

  it("reconnects with backoff from the last applied seq; replayed duplicates are dropped; stale sockets are ignored", async () => {
    const t = new FakeTransport();
    const store = new StreamStore(fakeApi(), t);
    const state = store.open("c1");
    await flush();
    const e = new Events("c1");
    const evs = [e.user("u1", "a1"), e.started("a1", "u1"), e.text("a1", "one "), e.text("a1", "two ")];
    const first = t.lastSocket;
    first.open();
    first.events(...evs.slice(0, 3));
    first.ready(3);
    first.drop();
    expect(state.connection.value).toBe("reconnecting");
    expect(t.sockets).toHaveLength(1);
    t.advance(1000);
    const second = t.lastSocket;
    expect(second.path).toBe("/api/chats/c1/ws?after=3");
    // A late frame from the old socket is ignored.
    first.events(e.text("a1", "stale"));
    second.open();
    second.events(...evs.slice(1));
    second.ready(4);
    expect(textOf(state.message("a1")?.peek())).toBe("one two ");
    expect(state.connection.value).toBe("live");
  });

  it("a live socket closed for its age (4001) reconnects at once from the cursor, without showing reconnecting", async () => {
    const t = new FakeTransport();
    const store = new StreamStore(fakeApi(), t);
    const state = store.open("c1");
    await flush();
    const e = new Events("c1");
    t.lastSocket.open();
    t.lastSocket.events(e.user("u1", "a1"), e.started("a1", "u1"));
    t.lastSocket.ready(2);
    const statuses: string[] = [];
    const stop = state.connection.subscribe((s) => statuses.push(s));
    t.lastSocket.drop(4001);
    expect(t.sockets).toHaveLength(2);
    expect(t.lastSocket.path).toBe("/api/chats/c1/ws?after=2");
    t.lastSocket.open();
    t.lastSocket.events(e.text("a1", "more"));
    t.lastSocket.ready(3);
    stop();
    expect(statuses).toEqual(["live"]);
    expect(textOf(state.message("a1")?.peek())).toBe("more");
    // One closed so before it ever got to ready (a server that keeps closing) backs off instead.
    t.lastSocket.drop(4001);
    expect(t.sockets).toHaveLength(3);
    t.lastSocket.drop(4001);
    expect(t.sockets).toHaveLength(3);
    expect(state.connection.value).toBe("reconnecting");
    t.advance(350);
    expect(t.sockets).toHaveLength(3);
    t.advance(400);
    expect(t.sockets).toHaveLength(4);
  });

  it("backs off longer after each failure, and retries at once when the network returns", async () => {
    const t = new FakeTransport();
    const store = new StreamStore(fakeApi(), t);
    store.open("c1");
    await flush();
    t.lastSocket.open();
    t.lastSocket.ready(0);
    for (const wait of [500, 1000, 2000, 4000]) {
      t.lastSocket.drop();
      const count = t.sockets.length;
      t.advance(wait * 0.99);
      expect(t.sockets.length).toBe(count);
      t.advance(wait * 0.02);
      await flush(); // from the third failure on, the store first asks the API whether the chat exists
      expect(t.sockets.length).toBe(count + 1);
      t.lastSocket.open();
    }
    t.lastSocket.drop();
    const count = t.sockets.length;
    store.retryAll();
    expect(t.sockets.length).toBe(count + 1);
  });

  it("falls back to SSE when WebSockets never open, resuming from the cursor", async () => {
    const t = new FakeTransport();
    const store = new StreamStore(fakeApi({ resumeAfter: 2 }), t);
    const state = store.open("c1");
    await flush();
    t.lastSocket.drop(1006);
    t.advance(1000);
    expect(t.sources).toHaveLength(1);
    const source = t.sources[0];
    expect(source?.path).toBe("/api/chats/c1/stream?after=2");
    const e = new Events("c1", 2);
    source?.onopen?.();
    source?.emit("user_message", e.user("u1", "a1"));
    source?.emit("run_started", e.started("a1", "u1"));
    source?.emit("ready", { head: 4 });
    expect(state.connection.value).toBe("live");
    expect(state.timeline.value).toEqual(["u1", "a1"]);
    expect(store.isConnected("c1")).toBe(true);
    expect(t.openCount()).toBe(1);
  });

  it("a reset frame drops the chat's state before the full replay", async () => {
    const t = new FakeTransport();
    const store = new StreamStore(fakeApi({ resumeAfter: 50 }), t);
    const state = store.open("c1");
    await flush();
    t.lastSocket.open();
    t.lastSocket.frame({ type: "reset", head: 2 });
    const e = new Events("c1");
    t.lastSocket.events(e.user("u1", "a1"), e.started("a1", "u1"));
    t.lastSocket.ready(2);
    expect(state.cursor).toBe(2);
    expect(state.timeline.value).toEqual(["u1", "a1"]);
  });

  it("a gap resumes from the cursor; a deleted chat (4404) is gone and not retried", async () => {
    const t = new FakeTransport();
    const store = new StreamStore(fakeApi(), t);
    const state = store.open("c1");
    await flush();
    const e = new Events("c1");
    const [u, s] = [e.user("u1", "a1"), e.started("a1", "u1")];
    t.lastSocket.open();
    t.lastSocket.events(u);
    t.lastSocket.events(e.text("a1", "skipped ahead"));
    await flush();
    t.advance(1000);
    expect(t.lastSocket.path).toBe("/api/chats/c1/ws?after=1");
    t.lastSocket.open();
    t.lastSocket.events(s);
    expect(state.cursor).toBe(2);
    t.lastSocket.drop(4404);
    t.advance(60_000);
    expect(state.connection.value).toBe("gone");
    expect(t.openCount()).toBe(0);
    expect(store.isConnected("c1")).toBe(false);
  });

  it("a socket that stops answering pings is replaced", async () => {
    const t = new FakeTransport();
    const store = new StreamStore(fakeApi(), t);
    store.open("c1");
    await flush();
    const socket = t.lastSocket;
    socket.open();
    socket.ready(0);
    t.advance(25_000);
    expect(socket.sent).toEqual(['{"type":"ping"}']);
    socket.frame({ type: "pong" });
    t.advance(25_000);
    expect(socket.sent).toHaveLength(2);
    t.advance(10_000);
    expect(socket.closed).toBe(true);
    await flush();
    t.advance(1_000);
    expect(t.sockets).toHaveLength(2);
  });

  it("after repeated failures it asks the API whether the chat still exists", async () => {
    const t = new FakeTransport();
    const api = fakeApi();
    const store = new StreamStore(api, t);
    const state = store.open("c1");
    await flush();
    t.lastSocket.open();
    t.lastSocket.ready(0);
    api.remove("c1");
    for (let i = 0; i < 3; i++) {
      t.lastSocket.drop();
      t.advance(20_000);
      await flush();
    }
    expect(state.connection.value).toBe("gone");
    expect(t.openCount()).toBe(0);
  });
});
