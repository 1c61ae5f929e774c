/**
 * Controlling runs through the API: the queue (order, edit, remove), send-now, one run per chat
 * under simultaneous sends, cancel during a tool call, and permission prompts answered once.
 * Real worker, Durable Object, reference provider, Claude Code CLI and scripted model.
 */
import { describe, expect, it } from "vitest";
import type { Envelope } from "../../worker/protocol/events";
import { snapshotText } from "../../worker/protocol/snapshot";
import { api, createChat, expectError, json, must, signUp } from "./helpers";
import {
  faultRule,
  modelRequests,
  proxiedChat,
  script,
  send,
  slow,
  storedSnapshot,
  terminalCounts,
  text,
  Watcher,
} from "./run-helpers";

const startedOrder = (events: Envelope[]) => events.filter((e) => e.kind === "run_started").map((e) => e.messageId);

describe("queue and send-now", () => {
  it("runs one message at a time: simultaneous sends give one started and one queued, then both run", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const a = await script([slow("first answer, streaming for a while", 800)]);
    const b = await script([{ blocks: [{ type: "text", text: "second answer" }] }]);
    const watcher = await Watcher.open(session, chat.id);
    const [x, y] = await Promise.all([
      send(session, chat.id, `${a.marker} one`),
      send(session, chat.id, `${b.marker} two`),
    ]);
    expect([x.status, y.status].sort()).toEqual(["queued", "started"]);
    const [first, second] = x.status === "started" ? [x, y] : [y, x];
    expect((await watcher.terminalOf(first.assistantMessageId)).kind).toBe("run_completed");
    expect((await watcher.terminalOf(second.assistantMessageId)).kind).toBe("run_completed");
    const queued = watcher.of(second.assistantMessageId)[0];
    expect(queued?.kind).toBe("message_queued");
    // The second run starts only after the first ended.
    const firstEnd = (await watcher.terminalOf(first.assistantMessageId)).seq;
    const secondStart = watcher.of(second.assistantMessageId).find((e) => e.kind === "run_started")?.seq ?? 0;
    expect(secondStart).toBeGreaterThan(firstEnd);
    watcher.close();
  });

  it("keeps queue order, applies edits, and never runs a removed message", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const blocker = await script([slow("blocking the chat for a moment so others queue", 1500)]);
    const s2 = await script([{ blocks: [{ type: "text", text: "two" }] }]);
    const s3 = await script([{ blocks: [{ type: "text", text: "three" }] }]);
    const s4 = await script([{ blocks: [{ type: "text", text: "four" }] }]);
    const watcher = await Watcher.open(session, chat.id);
    const m1 = await send(session, chat.id, `${blocker.marker} first`);
    const m2 = await send(session, chat.id, `${s2.marker} second`);
    const m3 = await send(session, chat.id, `${s3.marker} third`);
    const m4 = await send(session, chat.id, `${s4.marker} fourth`);
    expect([m2.status, m3.status, m4.status]).toEqual(["queued", "queued", "queued"]);

    const queue = await json<{ items: { userMessageId: string; content: string }[] }>(
      await api(`/api/chats/${chat.id}/queue`, { session }),
    );
    expect(queue.items.map((i) => i.userMessageId)).toEqual([m2.userMessageId, m3.userMessageId, m4.userMessageId]);

    const edited = await api(`/api/chats/${chat.id}/queue/${m2.userMessageId}`, {
      session,
      method: "PATCH",
      body: { content: `${s2.marker} second, edited` },
    });
    expect(edited.status).toBe(200);
    expect((await api(`/api/chats/${chat.id}/queue/${m3.userMessageId}`, { session, method: "DELETE" })).status).toBe(
      204,
    );
    expect((await api(`/api/chats/${chat.id}/queue/${m3.userMessageId}`, { session, method: "DELETE" })).status).toBe(
      404,
    );

    expect((await watcher.terminalOf(m4.assistantMessageId)).kind).toBe("run_completed");
    expect(startedOrder(watcher.events)).toEqual([m1.assistantMessageId, m2.assistantMessageId, m4.assistantMessageId]);
    for (const m of [m1, m2, m3, m4])
      expect(await terminalCounts(chat.id, m.assistantMessageId)).toEqual({ log: 1, d1: 1 });
    expect((await watcher.terminalOf(m3.assistantMessageId)).payload).toEqual({ reason: "removed_from_queue" });
    // The removed message stays in the history as sent; only its answer was cancelled.
    expect(watcher.of(m3.userMessageId).map((e) => [e.kind, (e.payload as { content: string }).content])).toEqual([
      ["user_message", `${s3.marker} third`],
    ]);
    // The edit is in the log as the user's message again; its snapshot (history) shows the edited text.
    const sent = watcher.of(m2.userMessageId).map((e) => (e.payload as { content: string }).content);
    expect(sent).toEqual([`${s2.marker} second`, `${s2.marker} second, edited`]);
    expect((await storedSnapshot(chat.id, m2.userMessageId))?.content).toBe(`${s2.marker} second, edited`);
    expect((await modelRequests(s2.id))[0]?.lastUserText).toContain("second, edited");
    expect(await json(await api(`/api/chats/${chat.id}/queue`, { session }))).toEqual({ items: [] });
    watcher.close();
  });

  it("keeps history in order (each user message before its answer) and keeps a removed message's text", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const blocker = await script([slow("holding the chat while two more queue up", 1500)]);
    const s2 = await script([{ blocks: [{ type: "text", text: "answer two" }] }]);
    const watcher = await Watcher.open(session, chat.id);
    const m1 = await send(session, chat.id, `${blocker.marker} one`);
    const m2 = await send(session, chat.id, `${s2.marker} two`);
    const m3 = await send(session, chat.id, "three, removed before it runs");
    expect([m2.status, m3.status]).toEqual(["queued", "queued"]);
    expect((await api(`/api/chats/${chat.id}/queue/${m3.userMessageId}`, { session, method: "DELETE" })).status).toBe(
      204,
    );
    expect((await watcher.terminalOf(m2.assistantMessageId)).kind).toBe("run_completed");
    await storedSnapshot(chat.id, m2.assistantMessageId); // flushed to D1
    const history = await json<{
      messages: { id: string; role: string; status: string; snapshot: { content: string } }[];
    }>(await api(`/api/chats/${chat.id}/messages`, { session }));
    expect(history.messages.map((m) => m.id)).toEqual([
      m1.userMessageId,
      m1.assistantMessageId,
      m2.userMessageId,
      m2.assistantMessageId,
      m3.userMessageId,
      m3.assistantMessageId,
    ]);
    const removed = history.messages.slice(4);
    expect(removed.map((m) => [m.role, m.status])).toEqual([
      ["user", "completed"],
      ["assistant", "cancelled"],
    ]);
    expect(removed[0]?.snapshot.content).toBe("three, removed before it runs");
    watcher.close();
  });

  it("send-now cancels the running message and starts the chosen one before the rest of the queue", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const long = await script([slow("a long answer that will be interrupted by send-now", 4000)]);
    const q1 = await script([{ blocks: [{ type: "text", text: "queued first" }] }]);
    const q2 = await script([{ blocks: [{ type: "text", text: "chosen one" }] }]);
    const watcher = await Watcher.open(session, chat.id);
    const m1 = await send(session, chat.id, `${long.marker} long`);
    const m2 = await send(session, chat.id, `${q1.marker} q1`);
    const m3 = await send(session, chat.id, `${q2.marker} q2`);
    await watcher.until((e) => e.messageId === m1.assistantMessageId && e.kind === "text_delta");
    const res = await api(`/api/chats/${chat.id}/queue/${m3.userMessageId}/send-now`, { session, method: "POST" });
    expect(res.status).toBe(202);
    const cancelled = await watcher.terminalOf(m1.assistantMessageId);
    expect(cancelled).toMatchObject({ kind: "run_cancelled", payload: { reason: "send_now" } });
    expect((await watcher.terminalOf(m3.assistantMessageId)).kind).toBe("run_completed");
    expect((await watcher.terminalOf(m2.assistantMessageId)).kind).toBe("run_completed");
    expect(startedOrder(watcher.events)).toEqual([m1.assistantMessageId, m3.assistantMessageId, m2.assistantMessageId]);
    for (const m of [m1, m2, m3])
      expect(await terminalCounts(chat.id, m.assistantMessageId)).toEqual({ log: 1, d1: 1 });
    // The interrupted message keeps what it had streamed.
    const snapshot = await storedSnapshot(chat.id, m1.assistantMessageId);
    expect(snapshot?.status).toBe("cancelled");
    expect(snapshotText(must(snapshot)).length).toBeGreaterThan(0);
    expect("a long answer that will be interrupted by send-now".startsWith(snapshotText(must(snapshot)))).toBe(true);
    watcher.close();
  });

  it("a message sent with mode=now replaces the running one", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const long = await script([slow("this one gets replaced by a message sent now", 4000)]);
    const now = await script([{ blocks: [{ type: "text", text: "right away" }] }]);
    const watcher = await Watcher.open(session, chat.id);
    const m1 = await send(session, chat.id, `${long.marker} long`);
    await watcher.until((e) => e.messageId === m1.assistantMessageId && e.kind === "text_delta");
    const m2 = await send(session, chat.id, `${now.marker} urgent`, "now");
    expect(m2.status).toBe("started");
    expect((await watcher.terminalOf(m1.assistantMessageId)).kind).toBe("run_cancelled");
    expect((await watcher.terminalOf(m2.assistantMessageId)).kind).toBe("run_completed");
    expect(text(watcher.of(m2.assistantMessageId))).toBe("right away");
    for (const m of [m1, m2]) expect(await terminalCounts(chat.id, m.assistantMessageId)).toEqual({ log: 1, d1: 1 });
    watcher.close();
  });

  it("rejects queue operations on unknown or already started messages", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const s = await script([{ blocks: [{ type: "text", text: "hi" }] }]);
    const watcher = await Watcher.open(session, chat.id);
    const m = await send(session, chat.id, `${s.marker} hi`);
    await watcher.terminalOf(m.assistantMessageId);
    for (const id of [m.userMessageId, crypto.randomUUID(), "not-an-id"]) {
      for (const [method, path, body] of [
        ["PATCH", `/api/chats/${chat.id}/queue/${id}`, { content: "x" }],
        ["DELETE", `/api/chats/${chat.id}/queue/${id}`, undefined],
        ["POST", `/api/chats/${chat.id}/queue/${id}/send-now`, undefined],
      ] as const) {
        const res = await api(path, { session, method, body });
        await expectError(res, 404, "not_queued", `${method} ${path}`);
      }
    }
    watcher.close();
  });
});

