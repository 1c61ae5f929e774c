/**
 * How the schedules pages word things: a time in a schedule's own zone, a run's state, a pause
 * reason, the browser's zone and the zones to pick from.
 */
import type { ScheduleRun } from "../../api/schedules";
import { runIsOpen } from "../../models/schedule-detail";

const formats = new Map<string, Intl.DateTimeFormat | null>();

function formatFor(timezone: string): Intl.DateTimeFormat | null {
  if (!formats.has(timezone)) {
    try {
      formats.set(
        timezone,
        new Intl.DateTimeFormat(undefined, {
          timeZone: timezone,
          weekday: "short",
          year: "numeric",
          month: "short",
          day: "numeric",
          hour: "2-digit",
          minute: "2-digit",
          hourCycle: "h23",
          timeZoneName: "short",
        }),
      );
    } catch {
      // A zone the server knows but this browser does not.
      formats.set(timezone, null);
    }
  }
  return formats.get(timezone) ?? null;
}

/** A moment as a person in `timezone` reads it ("Mon, Mar 2, 2026, 07:30 GMT+1"). */
export function inZone(at: number, timezone: string, fallback?: string): string {
  return formatFor(timezone)?.format(at) ?? fallback ?? new Date(at).toISOString();
}

export function browserZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** Every IANA zone this browser knows, for the zone picker's suggestions (any zone may be typed). */
export function knownZones(): readonly string[] {
  const intl = Intl as { supportedValuesOf?: (key: string) => string[] };
  try {
    return typeof intl.supportedValuesOf === "function" ? intl.supportedValuesOf("timeZone") : [];
  } catch {
    return [];
  }
}

const runLabels: Record<ScheduleRun["status"], string> = {
  pending: "Starting",
  dispatched: "Running",
  queued: "Queued in its chat",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
  skipped: "Skipped",
};

/** A run's state: the run row's, or its chat message's when that already ended (D1 knows first). */
export function runState(run: ScheduleRun): { key: string; label: string } {
  const messageStatus = run.message?.status;
  if (!runIsOpen(run) || !messageStatus) return { key: run.status, label: runLabels[run.status] };
  const key = messageStatus === "streaming" ? "dispatched" : messageStatus;
  return { key, label: key in runLabels ? runLabels[key as ScheduleRun["status"]] : messageStatus };
}

/** The error a run ended with, as `code: text`, or null. */
export function runError(run: ScheduleRun): string | null {
  if (run.errorCode || run.errorText) return [run.errorCode, run.errorText].filter(Boolean).join(": ");
  return run.message?.status === "failed" && run.message.error ? run.message.error : null;
}
