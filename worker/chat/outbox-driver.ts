/**
 * Drives the outbox for the ChatRoom: one flush loop at a time (a request during a flush makes it
 * go round once more), every `flushIntervalMs` while the chat is busy, at once after a terminal
 * event, and after a failure not before an exponential backoff has passed. The alarm itself belongs
 * to the Durable Object; this module only asks for one.
 */
import type { StreamConfig } from "./config";
import type { EventLog } from "./event-log";
import { type FlushResult, flushOutbox } from "./outbox";

export type OutboxDriverDeps = {
  /** The chat's log (replaced when the chat's storage is wiped). */
  log(): EventLog;
  db: D1Database;
  config: StreamConfig;
  /** Asks for an alarm no later than `at`. */
  wakeAt(at: number): void;
};

export class OutboxDriver {
  readonly #d: OutboxDriverDeps;
  #flushing: Promise<void> | null = null;
  #again = false;
  #failures = 0;
  /** After a failed D1 write, no retry before this time, however busy the chat is. */
  #retryNotBefore = 0;

  constructor(deps: OutboxDriverDeps) {
    this.#d = deps;
  }

  /** Events were committed: copy them now after a terminal event, else at the next cadence tick. */
  committed(terminal: boolean, now: number): void {
    if (terminal) void this.flushNow();
    else this.#d.wakeAt(Math.max(now + this.#d.config.flushIntervalMs, this.#retryNotBefore));
  }

  flushNow(): Promise<void> {
    if (this.#flushing) {
      this.#again = true;
      return this.#flushing;
    }
    this.#flushing = this.#loop().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  async #loop(): Promise<void> {
    const chatId = this.#d.log().chatId;
    if (!chatId) return;
    try {
      let result: FlushResult | null;
      do {
        this.#again = false;
        result = await flushOutbox(this.#d.log(), this.#d.db, chatId);
      } while (result?.more || this.#again);
      this.#failures = 0;
      this.#retryNotBefore = 0;
    } catch (error: unknown) {
      this.#failures += 1;
      const { flushRetryBaseMs, flushRetryMaxMs } = this.#d.config;
      const delay = Math.min(flushRetryMaxMs, flushRetryBaseMs * 2 ** Math.min(this.#failures - 1, 16));
      console.warn(
        JSON.stringify({
          msg: "D1 flush failed; retrying",
          chatId,
          attempt: this.#failures,
          delay,
          error: String(error),
        }),
      );
      this.#retryNotBefore = Date.now() + delay;
      this.#d.wakeAt(this.#retryNotBefore);
    }
  }
}
