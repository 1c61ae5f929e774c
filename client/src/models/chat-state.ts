/**
 * One chat as the client holds it: message snapshots folded by the protocol's own reducer, the
 * queue, the seq cursor and what the view needs (timeline order, running messages). Owned by the
 * stream store, rendered by the chat view. Invariants: an event whose seq is not above the cursor
 * is never applied twice, and a snapshot is only ever replaced by one with a higher `lastSeq`.
 */
import { batch, computed, type ReadonlySignal, type Signal, signal } from "@preact/signals";
import type { Envelope } from "../../../worker/protocol/events";
import { isTerminalStatus, type MessageSnapshot, reduce } from "../../../worker/protocol/snapshot";
import type { Chat, ChatDetail, MessagePage, MessageView, QueueItem } from "../api/schemas";

export type ConnectionStatus = "idle" | "loading" | "connecting" | "live" | "reconnecting" | "gone" | "error";

/** A run that just ended while this client watched (for announcements), never from a page load. */
export type Finished = { messageId: string; status: "completed" | "failed" | "cancelled"; seq: number };

export type ApplyOutcome = "ok" | "gap";

export class ChatState {
  readonly chatId: string;
  readonly meta = signal<Chat | null>(null);
  readonly queue = signal<readonly QueueItem[]>([]);
  /** Assistant messages whose status is `streaming` (normally zero or one). */
  readonly streaming = signal<readonly string[]>([]);
  /** Messages this client sent and has not yet seen finish: they keep the chat connected. */
  readonly expecting = signal<readonly string[]>([]);
  /** How the newest finished run ended. */
  readonly lastRun = signal<{ status: Finished["status"]; seq: number } | null>(null);
  readonly finished = signal<Finished | null>(null);
  readonly connection = signal<ConnectionStatus>("idle");
  readonly error = signal<string | null>(null);
  readonly loaded = signal(false);
  readonly hasOlder = signal(false);
  readonly loadingOlder = signal(false);
  /** Highest seq applied (the stream's resume cursor); a signal for views, `cursor` for the stream. */
  readonly head = signal(0);
  /** Bumped when messages appear, pair up or change status: what the timeline depends on. */
  readonly #structure = signal(0);
  readonly #messages = new Map<string, Signal<MessageSnapshot>>();
  readonly #replyOf = new Map<string, string>();
  readonly #promptOf = new Map<string, string>();
  /** When this page last stopped streaming the chat (epoch ms): how fresh its state is. */
  disconnectedAt: number | null = null;
  /** When each assistant message started running (epoch ms), for the header's elapsed time. */
  readonly startedAt = new Map<string, number>();
  #oldestSeq: number | null = null;
  #cursor = 0;

  /** Message ids in reading order: each reply right after its prompt, queued ones left out. */
  readonly timeline: ReadonlySignal<readonly string[]>;
  /** True while something runs, waits in the queue, or was just sent: the stream stays open. */
  readonly busy: ReadonlySignal<boolean>;

  constructor(chatId: string) {
    this.chatId = chatId;
    this.timeline = computed(() => {
      this.#structure.value;
      return this.#order();
    });
    this.busy = computed(
      () => this.streaming.value.length > 0 || this.queue.value.length > 0 || this.expecting.value.length > 0,
    );
  }

  get cursor(): number {
    return this.#cursor;
  }

  message(id: string): ReadonlySignal<MessageSnapshot> | undefined {
    return this.#messages.get(id);
  }

