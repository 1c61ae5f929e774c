/**
 * Fakes for the client's model tests under Node: sockets and event sources the test drives by
 * hand, a manual clock for timers, and envelope builders. The code under test is the real stream
 * store, connection and chat state.
 */

import type { EventSourceLike, SocketLike, TimerId, Transport } from "../../client/src/stream/transport";
import type { Envelope, EventPayloads } from "../../worker/protocol/events";

export class FakeSocket implements SocketLike {
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  readonly sent: string[] = [];
  /** The client asked to close it. */
  closed = false;
  /** The close has completed (the browser fired `close`): only now is the connection gone. */
  gone = false;
  constructor(readonly path: string) {}
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    if (this.closed || this.gone) return;
    this.closed = true;
    // Like a browser: the close handshake finishes later, then `close` fires.
    queueMicrotask(() => this.#closed(1000));
  }
  #closed(code: number): void {
    if (this.gone) return;
    this.gone = true;
    this.onclose?.({ code });
  }
  open(): void {
    this.onopen?.();
  }
  frame(frame: unknown): void {
    this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
  }
  events(...events: Envelope[]): void {
    this.frame({ type: "events", events });
  }
  ready(head: number): void {
    this.frame({ type: "ready", head });
  }
  /** The server or the network ends it. */
  drop(code = 1006): void {
    this.#closed(code);
  }
}

export class FakeEventSource implements EventSourceLike {
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  readonly listeners = new Map<string, ((event: { data: unknown }) => void)[]>();
  closed = false;
  constructor(readonly path: string) {}
  addEventListener(type: string, listener: (event: { data: unknown }) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  close(): void {
    this.closed = true;
  }
  emit(type: string, data: unknown): void {
    for (const l of this.listeners.get(type) ?? []) l({ data: JSON.stringify(data) });
  }
}

type Timer = { id: number; at: number; fn: () => void };

export class FakeTransport implements Transport {
  readonly sockets: FakeSocket[] = [];
  readonly sources: FakeEventSource[] = [];
  now = 0;
  #timers: Timer[] = [];
  #nextId = 1;

  webSocket(path: string): FakeSocket {
    const socket = new FakeSocket(path);
    this.sockets.push(socket);
    return socket;
  }
  eventSource(path: string): FakeEventSource {
    const source = new FakeEventSource(path);
    this.sources.push(source);
    return source;
  }
  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.#nextId++;
    this.#timers.push({ id, at: this.now + ms, fn });
    return id as unknown as TimerId;
  }
  clearTimeout(id: TimerId): void {
    this.#timers = this.#timers.filter((t) => t.id !== (id as unknown as number));
  }
  random(): number {
    return 0.5;
  }
  /** Runs every timer due within `ms`, in time order (timers they set included). */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const next = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.now = next.at;
      next.fn();
    }
    this.now = end;
  }
  get lastSocket(): FakeSocket {
    const s = this.sockets.at(-1);
    if (!s) throw new Error("no socket opened");
    return s;
  }
  /** Sockets and sources not closed yet (a socket still closing counts). */
  openCount(): number {
    return this.sockets.filter((s) => !s.gone).length + this.sources.filter((s) => !s.closed).length;
  }
}

/** Builds envelopes with consecutive seqs for one chat. */
export class Events {
  seq: number;
  constructor(
    readonly chatId: string,
    start = 0,
  ) {
    this.seq = start;
  }
  #make<K extends keyof EventPayloads>(kind: K, messageId: string | null, payload: EventPayloads[K]): Envelope {
    this.seq++;
    return { chatId: this.chatId, seq: this.seq, messageId, kind, payload, at: 1_000 + this.seq } as Envelope;
  }
  user(userId: string, assistantId: string, content = "hi"): Envelope {
    return this.#make("user_message", userId, { content, assistantMessageId: assistantId, source: "user" });
  }
  started(assistantId: string, userId: string): Envelope {
    return this.#make("run_started", assistantId, { userMessageId: userId, model: "m" });
  }
  text(assistantId: string, text: string): Envelope {
    return this.#make("text_delta", assistantId, { text });
  }
  completed(assistantId: string): Envelope {
    return this.#make("run_completed", assistantId, {});
  }
  failed(assistantId: string, code = "model_error", error = "it broke"): Envelope {
    return this.#make("run_failed", assistantId, { code, error });
  }
  queued(assistantId: string, userId: string, content: string): Envelope {
    return this.#make("message_queued", assistantId, { userMessageId: userId, content });
  }
  queue(items: { userMessageId: string; assistantMessageId: string; content: string }[]): Envelope {
    return this.#make("queue_updated", null, { items });
  }
  cancelled(assistantId: string, reason: "user" | "removed_from_queue" = "user"): Envelope {
    return this.#make("run_cancelled", assistantId, { reason });
  }
}
