/**
 * Drives the outbox for the ChatRoom: one flush loop at a time (a request during a flush makes it
 * go round once more), every `flushIntervalMs` while the chat is busy, at once after a terminal
 * event, and after a failure not before an exponential backoff has passed, whatever wakes the
 * object meanwhile (the watchdog's alarm, another terminal event). The alarm itself belongs to the
 * Durable Object; this module only asks for one.
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
  #stopped = false;

  constructor(deps: OutboxDriverDeps) {
    this.#d = deps;
  }

  /** Events were committed: copy them soon after a terminal event, else at the next cadence tick. */
  committed(terminal: boolean, now: number): void {
    if (terminal) void this.whenDue(now);
    else this.#d.wakeAt(Math.max(now + this.#d.config.flushIntervalMs, this.#retryNotBefore));
  }

  /** Flushes now unless a failed write's backoff has not passed yet (then the alarm comes back for it). */
  whenDue(now: number): Promise<void> {
    if (now < this.#retryNotBefore) {
      this.#d.wakeAt(this.#retryNotBefore);
      return this.#flushing ?? Promise.resolve();
    }
    return this.flushNow();
  }

  /** Flushes now, backoff or not (an explicit request). */
  flushNow(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#flushing) {
      this.#again = true;
      return this.#flushing;
    }
    this.#flushing = this.#loop().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  /** No flush starts from now on (the chat is being deleted); resolves when the running one ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#flushing;
  }

  async #loop(): Promise<void> {
    const chatId = this.#d.log().chatId;
    if (!chatId) return;
    try {
      let result: FlushResult | null;
      do {
        this.#again = false;
        result = await flushOutbox(this.#d.log(), this.#d.db, chatId);
      } while (!this.#stopped && (result?.more || this.#again));
      this.#failures = 0;
      this.#retryNotBefore = 0;
    } catch (error: unknown) {
      if (this.#stopped) return;
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
