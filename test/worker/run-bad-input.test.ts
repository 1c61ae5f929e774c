/**
 * Bad input around runs: message bodies, oversized prompts, sandbox file paths that try to leave
 * the workspace (checked by the worker, and by the provider for symlinks the agent made), other
 * users' chats; and the cron sweep that ends messages left streaming with no run behind them.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../../worker/db/client";
import { staleStreamingMessages } from "../../worker/db/sweep";
import worker from "../../worker/index";
import { api, createChat, expectError, json, signUp } from "./helpers";
import { script, send, useProvider, Watcher } from "./run-helpers";
import { append, room } from "./stream-helpers";

describe("message input", () => {
  it("rejects empty, oversized, mistyped and unknown-field messages without starting a run", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const cases: [unknown, number, string][] = [
      [{}, 400, "invalid_request"],
      [{ content: "" }, 400, "invalid_request"],
      [{ content: "   \n " }, 400, "invalid_request"],
      [{ content: 42 }, 400, "invalid_request"],
      [{ content: "x".repeat(100_001) }, 400, "invalid_request"],
      [{ content: "hi", mode: "later" }, 400, "invalid_request"],
      [{ content: "hi", model: "other" }, 400, "invalid_request"],
      [{ content: "x".repeat(600_000) }, 413, "payload_too_large"],
    ];
    for (const [body, status, code] of cases) {
      const res = await api(`/api/chats/${chat.id}/messages`, { session, body });
      await expectError(res, status, code);
    }
    const broken = await api(`/api/chats/${chat.id}/messages`, {
      session,
      rawBody: '{"content":',
      headers: { "content-type": "application/json" },
    });
    expect(broken.status).toBe(400);
    expect(await room(chat.id).head()).toBe(0);
  });

  it("limits messages per user: the 31st in a minute is 429 and starts nothing", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    await room(chat.id).head();
    await useProvider(chat.id, "http://127.0.0.1:9"); // runs fail at once; only the limit is under test
    for (let i = 0; i < 30; i++) {
      expect((await api(`/api/chats/${chat.id}/messages`, { session, body: { content: `m${i}` } })).status).toBe(202);
    }
    const head = await room(chat.id).head();
    const limited = await api(`/api/chats/${chat.id}/messages`, { session, body: { content: "one too many" } });
    await expectError(limited, 429, "rate_limited");
    expect(await room(chat.id).head()).toBeGreaterThanOrEqual(head);
    const queue = await json<{ items: { content: string }[] }>(await api(`/api/chats/${chat.id}/queue`, { session }));
    expect(queue.items.map((q) => q.content)).not.toContain("one too many");
  });

  it("hides another user's chat from every run route", async () => {
    const alice = await signUp();
    const bob = await signUp();
    const chat = await createChat(alice);
    const id = crypto.randomUUID();
    for (const [method, path, body] of [
      ["POST", `/api/chats/${chat.id}/messages`, { content: "hi" }],
      ["POST", `/api/chats/${chat.id}/cancel`, undefined],
      ["GET", `/api/chats/${chat.id}/queue`, undefined],
      ["PATCH", `/api/chats/${chat.id}/queue/${id}`, { content: "x" }],
      ["DELETE", `/api/chats/${chat.id}/queue/${id}`, undefined],
      ["POST", `/api/chats/${chat.id}/queue/${id}/send-now`, undefined],
      ["POST", `/api/chats/${chat.id}/permissions/${id}`, { decision: "allow" }],
      ["GET", `/api/chats/${chat.id}/files`, undefined],
      ["GET", `/api/chats/${chat.id}/files/content?path=a.txt`, undefined],
    ] as const) {
      const res = await api(path, { session: bob, method, body });
      await expectError(res, 404, "chat_not_found", `${method} ${path}`);
    }
    expect(await room(chat.id).head()).toBe(0);
  });
});

describe("sandbox files", () => {
  it("refuses paths that leave the workspace, in the worker and at the provider", async () => {
    const session = await signUp();
    const chat = await createChat(session, { permissionMode: "bypassPermissions" });
    const s = await script([
      {
        blocks: [
          {
            type: "tool_use",
            name: "Bash",
            input: { command: "mkdir -p sub && echo inside > sub/in.txt && ln -s /etc/passwd sub/out" },
          },
        ],
      },
      { blocks: [{ type: "text", text: "made them" }] },
    ]);
    const watcher = await Watcher.open(session, chat.id);
    const m = await send(session, chat.id, `${s.marker} make files`);
    expect((await watcher.terminalOf(m.assistantMessageId)).kind).toBe("run_completed");
    watcher.close();

    const ok = await api(`/api/chats/${chat.id}/files/content?path=sub/in.txt`, { session });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-disposition")).toContain("in.txt");
    expect(await ok.text()).toBe("inside\n");

    for (const path of ["../etc/passwd", "/etc/passwd", "sub/../../x", "a\\..\\b", "sub/out", "sub/out/.."]) {
      const res = await api(`/api/chats/${chat.id}/files/content?path=${encodeURIComponent(path)}`, { session });
      await expectError(res, 400, "invalid_path", path);
    }
    const nul = await api(`/api/chats/${chat.id}/files?path=a%00b`, { session });
    expect(nul.status).toBe(400);
    const missing = await api(`/api/chats/${chat.id}/files/content?path=nope.txt`, { session });
    await expectError(missing, 404, "file_not_found");
    const dir = await api(`/api/chats/${chat.id}/files/content?path=sub`, { session });
    await expectError(dir, 400, "not_a_file");
    const notDir = await api(`/api/chats/${chat.id}/files?path=sub/in.txt`, { session });
    expect(notDir.status).toBe(400);
    const list = await json<{ entries: { name: string; type: string }[] }>(
      await api(`/api/chats/${chat.id}/files?path=sub`, { session }),
    );
    expect(list.entries.map((e) => e.name).sort()).toEqual(["in.txt", "out"]);
  });

  it("answers 404 for a chat whose sandbox was never created", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const res = await api(`/api/chats/${chat.id}/files`, { session });
    await expectError(res, 404, "file_not_found");
  });
});

describe("the cron sweep", () => {
  it("fails a message left streaming with no run behind it", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const [u, a] = [crypto.randomUUID(), crypto.randomUUID()];
    // A message that started streaming and then lost its run (as after a crash between steps).
    await append(chat.id, [
      { kind: "user_message", messageId: u, payload: { content: "hi", assistantMessageId: a, source: "user" } },
      { kind: "run_started", messageId: a, payload: { userMessageId: u, model: "m" } },
      { kind: "text_delta", messageId: a, payload: { text: "half an answ" } },
    ]);
    await room(chat.id).flush(chat.id);
    await env.DB.prepare("UPDATE messages SET updated_at = 0 WHERE id = ?").bind(a).run();

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    for (let i = 0; i < 50; i++) {
      const row = await env.DB.prepare("SELECT status FROM messages WHERE id = ?").bind(a).first<{ status: string }>();
      if (row?.status !== "streaming") break;
      await room(chat.id).flush(chat.id);
    }
    const row = await env.DB.prepare("SELECT status, error, content_text FROM messages WHERE id = ?")
      .bind(a)
      .first<{ status: string; error: string; content_text: string }>();
    expect(row?.status).toBe("failed");
    expect(row?.error).toMatch(/interrupted/);
    expect(row?.content_text).toBe("half an answ");
  });

  it("leaves a quiet active run alone and touches its row, so the stuck ones come first next time", async () => {
    const session = await signUp();
    const chat = await createChat(session, { permissionMode: "default" });
    const s = await script([
      { blocks: [{ type: "tool_use", name: "Bash", input: { command: "echo waited > waited.txt" } }] },
      { blocks: [{ type: "text", text: "done waiting" }] },
    ]);
    const watcher = await Watcher.open(session, chat.id);
    const m = await send(session, chat.id, `${s.marker} ask first`);
    const asked = await watcher.until((e) => e.messageId === m.assistantMessageId && e.kind === "permission_requested");
    await room(chat.id).flush(chat.id);
    // The run waits for its user: nothing new to copy, so D1 shows a long-silent streaming row.
    await env.DB.prepare("UPDATE messages SET updated_at = 0 WHERE id = ?").bind(m.assistantMessageId).run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    const row = await env.DB.prepare("SELECT status, updated_at FROM messages WHERE id = ?")
      .bind(m.assistantMessageId)
      .first<{ status: string; updated_at: number }>();
    expect(row?.status).toBe("streaming");
    expect(row?.updated_at).toBeGreaterThan(0);
    const { requestId } = asked.payload as { requestId: string };
    const answer = await api(`/api/chats/${chat.id}/permissions/${encodeURIComponent(requestId)}`, {
      session,
      body: { decision: "allow" },
    });
    expect(answer.status).toBe(200);
    expect((await watcher.terminalOf(m.assistantMessageId)).kind).toBe("run_completed");
    watcher.close();
  });

  it("picks the longest-silent streaming rows first", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    // Inserted newest first, so an unordered read would return the newest rows.
    const ages = [10, 20, 30, 40, 50];
    const ids = ages.map(() => crypto.randomUUID());
    for (const [i, age] of ages.entries()) {
      await env.DB.prepare(
        `INSERT INTO messages (id, chat_id, role, status, created_seq, last_seq, content_render, created_at, updated_at)
         VALUES (?, ?, 'assistant', 'streaming', ?, ?, '{}', 0, ?)`,
      )
        .bind(ids[i], chat.id, i + 1, i + 1, 1_000 - age * 10)
        .run();
    }
    const stale = await staleStreamingMessages(createDb(env.DB), 1_000, 3);
    expect(stale.get(chat.id)).toEqual([ids[4], ids[3], ids[2]]);
  });
});
