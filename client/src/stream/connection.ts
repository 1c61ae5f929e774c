/**
 * One live connection to one chat's event stream: a WebSocket by default, SSE when WebSockets do
 * not get through, both resuming from the cursor the caller holds. Reconnects with backoff and
 * jitter, pings to find dead sockets, and ignores every callback of a socket it has let go of, so
 * nothing stale ever reaches the chat. Used only by the stream store.
 */
import { eventKinds, parseEnvelope } from "../../../worker/protocol/events";
import { decodeServerFrame, type ServerFrame } from "../../../worker/protocol/frames";
import type { ApplyOutcome } from "../models/chat-state";
import type { EventSourceLike, SocketLike, TimerId, Transport } from "./transport";

export type LinkStatus = "connecting" | "live" | "reconnecting" | "gone";

export type ConnectionHandlers = {
  /** The seq of the last event applied; each attempt resumes after it. */
  cursor(): number;
  /** Applies a frame; "gap" makes the connection resume from the cursor again. */
  frame(frame: ServerFrame): ApplyOutcome;
  status(status: LinkStatus): void;
  /** Asked after repeated failures: is the chat still there for us? `false` ends the connection. */
  probe?(): Promise<boolean>;
};

/** Close code the chat uses when it was deleted. */
export const CLOSE_CHAT_DELETED = 4404;
/** Close code of a listener connected for the longest allowed: reconnect (authenticating again). */
export const CLOSE_RECONNECT = 4001;
const PING_EVERY_MS = 25_000;
const PONG_WITHIN_MS = 10_000;
const MAX_DELAY_MS = 15_000;
const PROBE_AFTER_FAILURES = 3;

/** One socket or event source; `close` resolves once the browser has let go of it (null: already gone). */
type Attempt = { kind: "ws" | "sse"; close(): Promise<void> | null };

/** How long a closing WebSocket may take before we stop waiting for it. */
const CLOSE_WAIT_MS = 1_000;

export class Connection {
  readonly #path: string;
  readonly #t: Transport;
  readonly #h: ConnectionHandlers;
  #attempt: Attempt | null = null;
  #retryTimer: TimerId | null = null;
  #failures = 0;
  #wsWorked = false;
  #useSse = false;
  #stopped = false;
  #status: LinkStatus | null = null;
  /** The latest attempt that got to `ready`. */
  #readyAttempt: Attempt | null = null;
  /** The previous socket's close while it is under way: the next one opens only after it. */
  #closing: Promise<void> | null = null;

  /** `chatPath` is `/api/chats/<id>`; the stream endpoints hang off it. */
  constructor(chatPath: string, transport: Transport, handlers: ConnectionHandlers) {
    this.#path = chatPath;
    this.#t = transport;
    this.#h = handlers;
  }

  get transport(): "ws" | "sse" | null {
    return this.#attempt?.kind ?? null;
  }

  /** Opens the first socket, once `after` (another connection's close, if any) has settled. */
  start(after: Promise<void> | null = null): void {
    this.#setStatus("connecting");
    if (after) this.#waitFor(after);
    this.#open();
  }

