/**
 * Every bootstrap failure ends the message `failed` with exactly one terminal event, a snapshot
 * whose last_seq is that event's seq, partial content kept and the error visible after a reload;
 * and the chat takes the next message. Provider faults come from real servers: a closed port, the
 * real provider with a wrong token, and the fault injector (500s, answers off the protocol).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type MessageSnapshot, snapshotText } from "../../worker/protocol/snapshot";
import { api, createChat, json, must, type Session, signUp } from "./helpers";
import { script, send, storedSnapshot, type Turn, terminalCounts, text, useProvider, Watcher } from "./run-helpers";
import { room } from "./stream-helpers";

type Case = {
  name: string;
  code: RegExp;
  model?: string;
  turns?: Turn[];
  provider?: () => { url: string; token?: string };
  partial?: string;
};

const cases: Case[] = [
  { name: "provider unreachable", code: /^provider_unreachable$/, provider: () => ({ url: "http://127.0.0.1:9" }) },
  { name: "provider 500 on create", code: /^provider_error$/, provider: () => ({ url: `${env.FAULT_URL}/status500` }) },
  {
    name: "bad provider token",
    code: /^provider_unauthorized$/,
    provider: () => ({ url: env.SANDBOX_URL ?? "", token: "not-the-right-token-at-all" }),
  },
  {
    name: "provider answers outside the protocol",
    code: /^provider_protocol$/,
    provider: () => ({ url: `${env.FAULT_URL}/garbage` }),
  },
  { name: "invalid model", code: /^model_not_found$/, model: "invalid-model-name" },
  {
    name: "model API 400",
    code: /^model_error$/,
    turns: [{ error: { status: 400, type: "invalid_request_error", message: "prompt is malformed" } }],
  },
  {
    name: "model API 500",
    code: /^(model_error|model_unreachable)$/,
    turns: [{ error: { status: 500, type: "api_error", message: "model backend exploded" } }],
  },
  {
    name: "model stream cut mid-answer (partial text kept)",
    code: /^(model_error|model_unreachable)$/,
    // Deltas arrive 60 ms apart, so the CLI has printed them before the connection breaks.
    turns: [
      {
        dropAfterChunks: 8,
        delayMs: 60,
        blocks: [{ type: "text", text: "partial answer that the model never finishes" }],
      },
    ],
    partial: "partial",
  },
];

async function reloadedMessage(session: Session, chatId: string, id: string): Promise<MessageSnapshot | undefined> {
  await room(chatId).flush(chatId);
  const body = await json<{ messages: { id: string; snapshot: MessageSnapshot }[] }>(
    await api(`/api/chats/${chatId}`, { session }),
  );
  return body.messages.find((m) => m.id === id)?.snapshot;
}

describe("bootstrap failures end the message, never leave it streaming", () => {
  it.each(cases)("$name", async (c) => {
    const session = await signUp();
    const chat = await createChat(session, {
      permissionMode: "bypassPermissions",
      ...(c.model ? { model: c.model } : {}),
    });
    await room(chat.id).head(); // the object exists, so its provider can be swapped
    const fault = c.provider?.();
    if (fault) await useProvider(chat.id, fault.url, fault.token);
    const scripted = await script(c.turns ?? [{ blocks: [{ type: "text", text: "unused" }] }]);
    const watcher = await Watcher.open(session, chat.id);
    const sent = await send(session, chat.id, `${scripted.marker} go`);
    const end = await watcher.terminalOf(sent.assistantMessageId);

    expect(end.kind).toBe("run_failed");
    const payload = end.payload as { code: string; error: string };
    expect(payload.code).toMatch(c.code);
    expect(payload.error.length).toBeGreaterThan(10);
    const terminals = watcher
      .of(sent.assistantMessageId)
      .filter((e) => /^run_(completed|failed|cancelled)$/.test(e.kind));
    expect(terminals).toHaveLength(1);

    const stored = await storedSnapshot(chat.id, sent.assistantMessageId);
    expect(stored?.status).toBe("failed");
    expect(stored?.lastSeq).toBe(end.seq);
    expect(stored?.error?.code).toBe(payload.code);
    if (c.partial) {
      expect(text(watcher.of(sent.assistantMessageId))).toContain(c.partial);
      expect(snapshotText(must(stored))).toContain(c.partial);
    }
    const reloaded = await reloadedMessage(session, chat.id, sent.assistantMessageId);
    expect(reloaded?.status).toBe("failed");
    expect(reloaded?.error?.message).toBe(payload.error);

    // The chat takes the next message (with a working provider and model).
    if (fault) await useProvider(chat.id, env.SANDBOX_URL ?? "");
    if (c.model) await api(`/api/chats/${chat.id}`, { session, method: "PATCH", body: { model: "claude-sonnet-4-5" } });
    const ok = await script([{ blocks: [{ type: "text", text: "back to normal" }] }]);
    const next = await send(session, chat.id, `${ok.marker} again`);
    expect(next.status).toBe("started");
    expect((await watcher.terminalOf(next.assistantMessageId)).kind).toBe("run_completed");
    expect(text(watcher.of(next.assistantMessageId))).toBe("back to normal");
    // Exactly one terminal event each, where they rest (a late duplicate would show here, not on the wire).
    for (const id of [sent.assistantMessageId, next.assistantMessageId]) {
      expect(await terminalCounts(chat.id, id)).toEqual({ log: 1, d1: 1 });
    }
    watcher.close();
  });
});