  /** The prompt a reply answers (null when unknown, e.g. on a page not loaded yet). */
  promptOf(assistantMessageId: string): MessageSnapshot | null {
    const userId = this.#promptOf.get(assistantMessageId);
    return userId ? (this.#messages.get(userId)?.peek() ?? null) : null;
  }

  /** First load: the snapshots of `GET /api/chats/:id` and the seq they hold, where the stream resumes. */
  loadDetail(detail: ChatDetail): void {
    batch(() => {
      this.meta.value = detail.chat;
      if (!this.loaded.peek()) {
        this.#cursor = detail.resumeAfter;
        this.head.value = detail.resumeAfter;
        this.queue.value = detail.queue;
        this.hasOlder.value = detail.hasMoreMessages;
        this.loaded.value = true;
      }
      this.#merge(detail.messages);
      // Replies older than the page (queued before their prompt ran): shown with their prompt,
      // but the page, not they, says where older history starts.
      this.#merge(detail.olderReplies, false);
    });
  }

  /** An older page (`before=` paging): only adds what is missing or newer. */
  addOlder(page: MessagePage): void {
    batch(() => {
      this.#merge(page.messages);
      this.hasOlder.value = page.nextBefore !== null;
    });
  }

  get oldestSeq(): number | null {
    return this.#oldestSeq;
  }

  /**
   * Applies events in seq order. Drops any seq at or below the cursor (already applied); reports a
   * gap (a seq past cursor + 1) without applying it, so the stream can resume from the cursor.
   */
  apply(events: readonly Envelope[]): ApplyOutcome {
    const changed = new Map<string, MessageSnapshot>();
    let structural = false;
    let outcome: ApplyOutcome = "ok";
    let queue: readonly QueueItem[] | null = null;
    let finished: Finished | null = null;
    const streaming = new Set(this.streaming.peek());
    const expecting = new Set(this.expecting.peek());
    let lastRun = this.lastRun.peek();
    for (const event of events) {
      if (event.seq <= this.#cursor) continue;
      if (event.seq !== this.#cursor + 1) {
        outcome = "gap";
        break;
      }
      this.#cursor = event.seq;
      if (event.messageId === null) {
        if (event.kind === "queue_updated") queue = event.payload.items;
        continue;
      }
      const id = event.messageId;
      const before = changed.get(id) ?? this.#messages.get(id)?.peek();
      const after = reduce(before, event);
      if (after === before) continue;
      changed.set(id, after);
      if (!before || before.status !== after.status) structural = true;
      if (event.kind === "user_message") {
        this.#pair(id, event.payload.assistantMessageId);
        structural = true;
      } else if (event.kind === "run_started") {
        this.startedAt.set(id, event.at);
        this.#pair(event.payload.userMessageId, id);
      }
      if (after.role === "assistant") {
        if (after.status === "streaming") streaming.add(id);
        else streaming.delete(id);
        if (isTerminalStatus(after.status)) {
          expecting.delete(id);
          if (before && !isTerminalStatus(before.status)) {
            finished = { messageId: id, status: after.status as Finished["status"], seq: event.seq };
            lastRun = { status: finished.status, seq: event.seq };
          }
        }
      }
    }
    batch(() => {
      for (const [id, snapshot] of changed) {
        const existing = this.#messages.get(id);
        if (existing) existing.value = snapshot;
        else this.#messages.set(id, signal(snapshot));
      }
      if (queue !== null) this.queue.value = queue;
      if (!sameIds(streaming, this.streaming.peek())) this.streaming.value = [...streaming];
      if (!sameIds(expecting, this.expecting.peek())) this.expecting.value = [...expecting];
      if (finished) this.finished.value = finished;
      if (lastRun !== this.lastRun.peek()) this.lastRun.value = lastRun;
      if (this.head.peek() !== this.#cursor) this.head.value = this.#cursor;
      if (structural) this.#structure.value++;
    });
    return outcome;
  }

  /** The server's `reset`: the cursor was unusable, everything is replayed from seq 1. */
  reset(): void {
    batch(() => {
      this.#messages.clear();
      this.#replyOf.clear();
      this.#promptOf.clear();
      this.startedAt.clear();
      this.#cursor = 0;
      this.#oldestSeq = null;
      this.head.value = 0;
      this.queue.value = [];
      this.streaming.value = [];
      this.lastRun.value = null;
      this.hasOlder.value = false;
      this.#structure.value++;
    });
  }

  /** A message this client just sent: keep the chat connected until it finishes. */
  expect(assistantMessageId: string): void {
    const current = this.#messages.get(assistantMessageId)?.peek();
    if (current && isTerminalStatus(current.status)) return;
    if (!this.expecting.peek().includes(assistantMessageId)) {
      this.expecting.value = [...this.expecting.peek(), assistantMessageId];
    }
  }

  #pair(userMessageId: string, assistantMessageId: string): void {
    this.#replyOf.set(userMessageId, assistantMessageId);
    this.#promptOf.set(assistantMessageId, userMessageId);
  }

  #merge(views: readonly MessageView[], paging = true): void {
    let structural = false;
    const streaming = new Set(this.streaming.peek());
    let lastRun = this.lastRun.peek();
    for (const view of views) {
      const snapshot = view.snapshot;
      if (paging) this.#oldestSeq = Math.min(this.#oldestSeq ?? snapshot.createdSeq, snapshot.createdSeq);
      if (view.assistantMessageId) {
        this.#pair(view.id, view.assistantMessageId);
        structural = true;
      }
      const existing = this.#messages.get(view.id);
      if (existing && existing.peek().lastSeq >= snapshot.lastSeq) continue;
      if (existing) existing.value = snapshot;
      else this.#messages.set(view.id, signal(snapshot));
      structural = true;
      if (snapshot.role !== "assistant") continue;
      if (snapshot.status === "streaming") {
        streaming.add(view.id);
        if (!this.startedAt.has(view.id)) this.startedAt.set(view.id, view.createdAt);
      } else streaming.delete(view.id);
      if (isTerminalStatus(snapshot.status) && snapshot.lastSeq > (lastRun?.seq ?? -1)) {
        lastRun = { status: snapshot.status as Finished["status"], seq: snapshot.lastSeq };
      }
    }
    if (!sameIds(streaming, this.streaming.peek())) this.streaming.value = [...streaming];
    if (lastRun !== this.lastRun.peek()) this.lastRun.value = lastRun;
    if (structural) this.#structure.value++;
  }

  #hidden(s: MessageSnapshot): boolean {
    if (s.role !== "assistant") return false;
    // A queued reply shows as a chip above the composer; one removed from the queue never ran.
    if (s.status === "queued") return true;
    return s.status === "cancelled" && s.blocks.length === 0 && !this.#promptOf.has(s.messageId);
  }

  #order(): string[] {
    const all = [...this.#messages.values()].map((s) => s.peek());
    all.sort((a, b) => a.createdSeq - b.createdSeq);
    const out: string[] = [];
    for (const s of all) {
      if (s.role === "assistant") {
        const prompt = this.#promptOf.get(s.messageId);
        if (prompt !== undefined && this.#messages.has(prompt)) continue;
        if (!this.#hidden(s)) out.push(s.messageId);
        continue;
      }
      const replyId = this.#replyOf.get(s.messageId);
      const reply = replyId === undefined ? undefined : this.#messages.get(replyId)?.peek();
      // A prompt waiting in the queue shows as a chip above the composer, not in the timeline.
      if (reply?.status === "queued") continue;
      out.push(s.messageId);
      if (reply && replyId !== undefined && !this.#hidden(reply)) out.push(replyId);
    }
    return out;
  }
}

function sameIds(set: ReadonlySet<string>, list: readonly string[]): boolean {
  return set.size === list.length && list.every((id) => set.has(id));
}