  /** Closes for good; resolves once the socket is gone. */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#clearRetry();
    this.#drop();
    return this.#closing ?? Promise.resolve();
  }

  /** The network came back: try at once instead of waiting out the backoff. */
  retryNow(): void {
    if (this.#stopped || this.#retryTimer === null) return;
    this.#clearRetry();
    this.#open();
  }

  #setStatus(status: LinkStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    this.#h.status(status);
  }

  #clearRetry(): void {
    if (this.#retryTimer !== null) this.#t.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  #waitFor(closing: Promise<void>): void {
    this.#closing = closing;
    void closing.then(() => {
      if (this.#closing === closing) this.#closing = null;
    });
  }

  #drop(): void {
    const attempt = this.#attempt;
    this.#attempt = null;
    const closing = attempt?.close();
    if (closing) this.#waitFor(closing);
  }

  #open(): void {
    if (this.#stopped) return;
    this.#drop();
    const closing = this.#closing;
    if (closing === null) {
      this.#attempt = this.#connect();
      return;
    }
    // A placeholder holds the slot while the previous socket finishes closing.
    const waiting: Attempt = { kind: this.#useSse ? "sse" : "ws", close: () => null };
    this.#attempt = waiting;
    void closing.then(() => {
      if (this.#attempt === waiting && !this.#stopped) this.#attempt = this.#connect();
    });
  }

  #connect(): Attempt {
    const after = this.#h.cursor();
    return this.#useSse ? this.#openSse(after) : this.#openWs(after);
  }

  /** Hands a frame to the chat; false when this attempt must end (a gap). */
  #dispatch(attempt: Attempt, frame: ServerFrame): boolean {
    if (frame.type === "pong") return true;
    if (frame.type === "ready") {
      this.#failures = 0;
      this.#readyAttempt = attempt;
      if (attempt.kind === "ws") this.#wsWorked = true;
      this.#setStatus("live");
    }
    if (this.#h.frame(frame) === "gap") {
      console.warn("stream: gap in seqs, resuming from the cursor");
      this.#failed(attempt, true);
      return false;
    }
    return true;
  }

  /** An attempt ended badly; `reached`: it got through to the server (so the transport works). */
  #failed(attempt: Attempt, reached: boolean): void {
    if (this.#attempt !== attempt || this.#stopped) return;
    this.#drop();
    if (!reached) {
      // WebSockets that never opened, and never worked here, may be blocked: try SSE next; and back.
      if (attempt.kind === "ws" && !this.#wsWorked) this.#useSse = true;
      else if (attempt.kind === "sse") this.#useSse = false;
    }
    this.#failures++;
    this.#setStatus("reconnecting");
    const backoff = Math.min(MAX_DELAY_MS, 500 * 2 ** (this.#failures - 1));
    const delay = backoff * (0.75 + this.#t.random() * 0.5);
    this.#retryTimer = this.#t.setTimeout(() => {
      this.#retryTimer = null;
      void this.#retry();
    }, delay);
  }

  async #retry(): Promise<void> {
    if (this.#stopped) return;
    if (this.#h.probe && this.#failures >= PROBE_AFTER_FAILURES && this.#failures % PROBE_AFTER_FAILURES === 0) {
      const present = await this.#h.probe().catch(() => true);
      if (!present) {
        this.#gone();
        return;
      }
      if (this.#stopped || this.#retryTimer !== null) return;
    }
    this.#open();
  }

  #gone(): void {
    this.#stopped = true;
    this.#clearRetry();
    this.#drop();
    this.#setStatus("gone");
  }

  #openWs(after: number): Attempt {
    const socket: SocketLike = this.#t.webSocket(`${this.#path}/ws?after=${after}`);
    let opened = false;
    let pingTimer: TimerId | null = null;
    let pongTimer: TimerId | null = null;
    const stopTimers = () => {
      if (pingTimer !== null) this.#t.clearTimeout(pingTimer);
      if (pongTimer !== null) this.#t.clearTimeout(pongTimer);
      pingTimer = pongTimer = null;
    };
    const schedulePing = () => {
      if (pingTimer !== null) this.#t.clearTimeout(pingTimer);
      pingTimer = this.#t.setTimeout(() => {
        if (this.#attempt !== attempt) return;
        try {
          socket.send('{"type":"ping"}');
        } catch {
          // A socket that cannot send is closing; onclose follows.
        }
        pongTimer ??= this.#t.setTimeout(() => this.#failed(attempt, true), PONG_WITHIN_MS);
      }, PING_EVERY_MS);
    };
    let closed = false;
    const attempt: Attempt = {
      kind: "ws",
      close: () => {
        stopTimers();
        socket.onopen = socket.onmessage = socket.onerror = null;
        if (closed) {
          socket.onclose = null;
          return null;
        }
        return new Promise<void>((resolve) => {
          const timer = this.#t.setTimeout(resolve, CLOSE_WAIT_MS);
          socket.onclose = () => {
            this.#t.clearTimeout(timer);
            resolve();
          };
          try {
            socket.close(1000, "done");
          } catch {
            resolve();
          }
        });
      },
    };
    socket.onopen = () => {
      if (this.#attempt !== attempt) return;
      opened = true;
      schedulePing();
    };
    socket.onmessage = (event) => {
      if (this.#attempt !== attempt) return;
      if (pongTimer !== null) this.#t.clearTimeout(pongTimer);
      pongTimer = null;
      schedulePing();
      const decoded = decodeServerFrame(typeof event.data === "string" ? event.data : "");
      if (!decoded.ok) {
        console.error("stream: bad frame", decoded.error);
        this.#failed(attempt, true);
        return;
      }
      this.#dispatch(attempt, decoded.frame);
    };
    socket.onclose = (event) => {
      closed = true;
      if (this.#attempt !== attempt) return;
      stopTimers();
      if (event.code === CLOSE_CHAT_DELETED) this.#gone();
      // A planned close of a socket that worked: reconnect at once, quietly (still "live" to the
      // reader until the new socket says otherwise). One that never got to `ready` backs off.
      else if (event.code === CLOSE_RECONNECT && this.#readyAttempt === attempt) this.#open();
      else this.#failed(attempt, opened);
    };
    socket.onerror = () => {
      // onclose follows and decides.
    };
    return attempt;
  }

  #openSse(after: number): Attempt {
    const source: EventSourceLike = this.#t.eventSource(`${this.#path}/stream?after=${after}`);
    let reached = false;
    let pending: ReturnType<typeof parseEnvelope>[] = [];
    let flushTimer: TimerId | null = null;
    // EventSource hands over one event per task; applying them in batches keeps renders per frame.
    const flush = (): boolean => {
      if (flushTimer !== null) this.#t.clearTimeout(flushTimer);
      flushTimer = null;
      if (pending.length === 0 || this.#attempt !== attempt) return this.#attempt === attempt;
      const events = pending;
      pending = [];
      return this.#dispatch(attempt, { type: "events", events });
    };
    const attempt: Attempt = {
      kind: "sse",
      close: () => {
        if (flushTimer !== null) this.#t.clearTimeout(flushTimer);
        flushTimer = null;
        source.onopen = source.onerror = null;
        source.close();
        return null;
      },
    };
    source.onopen = () => {
      if (this.#attempt === attempt) reached = true;
    };
    source.onerror = () => {
      if (this.#attempt !== attempt) return;
      // The browser would reconnect by itself; we resume from our own cursor instead.
      if (!flush()) return;
      this.#failed(attempt, reached);
    };
    const onEvent = (event: { data: unknown }) => {
      if (this.#attempt !== attempt) return;
      try {
        pending.push(parseEnvelope(JSON.parse(String(event.data))));
      } catch (error: unknown) {
        console.error("stream: bad SSE event", error);
        this.#failed(attempt, true);
        return;
      }
      flushTimer ??= this.#t.setTimeout(flush, 0);
    };
    for (const kind of eventKinds) source.addEventListener(kind, onEvent);
    for (const type of ["ready", "reset"] as const) {
      source.addEventListener(type, (event) => {
        if (this.#attempt !== attempt || !flush()) return;
        let head: unknown;
        try {
          head = (JSON.parse(String(event.data)) as { head?: unknown }).head;
        } catch {
          head = undefined;
        }
        if (typeof head !== "number") {
          this.#failed(attempt, true);
          return;
        }
        this.#dispatch(attempt, { type, head });
      });
    }
    return attempt;
  }
}
