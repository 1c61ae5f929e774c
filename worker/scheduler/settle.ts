/**
 * How a scheduled run's outcome lands in D1: the run row gets its terminal status, and the
 * schedule's count of failures in a row moves (a failure adds one, a completion restarts it, a
 * cancel leaves it), pausing the schedule with its reason at the limit or when its target chat is
 * gone. Used by the tick's reconciliation and, through `reportRunOutcome`, by the chat's Durable
 * Object when a run ends. Invariant: each run is counted once, whichever path settles it first and
 * however often either repeats (three statements in one transaction; `counted` marks the done).
 */
import { type SchedulerConfig, schedulerConfig } from "./config";
import { CHAT_DELETED, type RunOutcome } from "./run-types";

export type { RunOutcome, RunOutcomeStatus } from "./run-types";

const OPEN = "('pending', 'dispatched', 'queued')";
const SETTLED = "('completed', 'failed', 'cancelled')";
/** The schedules that own the runs named in the JSON list ?1. */
const OWNERS = `SELECT r0.schedule_id FROM schedule_runs r0
  WHERE r0.assistant_message_id IN (SELECT value ->> 'm' FROM json_each(?1))`;

/** Settles open runs from ?1: `[{m, st, ec, et, at}]`. */
const SETTLE_RUNS = `UPDATE schedule_runs
  SET status = j.value ->> 'st', error_code = j.value ->> 'ec', error_text = j.value ->> 'et', ended_at = j.value ->> 'at'
  FROM json_each(?1) AS j
  WHERE schedule_runs.assistant_message_id = j.value ->> 'm' AND schedule_runs.status IN ${OPEN}`;

/**
 * Folds the settled, not yet counted runs of those schedules into each schedule's failure count
 * (in the order they were scheduled) and pauses it at ?3 failures in a row or when its target chat
 * was deleted; ?2 is the time. A schedule paused already keeps its own reason.
 */
const COUNT_OUTCOMES = `UPDATE schedules SET
    consecutive_failures = x.failures,
    enabled = CASE WHEN x.pause_code IS NOT NULL THEN 0 ELSE schedules.enabled END,
    next_run_at = CASE WHEN x.pause_code IS NOT NULL THEN NULL ELSE schedules.next_run_at END,
    pause_code = COALESCE(x.pause_code, schedules.pause_code),
    pause_reason = CASE WHEN x.pause_code IS NOT NULL THEN x.pause_reason ELSE schedules.pause_reason END,
    updated_at = CASE WHEN x.pause_code IS NOT NULL THEN ?2 ELSE schedules.updated_at END
  FROM (
    SELECT y.id, y.failures,
      CASE WHEN y.enabled = 1 AND y.gone = 1 THEN '${CHAT_DELETED}'
           WHEN y.enabled = 1 AND y.fails > 0 AND y.failures >= ?3 THEN 'failures' END AS pause_code,
      CASE WHEN y.gone = 1 THEN 'The target chat was deleted. Choose another target, then resume.'
           ELSE 'Paused after ' || y.failures || ' failed runs in a row. Last error: ' || COALESCE(y.last_error, 'unknown') END
        AS pause_reason
    FROM (
      SELECT a.id, s.enabled, a.fails, a.gone,
        CASE WHEN a.last_ok IS NULL THEN s.consecutive_failures + a.fails
             ELSE (SELECT COUNT(*) FROM schedule_runs r2 WHERE r2.schedule_id = a.id AND r2.counted = 0
                     AND r2.status = 'failed' AND r2.scheduled_for > a.last_ok) END AS failures,
        (SELECT substr(r3.error_text, 1, 500) FROM schedule_runs r3 WHERE r3.schedule_id = a.id AND r3.counted = 0
           AND r3.status = 'failed' ORDER BY r3.scheduled_for DESC LIMIT 1) AS last_error
      FROM (
        SELECT r.schedule_id AS id,
          MAX(CASE WHEN r.status = 'completed' THEN r.scheduled_for END) AS last_ok,
          SUM(r.status = 'failed') AS fails,
          MAX(r.status = 'failed' AND r.error_code = '${CHAT_DELETED}') AS gone
        FROM schedule_runs r
        WHERE r.counted = 0 AND r.status IN ${SETTLED} AND r.schedule_id IN (${OWNERS})
        GROUP BY r.schedule_id
      ) AS a JOIN schedules s ON s.id = a.id
    ) AS y
  ) AS x
  WHERE schedules.id = x.id`;

const MARK_COUNTED = `UPDATE schedule_runs SET counted = 1
  WHERE counted = 0 AND status IN ${SETTLED} AND schedule_id IN (${OWNERS})`;

/** The three statements that settle `outcomes` and count them; run them in one batch. */
export function settleStatements(
  db: D1Database,
  outcomes: readonly RunOutcome[],
  now: number,
  maxFailures: number,
): D1PreparedStatement[] {
  if (outcomes.length === 0) return [];
  const list = JSON.stringify(
    outcomes.map((o) => ({
      m: o.assistantMessageId,
      st: o.status,
      ec: o.errorCode ?? null,
      et: o.errorText === undefined || o.errorText === null ? null : o.errorText.slice(0, 2000),
      at: o.endedAt,
    })),
  );
  return [
    db.prepare(SETTLE_RUNS).bind(list),
    db.prepare(COUNT_OUTCOMES).bind(list, now, maxFailures),
    db.prepare(MARK_COUNTED).bind(list),
  ];
}

/**
 * Reports how a schedule-sourced run ended (the chat's Durable Object calls this when a message
 * with `source: "schedule"` reaches its terminal event). Idempotent, and harmless for a message
 * that is not a scheduled run or whose schedule was deleted. Returns whether this call settled it
 * (false when the tick's reconciliation, or an earlier report, already had).
 */
export async function reportRunOutcome(
  db: D1Database,
  outcome: RunOutcome,
  config: Pick<SchedulerConfig, "maxFailures"> = schedulerConfig({}),
): Promise<{ settled: boolean }> {
  const [settled] = await db.batch(settleStatements(db, [outcome], Date.now(), config.maxFailures));
  return { settled: (settled?.meta.changes ?? 0) > 0 };
}
