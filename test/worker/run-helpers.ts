/**
 * Helpers for agent-run tests in the Workers pool: scripts for the scripted model server, sending
 * messages through the real API, waiting for a message's terminal event on a real listener, and
 * pointing one chat's Durable Object at another provider address (the fault injector, a closed
 * port, a wrong token) so a failure can be produced for that chat alone.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Envelope } from "../../worker/protocol/events";
import type { MessageSnapshot } from "../../worker/protocol/snapshot";
import { api, createChat, json, type Session, signUp } from "./helpers";
import { type Listener, openWs, room } from "./stream-helpers";

export type Block =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string }
  | { type: "tool_use"; name: string; input: unknown };
export type Turn =
  | { blocks: Block[]; delayMs?: number; chunkSize?: number }
  | { error: { status: number; type: string; message: string } }
  | { stallMs: number }
  | { dropAfterChunks: number; blocks?: Block[]; delayMs?: number };

/** Registers a script and returns the marker to put in the prompt. */
export async function script(turns: Turn[]): Promise<{ id: string; marker: string }> {
  const id = crypto.randomUUID().slice(0, 8);
  const res = await fetch(`${env.MODEL_URL}/__scripts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id, turns }),
  });
  if (!res.ok) throw new Error(`script rejected: ${await res.text()}`);
  return { id, marker: `[script:${id}]` };
}

export type ModelRequest = {
  model: string;
  /** The credential the request carried (what the provider's relay swapped in). */
  apiKey: string | null;
  lastUserText: string;
  messages: number;
  transcript: string[];
  turn: number;
};

export async function modelRequests(scriptId: string): Promise<ModelRequest[]> {
  const res = await fetch(`${env.MODEL_URL}/__requests?script=${scriptId}`);
  return ((await res.json()) as { requests: ModelRequest[] }).requests;
}

export type Sent = { userMessageId: string; assistantMessageId: string; status: "started" | "queued" };

export async function send(session: Session, chatId: string, content: string, mode?: "queue" | "now"): Promise<Sent> {
  const res = await api(`/api/chats/${chatId}/messages`, { session, body: mode ? { content, mode } : { content } });
  if (res.status !== 202) throw new Error(`send failed: ${res.status} ${await res.text()}`);
  return json<Sent>(res);
}

const terminal = new Set(["run_completed", "run_failed", "run_cancelled"]);

/** A listener that keeps every event it has seen, so tests can wait for conditions on the log. */
export class Watcher {
  readonly events: Envelope[] = [];
  readonly #listener: Listener & { socket: WebSocket };

  private constructor(listener: Listener & { socket: WebSocket }) {
    this.#listener = listener;
  }

  /** Calls back with the close code when the chat closes this listener. */
  onClose(callback: (code: number) => void): void {
    this.#listener.socket.addEventListener("close", (event) => callback(event.code));
  }

  static async open(session: Session, chatId: string): Promise<Watcher> {
    return new Watcher(await openWs(session, chatId, 0));
  }

  /** Reads until `predicate` holds for an event seen so far; returns that event. */
  async until(predicate: (e: Envelope) => boolean, what = "event"): Promise<Envelope> {
    for (;;) {
      const found = this.events.find(predicate);
      if (found) return found;
      const frame = await this.#listener.next();
      if (!frame) throw new Error(`listener closed before ${what}; saw ${this.events.map((e) => e.kind).join(",")}`);
      if (frame.type === "events") this.events.push(...frame.events);
    }
  }

  terminalOf(messageId: string): Promise<Envelope> {
    return this.until((e) => e.messageId === messageId && terminal.has(e.kind), `the end of ${messageId}`);
  }

  of(messageId: string): Envelope[] {
    return this.events.filter((e) => e.messageId === messageId);
  }

  close(): void {
    this.#listener.close();
  }
}

export function text(events: Envelope[]): string {
  return events
    .filter((e) => e.kind === "text_delta")
    .map((e) => (e.payload as { text: string }).text)
    .join("");
}

/** Acts on the fault injector for one key: cut its open streams, refuse or accept its connections. */
export async function admin(key: string, action: "drop" | "down" | "up"): Promise<void> {
  const res = await fetch(`${env.FAULT_URL}/__admin/${key}/${action}`, { method: "POST" });
  if (res.status !== 204) throw new Error(`fault admin ${action}: ${res.status}`);
}

/**
 * A rule for the key's next request whose `METHOD path` matches: `hold` lets the provider act on it
 * but answers `ms` later; `lose` lets the provider act on it and then cuts the connection; `answer`
 * answers it with `body` (200) without asking the provider.
 */
export async function faultRule(
  key: string,
  action: "hold" | "lose" | "answer",
  match: string,
  options: { ms?: number; body?: unknown } = {},
): Promise<void> {
  const query = new URLSearchParams({ match, ms: String(options.ms ?? 0) });
  const res = await fetch(`${env.FAULT_URL}/__admin/${key}/${action}?${query}`, {
    method: "POST",
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (res.status !== 204) throw new Error(`fault rule ${action}: ${res.status}`);
}

/** Resolves once a request of the key was taken by a rule (it reached the provider). */
export async function ruleTaken(key: string): Promise<void> {
  const res = await fetch(`${env.FAULT_URL}/__admin/${key}/held`);
  if (res.status !== 200) throw new Error(`fault held: ${res.status}`);
}

/** A chat (and its watcher) whose provider traffic goes through the fault injector under its own key. */
export async function proxiedChat(chatBody: Record<string, unknown> = {}) {
  const session = await signUp();
  const chat = await createChat(session, chatBody);
  const key = crypto.randomUUID();
  await useProvider(chat.id, `${env.FAULT_URL}/proxy/${key}`);
  return { session, chat, key, watcher: await Watcher.open(session, chat.id) };
}

/** Points this chat's Durable Object at another provider address until it is evicted. */
export async function useProvider(chatId: string, baseUrl: string, token = env.SANDBOX_TOKEN ?? ""): Promise<void> {
  await room(chatId).useProvider(baseUrl, token);
}

/** The message's snapshot as stored in D1 (after the chat flushed). */
export async function storedSnapshot(chatId: string, messageId: string): Promise<MessageSnapshot | null> {
  await room(chatId).flush(chatId);
  const row = await env.DB.prepare("SELECT content_render FROM messages WHERE id = ?")
    .bind(messageId)
    .first<{ content_render: string }>();
  return row ? (JSON.parse(row.content_render) as MessageSnapshot) : null;
}

const TERMINAL_KINDS = "('run_completed', 'run_failed', 'run_cancelled')";

/**
 * Counts the message's terminal events where they rest: the chat's own log (DO SQLite) and, after
 * a flush, D1. A listener stops at the first terminal and the reducer ignores what follows, so
 * only the stores can show a late duplicate.
 */
export async function terminalCounts(chatId: string, messageId: string): Promise<{ log: number; d1: number }> {
  await room(chatId).flush(chatId);
  const log = await runInDurableObject(
    room(chatId),
    (_instance, state) =>
      state.storage.sql
        .exec<{ n: number }>(
          `SELECT COUNT(*) AS n FROM events WHERE message_id = ? AND kind IN ${TERMINAL_KINDS}`,
          messageId,
        )
        .one().n,
  );
  const d1 = await env.DB.prepare(
    `SELECT COUNT(*) AS n FROM chat_events WHERE chat_id = ? AND message_id = ? AND kind IN ${TERMINAL_KINDS}`,
  )
    .bind(chatId, messageId)
    .first<{ n: number }>();
  return { log, d1: d1?.n ?? 0 };
}

/** A scripted reply that streams for about `ms` milliseconds (two characters per delta). */
export function slow(reply: string, ms: number): Turn {
  const chunkSize = 2;
  return {
    blocks: [{ type: "text", text: reply }],
    chunkSize,
    delayMs: Math.ceil(ms / (reply.length / chunkSize)),
  };
}
