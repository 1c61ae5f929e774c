/**
 * Listener clients for Workers-pool tests: a WebSocket and an SSE reader that go through the real
 * worker (`SELF.fetch`, cookie auth) and record every frame, plus an appender that writes events
 * through the chat's RPC surface.
 */
import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Envelope } from "../../worker/protocol/events";
import { ORIGIN, type Session } from "./helpers";
import type { ChatRoom as TestChatRoom } from "./test-worker";

export type Frame =
  | { type: "events"; events: Envelope[] }
  | { type: "ready"; head: number }
  | { type: "reset"; head: number };

/** Something that yields frames in order and can be closed at any moment. */
export interface Listener {
  next(): Promise<Frame | null>;
  close(): void;
}

function queue<T>() {
  const items: T[] = [];
  const waiters: ((v: T | null) => void)[] = [];
  let done = false;
  return {
    push(item: T) {
      const w = waiters.shift();
      if (w) w(item);
      else items.push(item);
    },
    end() {
      done = true;
      for (const w of waiters.splice(0)) w(null);
    },
    next(): Promise<T | null> {
      const item = items.shift();
      if (item !== undefined) return Promise.resolve(item);
      if (done) return Promise.resolve(null);
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

export async function openWs(
  session: Session,
  chatId: string,
  after?: number,
): Promise<Listener & { socket: WebSocket }> {
  const res = await SELF.fetch(`${ORIGIN}/api/chats/${chatId}/ws${after === undefined ? "" : `?after=${after}`}`, {
    headers: { upgrade: "websocket", cookie: session.cookie },
  });
  const socket = res.webSocket;
  if (!socket) throw new Error(`no websocket: ${res.status} ${await res.text()}`);
  const frames = queue<Frame>();
  socket.addEventListener("message", (e) => frames.push(JSON.parse(e.data as string) as Frame));
  socket.addEventListener("close", () => frames.end());
  socket.accept();
  return {
    socket,
    next: frames.next,
    close() {
      try {
        socket.close(1000, "test done");
      } catch {}
      frames.end();
    },
  };
}

/** Parses an SSE byte stream into frames: events carry their id, control frames do not. */
export async function openSse(
  session: Session,
  chatId: string,
  options: { after?: number; lastEventId?: number } = {},
): Promise<Listener & { response: Response; comments: () => number }> {
  const headers: Record<string, string> = { cookie: session.cookie };
  if (options.lastEventId !== undefined) headers["last-event-id"] = String(options.lastEventId);
  const query = options.after === undefined ? "" : `?after=${options.after}`;
  const response = await SELF.fetch(`${ORIGIN}/api/chats/${chatId}/stream${query}`, { headers });
  if (!response.body) throw new Error(`no body: ${response.status}`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const frames = queue<Frame>();
  let comments = 0;
  let buffer = "";
  let closed = false;
  (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields: Record<string, string> = {};
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) comments++;
            const m = /^(\w+): ?(.*)$/.exec(line);
            if (m?.[1] && m[2] !== undefined) fields[m[1]] = m[2];
          }
          if (fields.event === "ready" || fields.event === "reset") {
            frames.push({ type: fields.event, head: (JSON.parse(fields.data ?? "{}") as { head: number }).head });
          } else if (fields.data !== undefined && fields.id !== undefined) {
            const envelope = JSON.parse(fields.data) as Envelope;
            if (String(envelope.seq) !== fields.id || envelope.kind !== fields.event)
              throw new Error("id/event mismatch");
            frames.push({ type: "events", events: [envelope] });
          }
          end = buffer.indexOf("\n\n");
        }
      }
    } catch {
      // Cancelled by close().
    } finally {
      frames.end();
    }
  })();
  return {
    response,
    comments: () => comments,
    next: frames.next,
    close() {
      if (closed) return;
      closed = true;
      reader.cancel().catch(() => {});
      frames.end();
    },
  };
}

/** The chat's object, as the test worker exports it (with its test-only RPCs). */
export function room(chatId: string): DurableObjectStub<TestChatRoom> {
  const namespace = env.CHAT_ROOM as unknown as DurableObjectNamespace<TestChatRoom>;
  return namespace.get(namespace.idFromName(chatId));
}

export type Draft = { kind: string; messageId: string | null; payload: unknown };

export async function append(chatId: string, drafts: Draft[]): Promise<number> {
  const result = await room(chatId).append(chatId, drafts);
  if (!result.ok) throw new Error(result.error);
  return result.head;
}

/** A message's events from start to finish: user message, run, text, a tool, completion. */
export function conversation(userMessageId: string, assistantMessageId: string, text: string[]): Draft[] {
  return [
    { kind: "user_message", messageId: userMessageId, payload: { content: "hi", assistantMessageId, source: "user" } },
    { kind: "run_started", messageId: assistantMessageId, payload: { userMessageId, model: "m" } },
    ...text.map((t) => ({ kind: "text_delta", messageId: assistantMessageId, payload: { text: t } })),
    {
      kind: "tool_started",
      messageId: assistantMessageId,
      payload: { toolUseId: "t1", name: "Bash", input: { command: "ls" } },
    },
    { kind: "tool_completed", messageId: assistantMessageId, payload: { toolUseId: "t1", output: "a\nb" } },
    { kind: "usage", messageId: assistantMessageId, payload: { inputTokens: 10, outputTokens: 5 } },
    { kind: "run_completed", messageId: assistantMessageId, payload: { numTurns: 1 } },
  ];
}

/** Reads frames until `ready`, returning the replayed events and the head. */
export async function untilReady(listener: Listener): Promise<{ events: Envelope[]; head: number; reset: boolean }> {
  const events: Envelope[] = [];
  let reset = false;
  for (;;) {
    const frame = await listener.next();
    if (!frame) throw new Error("listener closed before ready");
    if (frame.type === "events") events.push(...frame.events);
    else if (frame.type === "reset") reset = true;
    else return { events, head: frame.head, reset };
  }
}

/** Collects events until one with seq >= `head` arrived. */
export async function until(listener: Listener, head: number): Promise<Envelope[]> {
  const events: Envelope[] = [];
  while ((events.at(-1)?.seq ?? 0) < head) {
    const frame = await listener.next();
    if (!frame) throw new Error(`listener closed at ${events.at(-1)?.seq ?? 0} before ${head}`);
    if (frame.type === "events") events.push(...frame.events);
  }
  return events;
}