describe("cancel", () => {
  it("cancels during a tool call: run_cancelled, status cancelled, and the chat runs the next message", async () => {
    const session = await signUp();
    const chat = await createChat(session, { permissionMode: "bypassPermissions" });
    const s = await script([
      { blocks: [{ type: "tool_use", name: "Bash", input: { command: "timeout 30 tail -f /dev/null" } }] },
      { blocks: [{ type: "text", text: "never reached" }] },
    ]);
    const watcher = await Watcher.open(session, chat.id);
    const m = await send(session, chat.id, `${s.marker} wait forever`);
    await watcher.until((e) => e.messageId === m.assistantMessageId && e.kind === "tool_started");
    const res = await api(`/api/chats/${chat.id}/cancel`, { session, method: "POST" });
    expect(await json(res)).toEqual({ cancelled: true });
    expect(await watcher.terminalOf(m.assistantMessageId)).toMatchObject({
      kind: "run_cancelled",
      payload: { reason: "user" },
    });
    expect((await storedSnapshot(chat.id, m.assistantMessageId))?.status).toBe("cancelled");
    expect(await json(await api(`/api/chats/${chat.id}/cancel`, { session, method: "POST" }))).toEqual({
      cancelled: false,
    });
    const next = await script([{ blocks: [{ type: "text", text: "after the cancel" }] }]);
    const m2 = await send(session, chat.id, `${next.marker} next`);
    expect(m2.status).toBe("started");
    expect((await watcher.terminalOf(m2.assistantMessageId)).kind).toBe("run_completed");
    for (const id of [m.assistantMessageId, m2.assistantMessageId]) {
      expect(await terminalCounts(chat.id, id)).toEqual({ log: 1, d1: 1 });
    }
    watcher.close();
  });
});

