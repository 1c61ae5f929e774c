/**
 * The newest events of a chat, encoded, kept in memory while its Durable Object is awake: a
 * listener that reconnects with a recent cursor (a refreshed tab, a dropped connection) replays
 * from here without reading SQLite or encoding envelopes again. Bounded by a character budget;
 * the oldest entries go first. Invariant: the entries are consecutive seqs ending at the newest
 * event committed by this instance, so any seq from the first entry on can be served from here.
 */
import type { EncodedEvent } from "./listener-frames";

export class RecentEvents {
  readonly #maxChars: number;
  #entries: EncodedEvent[] = [];
  /** Index of the oldest live entry (evicted ones stay until the array is compacted). */
  #start = 0;
  #chars = 0;

  constructor(maxChars: number) {
    this.#maxChars = maxChars;
  }

  /** Appends freshly committed events (consecutive, after the newest held). */
  push(events: readonly EncodedEvent[]): void {
    if (this.#maxChars <= 0) return;
    for (const event of events) {
      this.#entries.push(event);
      this.#chars += event.json.length;
    }
    while (this.#chars > this.#maxChars && this.#start < this.#entries.length) {
      this.#chars -= this.#entries[this.#start]?.json.length ?? 0;
      this.#start += 1;
    }
    if (this.#start > 1024 && this.#start * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#start);
      this.#start = 0;
    }
  }

  /**
   * Every event from `seq` up to `head`, or null when they are not all held (older than the
   * window, or committed before this instance started).
   */
  from(seq: number, head: number): readonly EncodedEvent[] | null {
    if (seq > head) return [];
    const first = this.#entries[this.#start];
    const last = this.#entries.at(-1);
    if (!first || !last || seq < first.seq || last.seq !== head) return null;
    return this.#entries.slice(this.#start + (seq - first.seq));
  }

  clear(): void {
    this.#entries = [];
    this.#start = 0;
    this.#chars = 0;
  }
}
