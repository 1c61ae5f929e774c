/**
 * The ChatRoom Durable Object: the single writer of one chat. It assigns seq, stores events in its
 * SQLite, fans them out to listeners, copies them to D1 through the outbox, and drives the chat's
 * agent runs. Entry points stay thin: they decode, call the plain modules beside this file, persist
 * and broadcast.
 */
import { DurableObject } from "cloudflare:workers";
import { type EventDraft, isTerminalKind, parseDraft } from "../protocol/events";
import type { SandboxProvider } from "../sandbox/provider";
import { providerFromEnv } from "../sandbox/provider-for-env";
import { Coalescer } from "./coalescer";
import { type StreamConfig, streamConfig } from "./config";
import { EventLog } from "./event-log";
import { encodeEvents, type ListenerAttachment } from "./listener-frames";
import { acceptListener, CLOSE_CHAT_DELETED, CLOSE_INVALID_FRAME, closeAll, Fanout } from "./listeners";
import { OutboxDriver } from "./outbox-driver";
import { type PermissionOutcome, RunEngine, type SendOutcome, SetupError } from "./run-engine";
import { type QueueItem, type RunRequest, RunStore } from "./run-store";
import { prepareDraft } from "./truncate";

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
  #store: RunStore;
  #engine: RunEngine | null = null;
  readonly #config: StreamConfig;
  readonly #coalescer: Coalescer;
  #coalesceTimer: ReturnType<typeof setTimeout> | null = null;
  #alarmAt: number | null = null;
  #chatIdJson: string | undefined;
  readonly #outbox: OutboxDriver;
  readonly #fanout: Fanout;
  /**
   * Builds the sandbox provider client (an edge passed in, so tests can aim one chat at a fault
   * injector). Defaults to the configured provider.
   */
  providerFactory: () => SandboxProvider = () => this.#provider();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#log = new EventLog(ctx.storage.sql);
    this.#store = new RunStore(ctx.storage.sql);
    this.#config = streamConfig(env as unknown as Record<string, unknown>);
    this.#coalescer = new Coalescer({
      windowMs: this.#config.coalesceWindowMs,
      maxBytes: this.#config.coalesceMaxBytes,
    });
    this.#outbox = new OutboxDriver({
      log: () => this.#log,
      db: env.DB,
      config: this.#config,
      wakeAt: (at) => this.#ensureAlarm(at),
    });
    this.#fanout = new Fanout(ctx, this.#config.recentEventsChars);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    // A run that was streaming when this object was evicted or restarted: the watchdog re-attaches.
    if (this.#store.active()) this.#ensureAlarm(Date.now());
  }

  // ---- RPC: events -------------------------------------------------------------------------

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
    this.#emit(valid);
    return { ok: true, head: this.#log.head };
  }

  /** The newest seq (deltas still waiting to be merged are not appended yet). */
  async head(): Promise<number> {
    return this.#log.head;
  }

  /** Commits any waiting deltas, then copies everything outstanding to D1 now. */
  async flush(chatId: string): Promise<{ head: number; flushedSeq: number }> {
    this.#log.bindChat(chatId);
    this.#commitWaitingDeltas();
    await this.#outbox.flushNow();
    return { head: this.#log.head, flushedSeq: this.#log.flushedSeq };
  }

  /** Deletes the chat's storage and sandbox and closes its listeners (the chat was deleted). */
  async destroy(): Promise<void> {
    const chatId = this.#log.chatId;
    this.#engine?.cancel();
    if (chatId) {
      // The sandbox goes with the chat; a provider that is down now leaves it to the provider's own cleanup.
      try {
        await this.providerFactory().deleteSandbox(chatId);
      } catch (error: unknown) {
        console.warn(JSON.stringify({ msg: "sandbox not deleted with its chat", chatId, error: String(error) }));
      }
    }
    this.#fanout.clear();
    closeAll(this.ctx, CLOSE_CHAT_DELETED, "chat deleted");
    if (this.#coalesceTimer) clearTimeout(this.#coalesceTimer);
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.#log = new EventLog(this.ctx.storage.sql);
    this.#store = new RunStore(this.ctx.storage.sql);
    this.#engine = null;
  }

  // ---- RPC: runs ---------------------------------------------------------------------------

  async sendMessage(chatId: string, request: RunRequest, mode: "queue" | "now"): Promise<SendOutcome> {
    return this.#runs(chatId).send(request, mode);
  }

  async cancel(chatId: string): Promise<{ cancelled: boolean }> {
    return { cancelled: this.#runs(chatId).cancel() };
  }

  async listQueue(chatId: string): Promise<QueueItem[]> {
    this.#runs(chatId);
    return this.#store.queue();
  }

  async editQueued(chatId: string, userMessageId: string, content: string): Promise<boolean> {
    return this.#runs(chatId).editQueued(userMessageId, content);
  }

  async removeQueued(chatId: string, userMessageId: string): Promise<boolean> {
    return this.#runs(chatId).removeQueued(userMessageId);
  }

  async sendNow(chatId: string, userMessageId: string): Promise<boolean> {
    return this.#runs(chatId).sendNow(userMessageId);
  }

  async answerPermission(chatId: string, requestId: string, decision: "allow" | "deny"): Promise<PermissionOutcome> {
    return this.#runs(chatId).answerPermission(requestId, decision);
  }

  /**
   * The cron's sweep: D1 shows these messages `streaming` for a long while. Ends those with no run
   * behind them and re-attaches (or fails) the active run. Returns how many it ended.
   */
  async sweep(chatId: string, messageIds: string[]): Promise<{ ended: number }> {
    return { ended: this.#runs(chatId).sweep(messageIds) };
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
    acceptListener(this.ctx, this.#log, this.#fanout, chatId, pair[1], attachment);
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
    this.#commitWaitingDeltas();
    if (this.#log.chatId) this.#runs(this.#log.chatId).watchdog();
    await this.#outbox.flushNow();
  }

  // ---- internals ---------------------------------------------------------------------------

  #runs(chatId: string): RunEngine {
    this.#log.bindChat(chatId);
    this.#engine ??= new RunEngine({
      chatId,
      store: this.#store,
      emit: (drafts) => this.#emit(drafts),
      hasPendingDeltas: () => this.#coalescer.hasPending,
      status: (messageId) => this.#log.snapshot(messageId)?.snapshot.status,
      provider: () => this.providerFactory(),
      now: () => Date.now(),
      config: this.#config,
      armWatchdog: (at) => this.#ensureAlarm(at),
    });
    return this.#engine;
  }

  #provider(): SandboxProvider {
    const provider = providerFromEnv(this.env);
    if (!provider) {
      throw new SetupError(
        "sandbox_not_configured",
        "No sandbox provider is configured (SANDBOX_URL and SANDBOX_TOKEN).",
      );
    }
    return provider;
  }

  #emit(drafts: readonly EventDraft[]): void {
    const now = Date.now();
    // Everything the coalescer releases for this call is committed together: one insert, one frame.
    this.#commit(drafts.flatMap((draft) => this.#coalescer.push(draft, now)));
    this.#armCoalesceTimer();
  }

  #commitWaitingDeltas(): void {
    this.#commit(this.#coalescer.flushAll());
    this.#engine?.deltasCommitted();
  }

  #armCoalesceTimer(): void {
    const deadline = this.#coalescer.nextDeadline();
    if (deadline === null || this.#coalesceTimer) return;
    this.#coalesceTimer = setTimeout(
      () => {
        this.#coalesceTimer = null;
        this.#commitWaitingDeltas();
      },
      Math.max(0, deadline - Date.now()),
    );
  }

  /** Stores drafts (seq assigned), sends them to listeners, and schedules the D1 copy. */
  #commit(drafts: readonly EventDraft[]): void {
    if (drafts.length === 0) return;
    const chatId = this.#log.chatId;
    if (!chatId) throw new Error("ChatRoom used before it knows its chat");
    const prepared = drafts.flatMap((draft) => prepareDraft(draft));
    const events = this.#log.append(chatId, prepared, Date.now());
    this.#chatIdJson ??= JSON.stringify(chatId);
    this.#fanout.push(encodeEvents(this.#chatIdJson, events));
    this.#outbox.committed(
      drafts.some((d) => isTerminalKind(d.kind)),
      Date.now(),
    );
  }

  #ensureAlarm(at: number): void {
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }
}
