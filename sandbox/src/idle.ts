/**
 * Idle sandboxes: a sandbox nobody has used for `stopAfterMs` is stopped (every process it still has
 * is killed and its run state leaves memory; its files stay, so the next run wakes it and continues
 * the agent session), and, when `deleteAfterMs` is set, one idle that long is deleted to reclaim its
 * disk (the next PUT makes it anew, empty). Used by server.ts; routes report use with `touch`. A
 * sandbox with a live run or exec is never idle. Idle clocks start when the provider starts.
 */

export type IdleOptions = {
  /** 0 turns stopping off. */
  stopAfterMs: number;
  /** 0 keeps idle sandboxes' files until they are deleted through the API. */
  deleteAfterMs: number;
  now?: () => number;
};

export type IdleHooks = {
  ids(): string[];
  busy(sandboxId: string): boolean;
  isStopped(sandboxId: string): boolean;
  stop(sandboxId: string): Promise<void>;
  remove(sandboxId: string): Promise<void>;
  log(message: string): void;
};

export class IdleReaper {
  private readonly options: IdleOptions;
  private readonly hooks: IdleHooks;
  private readonly lastUse = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;

  constructor(options: IdleOptions, hooks: IdleHooks) {
    this.options = options;
    this.hooks = hooks;
    const enabled = [options.stopAfterMs, options.deleteAfterMs].filter((ms) => ms > 0);
    if (enabled.length > 0) {
      const every = Math.max(100, Math.min(60_000, Math.min(...enabled) / 4));
      this.timer = setInterval(() => void this.sweep(), every);
      this.timer.unref();
    }
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  touch(sandboxId: string): void {
    this.lastUse.set(sandboxId, this.now());
  }

  forget(sandboxId: string): void {
    this.lastUse.delete(sandboxId);
  }

  /** One pass over every sandbox; exposed so tests need not wait for the timer. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = this.now();
      for (const id of this.hooks.ids()) {
        if (this.hooks.busy(id)) {
          this.lastUse.set(id, now);
          continue;
        }
        const last = this.lastUse.get(id);
        if (last === undefined) {
          this.lastUse.set(id, now);
          continue;
        }
        const idle = now - last;
        try {
          if (this.options.deleteAfterMs > 0 && idle >= this.options.deleteAfterMs) {
            await this.hooks.remove(id);
            this.lastUse.delete(id);
            this.hooks.log(`sandbox ${id}: deleted after ${Math.round(idle / 1000)} s idle`);
          } else if (this.options.stopAfterMs > 0 && idle >= this.options.stopAfterMs && !this.hooks.isStopped(id)) {
            await this.hooks.stop(id);
          }
        } catch (err: unknown) {
          this.hooks.log(`sandbox ${id}: idle handling failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    } finally {
      this.sweeping = false;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
