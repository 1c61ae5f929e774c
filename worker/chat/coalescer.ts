/**
 * Merges runs of text or thinking deltas of one message before the chat's writer gives them a seq,
 * so a token stream becomes a few events rather than one per token. Used by the chat's Durable
 * Object, which owns the clock and the timer. Invariant: drafts leave in arrival order, and the
 * concatenated text out equals the text in.
 */
import type { EventDraft } from "../protocol/events";
import { utf8ByteLength } from "./utf8";

export type CoalescerOptions = {
  /** How long the first pending delta may wait for company (ms). */
  windowMs?: number;
  /** Pending text is flushed once it reaches this many UTF-8 bytes. */
  maxBytes?: number;
};

type DeltaDraft = Extract<EventDraft, { kind: "text_delta" | "thinking_delta" }>;

type Pending = {
  kind: DeltaDraft["kind"];
  messageId: string | null;
  parts: string[];
  bytes: number;
  since: number;
};

function isDelta(draft: EventDraft): draft is DeltaDraft {
  return draft.kind === "text_delta" || draft.kind === "thinking_delta";
}

export class Coalescer {
  readonly windowMs: number;
  readonly maxBytes: number;
  #pending: Pending | null = null;

  constructor(opts: CoalescerOptions = {}) {
    this.windowMs = opts.windowMs ?? 25;
    this.maxBytes = opts.maxBytes ?? 4096;
  }

  /**
   * Takes one draft arriving at `now` and returns the drafts ready to append now, in order.
   * A delta may wait (the result is then empty); anything else flushes what waits, then itself.
   */
  push(draft: EventDraft, now: number): EventDraft[] {
    if (!isDelta(draft)) return [...this.flushAll(), draft];
    const out: EventDraft[] = [];
    const bytes = utf8ByteLength(draft.payload.text);
    const p = this.#pending;
    if (p !== null && (p.kind !== draft.kind || p.messageId !== draft.messageId || p.bytes + bytes > this.maxBytes)) {
      out.push(...this.flushAll());
    }
    if (this.#pending === null) {
      this.#pending = { kind: draft.kind, messageId: draft.messageId, parts: [], bytes: 0, since: now };
    }
    const pending = this.#pending;
    pending.parts.push(draft.payload.text);
    pending.bytes += bytes;
    if (pending.bytes >= this.maxBytes || now - pending.since >= this.windowMs) out.push(...this.flushAll());
    return out;
  }

  /** The pending delta once its window has passed at `now`, else nothing. */
  flushDue(now: number): EventDraft[] {
    const deadline = this.nextDeadline();
    return deadline !== null && now >= deadline ? this.flushAll() : [];
  }

  /** Everything pending, at once (a terminal event, shutdown). */
  flushAll(): EventDraft[] {
    const p = this.#pending;
    if (p === null) return [];
    this.#pending = null;
    return [{ kind: p.kind, messageId: p.messageId, payload: { text: p.parts.join("") } }];
  }

  /** When the caller should call `flushDue` next, or null when nothing waits. */
  nextDeadline(): number | null {
    return this.#pending === null ? null : this.#pending.since + this.windowMs;
  }

  get hasPending(): boolean {
    return this.#pending !== null;
  }
}
