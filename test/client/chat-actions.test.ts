import { describe, expect, it } from "vitest";
import { ApiError } from "../../client/src/api/http";
import type { ChatDetail, ChatSummary } from "../../client/src/api/schemas";
import { ChatActions } from "../../client/src/models/chat-actions";
import { ChatList } from "../../client/src/models/chat-list";
import { StreamStore } from "../../client/src/stream/store";
import { Events, FakeTransport } from "./fakes";

const chat = {
  id: "c1",
  title: "New chat",
  model: "m",
  permissionMode: "default" as const,
  createdAt: 1,
  updatedAt: 1,
};
const detail: ChatDetail = { chat, messages: [], hasMoreMessages: false, resumeAfter: 0, queue: [], olderReplies: [] };
const summary: ChatSummary = {
  ...chat,
  activity: { streaming: false, queued: 2, lastRun: "failed", lastMessageAt: 5 },
};
const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

function setup(
  sendResult: () => Promise<{ userMessageId: string; assistantMessageId: string; status: "started" | "queued" }>,
) {
  const t = new FakeTransport();
  const patches: unknown[] = [];
  const api = {
    getChat: async () => detail,
    listChats: async () => ({ chats: [summary], nextCursor: null }),
    createChat: async () => ({ chat }),
    updateChat: async (_id: string, patch: object) => {
      patches.push(patch);
      return { chat: { ...chat, ...patch } };
    },
    deleteChat: async () => null,
    send: sendResult,
    cancel: async () => ({ cancelled: true }),
    editQueued: async () => null,
    removeQueued: async () => {
      throw new ApiError(404, "not_queued", "No such queued message (it may have started already)");
    },
    sendNow: async () => null,
    answerPermission: async () => {
      throw new ApiError(409, "already_answered", "This permission request was already answered");
    },
  };
  const store = new StreamStore(api, t);
  const list = new ChatList(api, store);
  const actions = new ChatActions("c1", { api, store, list });
  return { t, store, list, actions, patches };
}

describe("chat actions and the chat list", () => {
  it("sending clears the draft, keeps the chat connected until the reply ends, and names an untitled chat", async () => {
    const { t, store, list, actions, patches } = setup(async () => ({
      userMessageId: "u1",
      assistantMessageId: "a1",
      status: "started",
    }));
    await list.refresh();
    store.open("c1");
    await flush();
    actions.draft.value = "Fix the failing build\nplease";
    expect(await actions.send()).toBe(true);
    expect(actions.draft.value).toBe("");
    expect(patches).toEqual([{ title: "Fix the failing build" }]);
    store.release("c1");
    t.advance(10_000);
    expect(store.isConnected("c1")).toBe(true);
    const e = new Events("c1");
    t.lastSocket.open();
    t.lastSocket.events(e.user("u1", "a1"), e.started("a1", "u1"), e.completed("a1"));
    t.advance(10_000);
    expect(store.isConnected("c1")).toBe(false);
  });

  it("a failed send keeps the draft and says why near the composer; other errors stay near their action", async () => {
    const { actions } = setup(async () => {
      throw new ApiError(429, "rate_limited", "Too many messages. Try again in 60 s.");
    });
    actions.draft.value = "hello";
    expect(await actions.send()).toBe(false);
    expect(actions.draft.value).toBe("hello");
    expect(actions.composerError.value).toBe("Too many messages. Try again in 60 s.");
    await actions.removeQueued("u9");
    expect(actions.queueError.value).toMatch(/No such queued message/);
    await actions.answer("r1", "allow");
    expect(actions.permissionErrors.value).toEqual({ r1: "This permission request was already answered" });
    expect(actions.answering.value.size).toBe(0);
  });

  it("a row shows the API's activity, and this page's live stream instead while it has one", async () => {
    const { t, store, list } = setup(async () => ({ userMessageId: "u", assistantMessageId: "a", status: "started" }));
    await list.refresh();
    const row = () => list.rowState(list.items.value[0] ?? summary);
    expect(row()).toMatchObject({ streaming: false, queued: 2, failed: true });
    store.open("c1");
    await flush();
    t.lastSocket.open();
    const e = new Events("c1");
    t.lastSocket.events(e.user("u1", "a1"), e.started("a1", "u1"));
    t.lastSocket.ready(2);
    expect(row()).toMatchObject({ streaming: true, queued: 0, failed: false });
  });
});
