import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, createChat, expectError, json, ORIGIN, signUp } from "./helpers";
import { append, openWs, room, untilReady } from "./stream-helpers";

type ErrorBody = { error: { code: string } };

describe("stream bad input", () => {
  const badCursors = ["-1", "abc", "1.5", "1e3", "99999999999999999999", "0x10", " 3"];

  it("rejects malformed cursors on every stream and history route with 400 invalid_cursor", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    for (const cursor of badCursors) {
      const q = encodeURIComponent(cursor);
      const routes = [
        SELF.fetch(`${ORIGIN}/api/chats/${chat.id}/ws?after=${q}`, {
          headers: { upgrade: "websocket", cookie: session.cookie },
        }),
        api(`/api/chats/${chat.id}/stream?after=${q}`, { session }),
        api(`/api/chats/${chat.id}/events?after=${q}`, { session }),
        api(`/api/chats/${chat.id}/messages?before=${q}`, { session }),
      ];
      for (const res of await Promise.all(routes)) {
        expect(res.status, `cursor ${JSON.stringify(cursor)}`).toBe(400);
        expect(res.webSocket).toBeNull();
        expect((await json<ErrorBody>(res)).error.code).toBe("invalid_cursor");
      }
    }
    const header = await api(`/api/chats/${chat.id}/stream`, { session, headers: { "last-event-id": "not-a-seq" } });
    await expectError(header, 400, "invalid_cursor");
  });

  it("rejects bad page sizes and unknown query fields", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    for (const path of [
      `/api/chats/${chat.id}/events?limit=0`,
      `/api/chats/${chat.id}/events?limit=5000`,
      `/api/chats/${chat.id}/events?from=3`,
      `/api/chats/${chat.id}/messages?limit=-2`,
    ]) {
      const res = await api(path, { session });
      await expectError(res, 400, "invalid_request", path);
    }
  });

  it("hides another user's chat on WebSocket, SSE and history routes (404, no socket)", async () => {
    const alice = await signUp();
    const bob = await signUp();
    const chat = await createChat(alice);
    const attempts = [
      SELF.fetch(`${ORIGIN}/api/chats/${chat.id}/ws`, { headers: { upgrade: "websocket", cookie: bob.cookie } }),
      api(`/api/chats/${chat.id}/stream`, { session: bob }),
      api(`/api/chats/${chat.id}/events`, { session: bob }),
      api(`/api/chats/${chat.id}/messages`, { session: bob }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(404);
      expect(res.webSocket).toBeNull();
      expect((await json<ErrorBody>(res)).error.code).toBe("chat_not_found");
    }
    const anonymous = await SELF.fetch(`${ORIGIN}/api/chats/${chat.id}/ws`, { headers: { upgrade: "websocket" } });
    expect(anonymous.status).toBe(401);
  });

  it("refuses a WebSocket without an upgrade (426) or from another site (403)", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const plain = await api(`/api/chats/${chat.id}/ws`, { session });
    await expectError(plain, 426, "upgrade_required");
    const foreign = await SELF.fetch(`${ORIGIN}/api/chats/${chat.id}/ws`, {
      headers: { upgrade: "websocket", cookie: session.cookie, origin: "https://evil.example" },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.webSocket).toBeNull();
  });

  it("rejects malformed events at the append surface and leaves the log untouched", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const m = crypto.randomUUID();
    await expect(append(chat.id, [{ kind: "no_such_kind", messageId: m, payload: {} }])).rejects.toThrow();
    await expect(append(chat.id, [{ kind: "text_delta", messageId: m, payload: { text: 42 } }])).rejects.toThrow();
    await expect(
      append(chat.id, [{ kind: "run_failed", messageId: m, payload: { code: "Not Snake", error: "x" } }]),
    ).rejects.toThrow();
    expect(await room(chat.id).head()).toBe(0);
  });

  it("cuts an oversized tool output to fit one event, with a visible marker and the full size", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const m = crypto.randomUUID();
    const output = "é".repeat(400 * 1024);
    await append(chat.id, [
      { kind: "tool_started", messageId: m, payload: { toolUseId: "t", name: "Bash", input: {} } },
      { kind: "tool_completed", messageId: m, payload: { toolUseId: "t", output } },
    ]);
    const ws = await openWs(session, chat.id, 0);
    const { events } = await untilReady(ws);
    ws.close();
    const done = events[1]?.payload as { output: string; truncatedFromBytes: number };
    expect(done.truncatedFromBytes).toBe(800 * 1024);
    expect(done.output).toMatch(/truncated/);
    expect(new TextEncoder().encode(JSON.stringify(done)).length).toBeLessThanOrEqual(256 * 1024);
  });
});
