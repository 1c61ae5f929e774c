/**
 * Holds text and thinking deltas for a few milliseconds before the chat's writer gives them a
 * seq: consecutive deltas of one message and kind merge into one event, and everything waiting is
 * committed together (one multi-row insert), so a token stream becomes a few events and inserts.
 * Used by the chat's writer, which owns the clock and the timer. Invariants: drafts leave in
 * arrival order; the text out equals the text in; a group of drafts from one source (one provider
 * record) is committed entirely or not at all, so a stored cursor never splits a record.
 */
import type { EventDraft } from "../protocol/events";
import { utf8ByteLength } from "../protocol/utf8";

export type CoalescerOptions = {
  /** How long the first waiting delta may wait for company (ms). */
  windowMs?: number;
  /** What waits is committed once it reaches this many UTF-8 bytes. */
  maxBytes?: number;
};

type DeltaDraft = Extract<EventDraft, { kind: "text_delta" | "thinking_delta" }>;

/** One future event: consecutive deltas of one message and kind, from records first..last. */
type Waiting = {
  kind: DeltaDraft["kind"];
  messageId: string | null;
  parts: string[];
  firstSource: number | null;
  lastSource: number | null;
};

function isDelta(draft: EventDraft): draft is DeltaDraft {
  return draft.kind === "text_delta" || draft.kind === "thinking_delta";
}

export class Coalescer {
  readonly windowMs: number;
  readonly maxBytes: number;
  #waiting: Waiting[] = [];
  #bytes = 0;
  #since = 0;
  /** The group being pushed, and whether any of it was released yet. */
  #group: number | null = null;
  #groupReleased = false;

  constructor(opts: CoalescerOptions = {}) {
    this.windowMs = opts.windowMs ?? 25;
    this.maxBytes = opts.maxBytes ?? 4096;
  }

  /**
   * Takes the drafts of one source (a provider record's offset; null for none) arriving at `now`
   * and returns the drafts to commit now, in order. Deltas may wait; anything else releases what
   * waits, then itself. When part of a group was released, the rest of it is released too.
   */
  push(drafts: readonly EventDraft[], now: number, source: number | null = null): EventDraft[] {
    this.#group = source;
    this.#groupReleased = false;
    const out: EventDraft[] = [];
    for (const draft of drafts) this.#pushOne(draft, now, source, out);
    if (source !== null && this.#groupReleased && this.#waiting.some((w) => w.lastSource === source)) {
      this.#release(out);
    }
    this.#group = null;
    return out;
  }

  /** Takes one draft; what is released goes to `out`. */
  #pushOne(draft: EventDraft, now: number, source: number | null, out: EventDraft[]): void {
    if (!isDelta(draft)) {
      if (source !== null) this.#groupReleased = true;
      this.#release(out);
      out.push(draft);
      return;
    }
    const bytes = utf8ByteLength(draft.payload.text);
    if (this.#waiting.length > 0 && this.#bytes + bytes > this.maxBytes) this.#release(out);
    if (this.#waiting.length === 0) this.#since = now;
    const last = this.#waiting.at(-1);
    if (last !== undefined && last.kind === draft.kind && last.messageId === draft.messageId) {
      last.parts.push(draft.payload.text);
      last.lastSource = source ?? last.lastSource;
    } else {
      this.#waiting.push({
        kind: draft.kind,
        messageId: draft.messageId,
        parts: [draft.payload.text],
        firstSource: source,
        lastSource: source,
      });
    }
    this.#bytes += bytes;
    if (this.#bytes >= this.maxBytes || now - this.#since >= this.windowMs) this.#release(out);
  }

  /** Everything waiting, at once (the window passed, a terminal event, shutdown). */
  flushAll(): EventDraft[] {
    const out: EventDraft[] = [];
    this.#release(out);
    return out;
  }

  #release(out: EventDraft[]): void {
    if (this.#waiting.length === 0) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    this.#bytes = 0;
    for (const w of waiting) {
      if (this.#group !== null && w.lastSource === this.#group) this.#groupReleased = true;
      const text = w.parts.length === 1 ? (w.parts[0] ?? "") : w.parts.join("");
      out.push({ kind: w.kind, messageId: w.messageId, payload: { text } } as DeltaDraft);
    }
  }

  /** When the caller should call `flushAll` next, or null when nothing waits. */
  nextDeadline(): number | null {
    return this.#waiting.length === 0 ? null : this.#since + this.windowMs;
  }

  get hasPending(): boolean {
    return this.#waiting.length > 0;
  }

  /** The source of the oldest waiting delta: every earlier source is committed whole. */
  get oldestWaitingSource(): number | null {
    return this.#waiting[0]?.firstSource ?? null;
  }
}
