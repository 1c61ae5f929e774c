import { describe, expect, it } from "vitest";
import { api, createChat, expectError, json, signUp } from "./helpers";

type ChatBody = { chat: { id: string; title: string; model: string; permissionMode: string } };
type ListBody = { chats: { id: string; title: string }[]; nextCursor: string | null };

describe("chats", () => {
  it("creates with defaults and with given settings", async () => {
    const session = await signUp();
    const plain = await api("/api/chats", { session, body: {} });
    expect(plain.status).toBe(201);
    expect((await json<ChatBody>(plain)).chat).toMatchObject({ title: "New chat", permissionMode: "default" });
    const custom = await api("/api/chats", {
      session,
      body: { title: "  Fix the build  ", model: "claude-opus-4-1", permissionMode: "acceptEdits" },
    });
    expect((await json<ChatBody>(custom)).chat).toMatchObject({
      title: "Fix the build",
      model: "claude-opus-4-1",
      permissionMode: "acceptEdits",
    });
  });

  it("creates with an empty body (no JSON at all)", async () => {
    const session = await signUp();
    const res = await api("/api/chats", { session, method: "POST" });
    expect(res.status).toBe(201);
  });

  it("lists newest first in cursor pages that cover every chat exactly once", async () => {
    const session = await signUp();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await createChat(session, { title: `chat ${i}` })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `/api/chats?limit=3${cursor ? `&cursor=${cursor}` : ""}`;
      const page: ListBody = await json<ListBody>(await api(path, { session }));
      expect(page.chats.length).toBeLessThanOrEqual(3);
      seen.push(...page.chats.map((c) => c.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen)).toEqual(new Set(ids));
    const all = (await json<{ chats: { createdAt: number }[] }>(await api("/api/chats?limit=100", { session }))).chats;
    const times = all.map((c) => c.createdAt);
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it("gets one chat with its (empty) message history", async () => {
    const session = await signUp();
    const chat = await createChat(session, { title: "hello" });
    const res = await api(`/api/chats/${chat.id}`, { session });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      chat: { id: chat.id, title: "hello" },
      messages: [],
      hasMoreMessages: false,
    });
  });

  it("renames and reconfigures, and deletes", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const patched = await api(`/api/chats/${chat.id}`, {
      session,
      method: "PATCH",
      body: { title: "Renamed", permissionMode: "plan" },
    });
    expect(patched.status).toBe(200);
    expect((await json<ChatBody>(patched)).chat).toMatchObject({ title: "Renamed", permissionMode: "plan" });
    expect((await json<ChatBody>(await api(`/api/chats/${chat.id}`, { session }))).chat.title).toBe("Renamed");
    expect((await api(`/api/chats/${chat.id}`, { session, method: "DELETE" })).status).toBe(204);
    expect((await api(`/api/chats/${chat.id}`, { session })).status).toBe(404);
    expect((await api(`/api/chats/${chat.id}`, { session, method: "DELETE" })).status).toBe(404);
  });

  it("hides one user's chats from another on every route (404, never 403)", async () => {
    const alice = await signUp();
    const bob = await signUp();
    const chat = await createChat(alice, { title: "private" });
    const attempts = [
      api(`/api/chats/${chat.id}`, { session: bob }),
      api(`/api/chats/${chat.id}`, { session: bob, method: "PATCH", body: { title: "mine now" } }),
      api(`/api/chats/${chat.id}`, { session: bob, method: "DELETE" }),
    ];
    for (const res of await Promise.all(attempts)) {
      await expectError(res, 404, "chat_not_found");
    }
    expect((await json<ListBody>(await api("/api/chats", { session: bob }))).chats).toEqual([]);
    const still = await json<ChatBody>(await api(`/api/chats/${chat.id}`, { session: alice }));
    expect(still.chat.title).toBe("private");
  });
});