describe("permissions", () => {
  async function askForBash(command: string) {
    const session = await signUp();
    const chat = await createChat(session, { permissionMode: "default" });
    const s = await script([
      { blocks: [{ type: "tool_use", name: "Bash", input: { command } }] },
      { blocks: [{ type: "text", text: "finished after the tool" }] },
    ]);
    const watcher = await Watcher.open(session, chat.id);
    const m = await send(session, chat.id, `${s.marker} run it`);
    const asked = await watcher.until((e) => e.messageId === m.assistantMessageId && e.kind === "permission_requested");
    const { requestId } = asked.payload as { requestId: string };
    return { session, chat, watcher, m, requestId };
  }

  it("allow runs the tool; a second answer is 409", async () => {
    const { session, chat, watcher, m, requestId } = await askForBash("echo allowed > perm.txt");
    const path = `/api/chats/${chat.id}/permissions/${encodeURIComponent(requestId)}`;
    const first = await api(path, { session, body: { decision: "allow" } });
    expect(first.status).toBe(200);
    const again = await api(path, { session, body: { decision: "deny" } });
    await expectError(again, 409, "already_answered");
    expect((await watcher.terminalOf(m.assistantMessageId)).kind).toBe("run_completed");
    const resolved = watcher.of(m.assistantMessageId).filter((e) => e.kind === "permission_resolved");
    expect(resolved.map((e) => e.payload)).toEqual([{ requestId, decision: "allow", by: "user" }]);
    expect(watcher.of(m.assistantMessageId).some((e) => e.kind === "tool_completed")).toBe(true);
    const file = await api(`/api/chats/${chat.id}/files/content?path=perm.txt`, { session });
    expect(await file.text()).toBe("allowed\n");
    watcher.close();
  });

  it("waits for the user's answer past the agent-silence limit: a pending prompt is not a stuck agent", async () => {
    // The tool itself then runs 3 s without output: the silence counts from the answer, not the prompt.
    const { session, chat, watcher, m, requestId } = await askForBash("sleep 3 && echo late > late.txt");
    // The agent prints nothing while it waits; the test project's agent-silence limit is 5 s.
    await new Promise((resolve) => setTimeout(resolve, 6500));
    expect(watcher.events.some((e) => e.messageId === m.assistantMessageId && e.kind === "run_failed")).toBe(false);
    const res = await api(`/api/chats/${chat.id}/permissions/${encodeURIComponent(requestId)}`, {
      session,
      body: { decision: "allow" },
    });
    expect(res.status).toBe(200);
    expect((await watcher.terminalOf(m.assistantMessageId)).kind).toBe("run_completed");
    expect(await (await api(`/api/chats/${chat.id}/files/content?path=late.txt`, { session })).text()).toBe("late\n");
    watcher.close();
  });

  it("counts an answer the provider took even when its reply was lost", async () => {
    const { session, chat, key, watcher } = await proxiedChat({ permissionMode: "default" });
    const s = await script([
      { blocks: [{ type: "tool_use", name: "Bash", input: { command: "echo taken > taken.txt" } }] },
      { blocks: [{ type: "text", text: "finished after the tool" }] },
    ]);
    const m = await send(session, chat.id, `${s.marker} run it`);
    const asked = await watcher.until((e) => e.messageId === m.assistantMessageId && e.kind === "permission_requested");
    const { requestId } = asked.payload as { requestId: string };
    // The provider hands the answer to the agent; the connection breaks before its reply comes back.
    await faultRule(key, "lose", "^POST /v1/sandboxes/[^/]+/runs/[^/]+/input$");
    const res = await api(`/api/chats/${chat.id}/permissions/${encodeURIComponent(requestId)}`, {
      session,
      body: { decision: "allow" },
    });
    expect(res.status).toBe(200);
    expect((await watcher.terminalOf(m.assistantMessageId)).kind).toBe("run_completed");
    const resolved = watcher.of(m.assistantMessageId).filter((e) => e.kind === "permission_resolved");
    expect(resolved.map((e) => e.payload)).toEqual([{ requestId, decision: "allow", by: "user" }]);
    expect(await (await api(`/api/chats/${chat.id}/files/content?path=taken.txt`, { session })).text()).toBe("taken\n");
    watcher.close();
  });

  it("deny keeps the tool from running and the agent carries on", async () => {
    const { session, chat, watcher, m, requestId } = await askForBash("echo denied > nope.txt");
    const res = await api(`/api/chats/${chat.id}/permissions/${encodeURIComponent(requestId)}`, {
      session,
      body: { decision: "deny" },
    });
    expect(res.status).toBe(200);
    expect((await watcher.terminalOf(m.assistantMessageId)).kind).toBe("run_completed");
    expect(watcher.of(m.assistantMessageId).some((e) => e.kind === "tool_failed")).toBe(true);
    expect((await api(`/api/chats/${chat.id}/files/content?path=nope.txt`, { session })).status).toBe(404);
    const snapshot = await storedSnapshot(chat.id, m.assistantMessageId);
    const block = snapshot?.blocks.find((b) => b.type === "permission");
    expect(block).toMatchObject({ decision: "deny", by: "user" });
    watcher.close();
  });

  it("answers for unknown requests are 404 and bad decisions 400", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const unknown = await api(`/api/chats/${chat.id}/permissions/nope`, { session, body: { decision: "allow" } });
    await expectError(unknown, 404, "permission_not_found");
    const bad = await api(`/api/chats/${chat.id}/permissions/nope`, { session, body: { decision: "maybe" } });
    expect(bad.status).toBe(400);
  });
});
