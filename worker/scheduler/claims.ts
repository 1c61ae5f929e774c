/**
 * Claiming due occurrences in D1, a page at a time: one read of due schedules, then one batch (one
 * transaction) that creates new chats, records merged occurrences, inserts the run rows and moves
 * each schedule's `next_run_at`, every statement conditioned on `next_run_at` still holding the value
 * the read saw (compare-and-set). A run row that the insert returns is this tick's to dispatch; two
 * ticks racing for one occurrence cannot both get it (the CAS, and the unique occurrence index).
 * Each statement takes the whole page as one JSON parameter, so the D1 work per page is constant.
 */
import type { PermissionMode } from "../db/chats";
import { type CronCache, localIso, MISSED_COUNT_CAP, planOccurrence } from "./cron";
import type { TickIo } from "./io";

/** A due schedule as the tick reads it. */
export type DueSchedule = {
  id: string;
  user_id: string;
  name: string;
  prompt: string;
  cron: string;
  timezone: string;
  target: "new_chat" | "chat";
  chat_id: string | null;
  model: string;
  permission_mode: PermissionMode;
  next_run_at: number;
  /** 1 when the target chat exists (and is the owner's); always 0 for `new_chat`. */
  chat_exists: number;
};

/** One claimed occurrence, ready to hand to its chat (or to fail, when the chat is gone). */
export type Claim = {
  runId: string;
  scheduleId: string;
  scheduledFor: number;
  /** Null when the target chat was deleted. */
  chatId: string | null;
  target: "new_chat" | "chat";
  userMessageId: string;
  assistantMessageId: string;
  prompt: string;
  model: string;
  permissionMode: PermissionMode;
};

/** What the claim batch writes for one schedule (short keys: it travels as JSON). */
type ClaimItem = {
  s: string;
  o: number;
  n: number | null;
  r?: string;
  f?: number;
  c?: string | null;
  nc?: 1;
  t?: string;
  u?: string;
  a?: string;
  ki?: string;
  kf?: number;
  kn?: number;
  kt?: string;
  pc?: string;
  pr?: string;
};

const SELECT_DUE = `SELECT s.id, s.user_id, s.name, s.prompt, s.cron, s.timezone, s.target, s.chat_id, s.model,
    s.permission_mode, s.next_run_at, (c.id IS NOT NULL) AS chat_exists
  FROM schedules s LEFT JOIN chats c ON c.id = s.chat_id AND c.user_id = s.user_id
  WHERE s.next_run_at <= ?1 AND s.enabled = 1
  ORDER BY s.next_run_at, s.id LIMIT ?2`;

/** The schedule of a claim item still has the `next_run_at` the tick read (and is enabled). */
const STILL_DUE = "s.next_run_at = j.value ->> 'o' AND s.enabled = 1";

const INSERT_CHATS = `INSERT INTO chats (id, user_id, title, model, permission_mode, created_at, updated_at)
  SELECT j.value ->> 'c', s.user_id, j.value ->> 't', s.model, s.permission_mode, ?2, ?2
  FROM json_each(?1) AS j JOIN schedules s ON s.id = j.value ->> 's'
  WHERE j.value ->> 'nc' = 1 AND ${STILL_DUE}
    AND NOT EXISTS (SELECT 1 FROM schedule_runs x WHERE x.schedule_id = s.id AND x.scheduled_for = j.value ->> 'f'
      AND x."trigger" = 'schedule')`;

const INSERT_SKIPPED = `INSERT INTO schedule_runs (id, schedule_id, scheduled_for, "trigger", status, missed, error_text,
    counted, claimed_at)
  SELECT j.value ->> 'ki', s.id, j.value ->> 'kf', 'schedule', 'skipped', j.value ->> 'kn', j.value ->> 'kt', 1, ?2
  FROM json_each(?1) AS j JOIN schedules s ON s.id = j.value ->> 's'
  WHERE j.value ->> 'ki' IS NOT NULL AND ${STILL_DUE}
  ON CONFLICT DO NOTHING`;

const INSERT_RUNS = `INSERT INTO schedule_runs (id, schedule_id, scheduled_for, "trigger", status, chat_id, user_message_id,
    assistant_message_id, claimed_at)
  SELECT j.value ->> 'r', s.id, j.value ->> 'f', 'schedule', 'pending', j.value ->> 'c', j.value ->> 'u', j.value ->> 'a', ?2
  FROM json_each(?1) AS j JOIN schedules s ON s.id = j.value ->> 's'
  WHERE j.value ->> 'r' IS NOT NULL AND ${STILL_DUE}
  ON CONFLICT DO NOTHING
  RETURNING id`;

/** The compare-and-set: moves `next_run_at` on, or pauses a schedule that has no next occurrence. */
const ADVANCE = `UPDATE schedules SET
    next_run_at = j.value ->> 'n',
    enabled = CASE WHEN j.value ->> 'n' IS NULL THEN 0 ELSE 1 END,
    pause_code = CASE WHEN j.value ->> 'n' IS NULL THEN j.value ->> 'pc' END,
    pause_reason = CASE WHEN j.value ->> 'n' IS NULL THEN j.value ->> 'pr' END,
    updated_at = CASE WHEN j.value ->> 'n' IS NULL THEN ?2 ELSE schedules.updated_at END
  FROM json_each(?1) AS j
  WHERE schedules.id = j.value ->> 's' AND schedules.next_run_at = j.value ->> 'o' AND schedules.enabled = 1`;

