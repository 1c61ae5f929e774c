/**
 * The ChatRoom Durable Object: the single writer of one chat. It assigns seq, stores events in its
 * SQLite, fans them out to listeners, copies them to D1 through the outbox, and drives the chat's
 * agent runs. Entry points stay thin: they decode, call the plain modules beside this file, persist
 * and broadcast. Its RPC surface is what the Worker needs; test and bench workers reach more
 * through `roomSeams`, a symbol key that RPC cannot name.
 */
import { DurableObject } from "cloudflare:workers";
import type { EventDraft } from "../protocol/events";
import type { SandboxProvider } from "../sandbox/provider";
import { providerFromEnv } from "../sandbox/provider-for-env";
import { ChatWriter } from "./chat-writer";
import { type StreamConfig, streamConfig } from "./config";
import { EventLog } from "./event-log";
import type { ListenerAttachment } from "./listener-frames";
import { acceptListener, CLOSE_CHAT_DELETED, CLOSE_INVALID_FRAME, closeAll, Fanout } from "./listeners";
import { OutboxDriver } from "./outbox-driver";
import { ownerModelKey, reportScheduledEnd } from "./run-edges";
import { type PermissionOutcome, RunEngine, type SendOutcome } from "./run-engine";
import { SetupError } from "./run-outcome";
import { type QueueItem, type RunRequest, RunStore } from "./run-store";

/** Headers the Worker sets when it hands a listener's upgrade request to the chat. */
export const LISTENER_HEADERS = {
  chatId: "x-chat-id",
  userId: "x-user-id",
  after: "x-after",
  format: "x-format",
} as const;

/** The key of the room's test seams: only code holding this symbol (test and bench workers) can call them. */
export const roomSeams: unique symbol = Symbol("ChatRoom seams");

export type RoomSeams = {
  /** Appends drafts of any kind, as the room's own runs do (a delta may wait in the coalescer). */
  emit(chatId: string, drafts: readonly EventDraft[]): void;
  head(): number;
  /** Commits waiting deltas and copies everything to D1 now, backoff or not. */
  flush(chatId: string): Promise<{ head: number; flushedSeq: number }>;
  /** Aims this object's runs at another provider until it is evicted. */
  useProvider(factory: () => SandboxProvider): void;
  /** Makes every listener `ms` older (as if connected that much earlier). */
  ageListeners(ms: number): void;
};

export class ChatRoom extends DurableObject<Env> {
  #log: EventLog;
  #store: RunStore;
  #engine: RunEngine | null = null;
  readonly #config: StreamConfig;
  #alarmAt: number | null = null;
  readonly #outbox: OutboxDriver;
  readonly #fanout: Fanout;
  readonly #writer: ChatWriter;
  #providerOverride: (() => SandboxProvider) | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#log = new EventLog(ctx.storage.sql);
    this.#store = new RunStore(ctx.storage.sql);
    this.#config = streamConfig(env as unknown as Record<string, unknown>);
    this.#outbox = new OutboxDriver({
      log: () => this.#log,
      db: env.DB,
      config: this.#config,
      wakeAt: (at) => this.#ensureAlarm(at),
    });
    this.#fanout = new Fanout(ctx, {
      recentChars: this.#config.recentEventsChars,
      listenerMaxAgeMs: this.#config.wsMaxMs,
    });
    this.#writer = new ChatWriter({
      log: () => this.#log,
      fanout: this.#fanout,
      outbox: this.#outbox,
      config: this.#config,
      afterTimerCommit: () => this.#engine?.afterDeltasCommitted(),
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    // A run that was streaming when this object was evicted or restarted: the watchdog re-attaches.
    if (this.#store.active()) this.#ensureAlarm(Date.now());
  }

  // ---- RPC: runs ---------------------------------------------------------------------------

  async sendMessage(chatId: string, request: RunRequest, mode: "queue" | "now"): Promise<SendOutcome> {
    if (this.#log.deleted) return { status: "gone" };
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
   * behind them and re-attaches (or fails) the active run; an active run that is merely quiet (a
   * prompt waiting for its user) gets its D1 row touched, so the next sweeps look at others first.
   */
  async sweep(chatId: string, messageIds: string[]): Promise<{ ended: number }> {
    const { ended, active } = this.#runs(chatId).sweep(messageIds);
    if (active !== null) {
      await this.env.DB.prepare("UPDATE messages SET updated_at = ? WHERE id = ? AND status = 'streaming'")
        .bind(Date.now(), active)
        .run();
    }
    return { ended };
  }

  /**
   * Deletes everything of the chat here (the chat's D1 rows are already gone): stops its run
   * without starting the next, closes listeners, wipes storage (keeping only a deleted mark, so a
   * send that raced the delete starts nothing), then deletes the sandbox at the provider, which
   * stops any agent still there. Throws when the provider part fails; calling it again (the cron
   * retries) finishes the job, also on a wiped object.
   */
  async destroy(chatId: string): Promise<void> {
    await this.#engine?.stop();
    this.#writer.discard();
    await this.#outbox.stop();
    this.#fanout.clear();
    closeAll(this.ctx, CLOSE_CHAT_DELETED, "chat deleted");
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.#alarmAt = null;
    this.#log = new EventLog(this.ctx.storage.sql);
    this.#log.markDeleted(Date.now());
    this.#store = new RunStore(this.ctx.storage.sql);
    this.#engine = null;
    await this.#provider().deleteSandbox(chatId);
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
    this.#writer.commitWaiting();
    this.#engine?.afterDeltasCommitted();
    if (this.#log.chatId) this.#runs(this.#log.chatId).watchdog();
    await this.#outbox.whenDue(Date.now());
  }

  // ---- test seams (not RPC) ----------------------------------------------------------------

  [roomSeams](): RoomSeams {
    return {
      emit: (chatId, drafts) => {
        this.#log.bindChat(chatId);
        this.#writer.emit(drafts);
      },
      head: () => this.#log.head,
      flush: async (chatId) => {
        this.#log.bindChat(chatId);
        this.#writer.commitWaiting();
        await this.#outbox.flushNow();
        return { head: this.#log.head, flushedSeq: this.#log.flushedSeq };
      },
      useProvider: (factory) => {
        this.#providerOverride = factory;
      },
      ageListeners: (ms) => this.#fanout.ageListeners(ms),
    };
  }

  // ---- internals ---------------------------------------------------------------------------

  #runs(chatId: string): RunEngine {
    this.#log.bindChat(chatId);
    this.#engine ??= new RunEngine({
      chatId,
      store: this.#store,
      emit: (drafts, source) => this.#writer.emit(drafts, source),
      oldestWaitingSource: () => this.#writer.oldestWaitingSource,
      status: (messageId) => this.#log.snapshot(messageId)?.snapshot.status,
      provider: () => this.#provider(),
      modelKey: () => ownerModelKey(this.env, chatId),
      now: () => Date.now(),
      config: this.#config,
      armWatchdog: (at) => this.#ensureAlarm(at),
      ended: (request, terminal) => {
        if (request.source === "schedule") reportScheduledEnd(this.env, this.ctx, request.assistantMessageId, terminal);
      },
    });
    return this.#engine;
  }

  #provider(): SandboxProvider {
    if (this.#providerOverride) return this.#providerOverride();
    const setup = providerFromEnv(this.env);
    if (!setup.ok) throw new SetupError(setup.code, setup.message);
    return setup.provider;
  }

  #ensureAlarm(at: number): void {
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }
}
