/**
 * The ChatRoom Durable Object: the single writer of one chat. It assigns seq, stores events in its
 * SQLite, fans them out to listeners, and copies them to D1 in batches through the outbox. Entry
 * points stay thin: they decode, call the plain modules beside this file, persist and broadcast.
 */
import { DurableObject } from "cloudflare:workers";
import { type EventDraft, isTerminalKind, parseDraft } from "../protocol/events";
import { Coalescer } from "./coalescer";
import { type StreamConfig, streamConfig } from "./config";
import { EventLog } from "./event-log";
import type { ListenerAttachment } from "./listener-frames";
import { acceptListener, broadcast, CLOSE_CHAT_DELETED, CLOSE_INVALID_FRAME, closeAll } from "./listeners";
import { type FlushResult, flushOutbox } from "./outbox";
import { fitDraft } from "./truncate";

/** Headers the Worker sets when it hands a listener's upgrade request to the chat. */
export const LISTENER_HEADERS = {
  chatId: "x-chat-id",
  userId: "x-user-id",
  after: "x-after",
  format: "x-format",
} as const;

export type AppendResult = { ok: true; head: number } | { ok: false; error: string };

export class ChatRoom extends DurableObject<Env> {
  #log: EventLog;
  readonly #config: StreamConfig;
  readonly #coalescer: Coalescer;
  #coalesceTimer: ReturnType<typeof setTimeout> | null = null;
  #alarmAt: number | null = null;
  #flushing: Promise<void> | null = null;
  #flushAgain = false;
  #flushFailures = 0;
  /** After a failed D1 write, no retry before this time (backoff), however busy the chat is. */
  #retryNotBefore = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#log = new EventLog(ctx.storage.sql);
    this.#config = streamConfig(env as unknown as Record<string, unknown>);
    this.#coalescer = new Coalescer({
      windowMs: this.#config.coalesceWindowMs,
      maxBytes: this.#config.coalesceMaxBytes,
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }

  // ---- RPC surface -------------------------------------------------------------------------

  /**
   * Appends events (validated; oversized payloads cut or split to fit). Text and thinking deltas
   * may wait a few milliseconds to be merged; everything else is stored and sent before this returns.
   * A malformed draft rejects the whole call and appends nothing.
   */
  async append(
    chatId: string,
    drafts: { kind: string; messageId: string | null; payload: unknown }[],
  ): Promise<AppendResult> {
    this.#log.bindChat(chatId);
    const valid: EventDraft[] = [];
    for (const [index, draft] of drafts.entries()) {
      try {
        valid.push(parseDraft(draft));
      } catch (error: unknown) {
        return { ok: false, error: `event ${index}: ${error instanceof Error ? error.message : String(error)}` };
      }
    }
    for (const draft of valid) this.#push(draft);
    return { ok: true, head: this.#log.head };
  }

  /** The newest seq, counting deltas still waiting to be merged as not yet appended. */
  async head(): Promise<number> {
    return this.#log.head;
  }

  /** Commits any waiting deltas, then copies everything outstanding to D1 now. */
  async flush(chatId: string): Promise<{ head: number; flushedSeq: number }> {
    this.#log.bindChat(chatId);
    this.#commit(this.#coalescer.flushAll());
    await this.#flushNow();
    return { head: this.#log.head, flushedSeq: this.#log.flushedSeq };
  }

  /** Deletes the chat's storage and closes its listeners (the chat was deleted). */
  async destroy(): Promise<void> {
    closeAll(this.ctx, CLOSE_CHAT_DELETED, "chat deleted");
    if (this.#coalesceTimer) clearTimeout(this.#coalesceTimer);
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.#log = new EventLog(this.ctx.storage.sql);
  }

  // ---- listeners ---------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const h = request.headers;
    const chatId = h.get(LISTENER_HEADERS.chatId);
    const userId = h.get(LISTENER_HEADERS.userId);
    const after = Number(h.get(LISTENER_HEADERS.after) ?? "0");
    const format = h.get(LISTENER_HEADERS.format) === "sse" ? "sse" : "ws";
    if (!chatId || !userId || !Number.isSafeInteger(after) || after < 0) {
      return new Response("bad listener request", { status: 400 });
    }
    this.#log.bindChat(chatId);
    const pair = new WebSocketPair();
    const attachment: ListenerAttachment = { userId, format, after, connectedAt: Date.now() };
    acceptListener(this.ctx, this.#log, chatId, pair[1], attachment);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Pings are answered by the auto-response without waking us; nothing else is expected.
    if (message === '{"type":"ping"}') {
      socket.send('{"type":"pong"}');
      return;
    }
    socket.close(CLOSE_INVALID_FRAME, "unexpected frame");
  }

  override async webSocketClose(socket: WebSocket, code: number, reason: string): Promise<void> {
    try {
      socket.close(code === 1005 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
  }

  // ---- time --------------------------------------------------------------------------------

  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    this.#commit(this.#coalescer.flushAll());
    await this.#flushNow();
  }

  // ---- internals ---------------------------------------------------------------------------

  #push(draft: EventDraft): void {
    this.#commit(this.#coalescer.push(draft, Date.now()));
    this.#armCoalesceTimer();
  }

  #armCoalesceTimer(): void {
    const deadline = this.#coalescer.nextDeadline();
    if (deadline === null || this.#coalesceTimer) return;
    this.#coalesceTimer = setTimeout(
      () => {
        this.#coalesceTimer = null;
        this.#commit(this.#coalescer.flushAll());
      },
      Math.max(0, deadline - Date.now()),
    );
  }

  /** Stores drafts (seq assigned), sends them to listeners, and schedules the D1 copy. */
  #commit(drafts: readonly EventDraft[]): void {
    if (drafts.length === 0) return;
    const chatId = this.#log.chatId;
    if (!chatId) throw new Error("ChatRoom used before it knows its chat");
    const fitted = drafts.flatMap((d) => fitDraft(d));
    const envelopes = this.#log.append(chatId, fitted, Date.now());
    broadcast(this.ctx, envelopes);
    if (envelopes.some((e) => isTerminalKind(e.kind))) void this.#flushNow();
    else this.#ensureAlarm(Date.now() + this.#config.flushIntervalMs);
  }

  #ensureAlarm(wanted: number): void {
    const at = Math.max(wanted, this.#retryNotBefore);
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  /** Runs one flush loop at a time; a request during a flush makes it go round once more. */
  #flushNow(): Promise<void> {
    if (this.#flushing) {
      this.#flushAgain = true;
      return this.#flushing;
    }
    this.#flushing = this.#flushLoop().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  async #flushLoop(): Promise<void> {
    const chatId = this.#log.chatId;
    if (!chatId) return;
    try {
      let result: FlushResult | null;
      do {
        this.#flushAgain = false;
        result = await flushOutbox(this.#log, this.env.DB, chatId);
      } while (result?.more || this.#flushAgain);
      this.#flushFailures = 0;
      this.#retryNotBefore = 0;
    } catch (error: unknown) {
      this.#flushFailures += 1;
      const delay = Math.min(
        this.#config.flushRetryMaxMs,
        this.#config.flushRetryBaseMs * 2 ** Math.min(this.#flushFailures - 1, 16),
      );
      console.warn(
        JSON.stringify({
          msg: "D1 flush failed; retrying",
          chatId,
          attempt: this.#flushFailures,
          delay,
          error: String(error),
        }),
      );
      this.#retryNotBefore = Date.now() + delay;
      this.#alarmAt = null;
      this.#ensureAlarm(this.#retryNotBefore);
    }
  }
}
