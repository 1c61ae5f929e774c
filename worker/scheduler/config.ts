/**
 * Tunables of the scheduler, read from the environment with defaults (README "Scheduling").
 * Tests and the bench override them through bindings; a malformed value falls back to the default.
 */
export type SchedulerConfig = {
  /** Failed runs in a row that pause a schedule. */
  maxFailures: number;
  /**
   * Subrequests (D1 queries and chat calls) one tick may issue. Workers Paid allows 10,000 per
   * invocation by default; the tick keeps 1,000 of them for the stuck-message sweep beside it.
   */
  subrequestBudget: number;
  /** Chat calls in flight at once. */
  concurrency: number;
  /** Due schedules read, claimed and dispatched per round (one D1 read, two D1 batches). */
  pageSize: number;
  /** A claimed run not handed to its chat after this long (a crashed tick) is handed again. */
  pendingGraceMs: number;
  /** Hand-over attempts before a run that never reached its chat fails. */
  maxDispatchAttempts: number;
};

type ConfigEnv = Partial<Record<string, unknown>>;

function int(env: ConfigEnv, key: string, fallback: number, min: number): number {
  const raw = env[key];
  const value = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
  return Number.isSafeInteger(value) && value >= min ? value : fallback;
}

export function schedulerConfig(env: ConfigEnv): SchedulerConfig {
  return {
    maxFailures: int(env, "SCHEDULE_MAX_FAILURES", 3, 1),
    subrequestBudget: int(env, "SCHEDULER_SUBREQUESTS", 9000, 10),
    concurrency: int(env, "SCHEDULER_CONCURRENCY", 32, 1),
    pageSize: int(env, "SCHEDULER_PAGE_SIZE", 500, 1),
    pendingGraceMs: int(env, "SCHEDULER_PENDING_GRACE_MS", 3 * 60_000, 0),
    maxDispatchAttempts: int(env, "SCHEDULER_DISPATCH_ATTEMPTS", 3, 1),
  };
}
