/**
 * Cron math for schedules: validating a 5-field expression and an IANA zone, the next occurrences,
 * and what one tick does with a schedule that is due (the occurrence to run, the ones merged away,
 * the next one). Built on croner, which reads the expression in the zone and handles DST the way
 * Vixie cron does (see README "Scheduling"). Pure: no `cloudflare:*` import, the clock is an argument.
 */
import { Cron } from "croner";

export type CronSpec = { cron: string; timezone: string };

export type CronProblem = { code: "invalid_cron" | "invalid_timezone"; message: string };

/** Longest expression accepted (five fields with lists fit easily). */
export const MAX_CRON_CHARS = 120;
/** Missed occurrences are counted up to this many; past it the skipped row says "at least". */
export const MISSED_COUNT_CAP = 100;

const zonePattern = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/;

/**
 * The zone as stored, or null if unknown. The case is fixed (`europe/berlin` → `Europe/Berlin`);
 * a name the runtime maps to an older alias (`Asia/Kolkata` → `Asia/Calcutta`) is kept as given.
 */
export function canonicalZone(timezone: string): string | null {
  if (!zonePattern.test(timezone)) return null;
  try {
    const resolved = new Intl.DateTimeFormat("en-US", { timeZone: timezone }).resolvedOptions().timeZone;
    return resolved.toLowerCase() === timezone.toLowerCase() ? resolved : timezone;
  } catch {
    return null;
  }
}

/** The expression with single spaces between its fields (what is stored). */
export function normalizeCron(cron: string): string {
  return cron.trim().split(/\s+/).join(" ");
}

function job(spec: CronSpec): Cron {
  return new Cron(spec.cron, { timezone: spec.timezone, mode: "5-part", paused: true });
}

/**
 * Checks an expression and zone as a user typed them. Returns the stored form, or the problem.
 * Only five fields are accepted (no seconds, no year, no `@daily` nicknames or dates), and the
 * expression must fire at least once after `now` (`0 0 31 2 *` never does).
 */
export function checkCron(
  cron: string,
  timezone: string,
  now: number,
): { ok: true; spec: CronSpec } | ({ ok: false } & CronProblem) {
  const zone = canonicalZone(timezone);
  if (!zone) return { ok: false, code: "invalid_timezone", message: `Unknown IANA time zone "${timezone}"` };
  const expression = normalizeCron(cron);
  const fields = expression === "" ? 0 : expression.split(" ").length;
  if (expression.length > MAX_CRON_CHARS) {
    return { ok: false, code: "invalid_cron", message: `A cron expression has at most ${MAX_CRON_CHARS} characters` };
  }
  if (fields !== 5) {
    return {
      ok: false,
      code: "invalid_cron",
      message: `A cron expression has exactly 5 fields (minute hour day-of-month month day-of-week); this one has ${fields}`,
    };
  }
  let next: Date | null;
  try {
    next = job({ cron: expression, timezone: zone }).nextRun(new Date(now));
  } catch (error: unknown) {
    const detail = error instanceof Error ? error.message.replace(/^CronPattern:\s*/, "") : String(error);
    return { ok: false, code: "invalid_cron", message: `Invalid cron expression: ${detail}` };
  }
  if (!next) return { ok: false, code: "invalid_cron", message: "This cron expression never fires" };
  return { ok: true, spec: { cron: expression, timezone: zone } };
}

/** Compiled expressions, reused within one tick (many schedules share a few expressions). */
export class CronCache {
  readonly #jobs = new Map<string, Cron>();

  get(spec: CronSpec): Cron {
    const key = `${spec.timezone}\n${spec.cron}`;
    let compiled = this.#jobs.get(key);
    if (!compiled) {
      compiled = job(spec);
      this.#jobs.set(key, compiled);
    }
    return compiled;
  }
}

/** The next `count` occurrences strictly after `after` (ms, UTC). */
export function nextOccurrences(spec: CronSpec, after: number, count: number, cache = new CronCache()): number[] {
  return cache
    .get(spec)
    .nextRuns(count, new Date(after))
    .map((d) => d.getTime());
}

/** The first occurrence strictly after `after`, or null when there is none. */
export function nextOccurrence(spec: CronSpec, after: number, cache = new CronCache()): number | null {
  return cache.get(spec).nextRun(new Date(after))?.getTime() ?? null;
}

/** Occurrences a tick merged into one run: the first and last of them and how many (capped). */
export type Missed = { count: number; capped: boolean; first: number; last: number };

/** What a tick does with a due schedule. */
export type OccurrencePlan = {
  /** The occurrence that runs: the latest one at or before `now`. */
  runFor: number;
  /** Earlier due occurrences (after downtime), merged into this run; null when there were none. */
  missed: Missed | null;
  /** The schedule's next occurrence after `now`, or null when it never fires again. */
  next: number | null;
};

/**
 * Plans a due schedule: `nextRunAt` (an occurrence, at or before `now`) and every later one up to
 * `now` collapse into a single run for the latest of them, so downtime costs one run, not one per
 * missed slot.
 */
export function planOccurrence(
  spec: CronSpec,
  nextRunAt: number,
  now: number,
  cache = new CronCache(),
): OccurrencePlan {
  const compiled = cache.get(spec);
  const next = compiled.nextRun(new Date(now))?.getTime() ?? null;
  const second = compiled.nextRun(new Date(nextRunAt))?.getTime();
  if (second === undefined || second > now) return { runFor: nextRunAt, missed: null, next };
  // More than one occurrence is due: run the latest, count the others (up to the cap).
  const [runFor, last] = compiled.previousRuns(2, new Date(now + 1)).map((d) => d.getTime());
  if (runFor === undefined || last === undefined || last < nextRunAt) {
    return { runFor: nextRunAt, missed: null, next };
  }
  const upToCap = compiled
    .nextRuns(MISSED_COUNT_CAP, new Date(nextRunAt - 1))
    .map((d) => d.getTime())
    .filter((t) => t <= last);
  const capped = upToCap.length === MISSED_COUNT_CAP && upToCap.at(-1) !== last;
  return { runFor, missed: { count: upToCap.length, capped, first: nextRunAt, last }, next };
}

/** The instant as local time in the zone, ISO 8601 with its offset: `2026-03-29T03:00:00+02:00`. */
export function localIso(at: number, timezone: string): string {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: timezone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    timeZoneName: "longOffset",
  }).formatToParts(new Date(at));
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  const offset = part("timeZoneName").replace(/^GMT/, "") || "+00:00";
  return `${part("year")}-${part("month")}-${part("day")}T${part("hour")}:${part("minute")}:${part("second")}${offset}`;
}
