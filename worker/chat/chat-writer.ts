/**
 * The chat's single writer, used by the ChatRoom Durable Object: drafts from runs and queue changes
 * go through the coalescer, and what it releases is committed at once, in the caller's synchronous
 * turn: payloads fitted and serialized once, rows stored in the log (multi-row inserts), events
 * queued for listeners, the D1 copy scheduled. Deltas the coalescer holds are committed by its
 * timer, or before anything else is.
 */
import { type EventDraft, isTerminalKind } from "../protocol/events";
import { Coalescer } from "./coalescer";
import type { StreamConfig } from "./config";
import type { EventLog } from "./event-log";
import { encodeEvents } from "./listener-frames";
import type { Fanout } from "./listeners";
import type { OutboxDriver } from "./outbox-driver";
import { prepareDraft } from "./truncate";

export type WriterDeps = {
  /** The chat's log (replaced when the chat's storage is wiped). */
  log(): EventLog;
  fanout: Fanout;
  outbox: OutboxDriver;
  config: StreamConfig;
  /** Called after the timer committed waiting deltas (a run's stored cursor may move on). */
  afterTimerCommit(): void;
};

export class ChatWriter {
  readonly #d: WriterDeps;
  readonly #coalescer: Coalescer;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #chatIdJson: string | undefined;

  constructor(deps: WriterDeps) {
    this.#d = deps;
    this.#coalescer = new Coalescer({ windowMs: deps.config.coalesceWindowMs, maxBytes: deps.config.coalesceMaxBytes });
  }

  /**
   * Takes drafts from one source (a provider record's offset, or null): deltas may wait a few
   * milliseconds; everything else, and all that waited before it, is committed before this returns.
   */
  emit(drafts: readonly EventDraft[], source: number | null = null): void {
    this.#commit(this.#coalescer.push(drafts, Date.now(), source));
    this.#armTimer();
  }

  /** Commits every waiting delta now. */
  commitWaiting(): void {
    this.#commit(this.#coalescer.flushAll());
  }

  /** True while deltas wait to be committed. */
  get hasWaiting(): boolean {
    return this.#coalescer.hasPending;
  }

  /** The source of the oldest waiting delta: every earlier source is committed whole. */
  get oldestWaitingSource(): number | null {
    return this.#coalescer.oldestWaitingSource;
  }

  /** Drops what waits and stops the timer (the chat is being deleted). */
  discard(): void {
    this.#coalescer.flushAll();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #armTimer(): void {
    const deadline = this.#coalescer.nextDeadline();
    if (deadline === null || this.#timer) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        this.commitWaiting();
        this.#d.afterTimerCommit();
      },
      Math.max(0, deadline - Date.now()),
    );
  }

  /** Stores drafts (seq assigned), queues them for listeners, and schedules the D1 copy. */
  #commit(drafts: readonly EventDraft[]): void {
    if (drafts.length === 0) return;
    const log = this.#d.log();
    const chatId = log.chatId;
    if (!chatId) throw new Error("ChatRoom used before it knows its chat");
    const prepared = drafts.flatMap((draft) => prepareDraft(draft));
    const now = Date.now();
    const events = log.append(chatId, prepared, now);
    this.#chatIdJson ??= JSON.stringify(chatId);
    this.#d.fanout.push(encodeEvents(this.#chatIdJson, events));
    this.#d.outbox.committed(
      drafts.some((d) => isTerminalKind(d.kind)),
      now,
    );
  }
}