export async function selectDue(io: TickIo, now: number, limit: number): Promise<DueSchedule[]> {
  return io.all<DueSchedule>(io.db.prepare(SELECT_DUE).bind(now, limit));
}

/** The title of a chat a `new_chat` schedule makes for one run. */
function runChatTitle(name: string, scheduledFor: number, timezone: string): string {
  const when = localIso(scheduledFor, timezone).slice(0, 16).replace("T", " ");
  const suffix = ` · ${when}`;
  return `${name.slice(0, 200 - suffix.length)}${suffix}`;
}

function missedText(count: number, capped: boolean, first: number, last: number, runFor: number, zone: string) {
  const how = capped ? `At least ${MISSED_COUNT_CAP}` : String(count);
  const span = count === 1 ? localIso(first, zone) : `${localIso(first, zone)} to ${localIso(last, zone)}`;
  return `${how} missed occurrence${count === 1 ? "" : "s"} (${span}) ran once, as the run for ${localIso(runFor, zone)}.`;
}

/**
 * Plans and claims a page of due schedules in one batch. Returns the claims this tick won; the
 * others were claimed by a concurrent tick (or changed meanwhile) and are left alone.
 */
export async function claimDue(
  io: TickIo,
  rows: readonly DueSchedule[],
  now: number,
  clock: number,
  newId: () => string,
  cache: CronCache,
): Promise<Claim[]> {
  const items: ClaimItem[] = [];
  const planned = new Map<string, Claim>();
  for (const row of rows) {
    const spec = { cron: row.cron, timezone: row.timezone };
    let plan: ReturnType<typeof planOccurrence>;
    try {
      plan = planOccurrence(spec, row.next_run_at, now, cache);
    } catch (error: unknown) {
      // A stored expression this library can no longer read: pause rather than retry every minute.
      const reason = `The schedule cannot be computed (${error instanceof Error ? error.message : String(error)}); edit its cron expression.`;
      items.push({ s: row.id, o: row.next_run_at, n: null, pc: "invalid_cron", pr: reason });
      continue;
    }
    const claim: Claim = {
      runId: newId(),
      scheduleId: row.id,
      scheduledFor: plan.runFor,
      chatId: row.target === "new_chat" ? newId() : row.chat_exists ? row.chat_id : null,
      target: row.target,
      userMessageId: newId(),
      assistantMessageId: newId(),
      prompt: row.prompt,
      model: row.model,
      permissionMode: row.permission_mode,
    };
    const item: ClaimItem = {
      s: row.id,
      o: row.next_run_at,
      n: plan.next,
      r: claim.runId,
      f: plan.runFor,
      c: claim.chatId,
      u: claim.userMessageId,
      a: claim.assistantMessageId,
    };
    if (row.target === "new_chat") Object.assign(item, { nc: 1, t: runChatTitle(row.name, plan.runFor, row.timezone) });
    if (plan.missed) {
      const { count, capped, first, last } = plan.missed;
      Object.assign(item, {
        ki: newId(),
        kf: first,
        kn: count,
        kt: missedText(count, capped, first, last, plan.runFor, row.timezone),
      });
    }
    if (plan.next === null) {
      Object.assign(item, { pc: "no_occurrences", pr: "The cron expression has no further occurrences." });
    }
    items.push(item);
    planned.set(claim.runId, claim);
  }
  if (items.length === 0) return [];
  const list = JSON.stringify(items);
  const db = io.db;
  const results = await io.batch([
    db.prepare(INSERT_CHATS).bind(list, clock),
    db.prepare(INSERT_SKIPPED).bind(list, now),
    db.prepare(INSERT_RUNS).bind(list, now),
    db.prepare(ADVANCE).bind(list, clock),
  ]);
  const won = (results[2]?.results ?? []) as { id: string }[];
  return won.flatMap((r) => {
    const claim = planned.get(r.id);
    return claim ? [claim] : [];
  });
}

/** A run's hand-over result: `dispatched`/`queued`, or still `pending` with the error (retried later). */
export type Progress = {
  runId: string;
  status: "dispatched" | "queued" | "pending";
  attempted: boolean;
  error?: string;
};

const PROGRESS = `UPDATE schedule_runs SET
    status = j.value ->> 'st',
    dispatched_at = CASE WHEN j.value ->> 'st' = 'pending' THEN schedule_runs.dispatched_at
                         ELSE COALESCE(schedule_runs.dispatched_at, ?2) END,
    dispatch_attempts = schedule_runs.dispatch_attempts + (j.value ->> 'at'),
    error_text = CASE WHEN j.value ->> 'e' IS NULL THEN schedule_runs.error_text ELSE j.value ->> 'e' END
  FROM json_each(?1) AS j
  WHERE schedule_runs.id = j.value ->> 'r' AND schedule_runs.status IN ('pending', 'dispatched', 'queued')`;

/** One statement recording every hand-over result (never overwrites a run already settled). */
export function progressStatement(db: D1Database, progress: readonly Progress[], clock: number): D1PreparedStatement[] {
  if (progress.length === 0) return [];
  const list = JSON.stringify(
    progress.map((p) => ({ r: p.runId, st: p.status, at: p.attempted ? 1 : 0, e: p.error?.slice(0, 2000) ?? null })),
  );
  return [db.prepare(PROGRESS).bind(list, clock)];
}
