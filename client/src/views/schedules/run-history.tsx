/**
 * A schedule's runs, newest first, 20 at a time: when (in the schedule's zone), how it was started,
 * its state, its error (code and text) and a link to the chat it ran in. A live region says when a
 * run this page watched has ended.
 */
import type { Schedule, ScheduleRun } from "../../api/schedules";
import { chatPath } from "../../models/router";
import type { ScheduleDetail } from "../../models/schedule-detail";
import { ErrorLine } from "../bits";
import { Link } from "../link";
import { inZone, runError, runState } from "./format";

function RunChat({ run }: { run: ScheduleRun }) {
  if (!run.chat) return <span class="muted">no chat</span>;
  if (run.chat.deleted) return <span class="muted">chat deleted</span>;
  return (
    <Link href={chatPath(run.chat.id)} class="run-chat">
      Open chat<span class="visually-hidden">: {run.chat.title ?? "untitled"}</span>
    </Link>
  );
}

function Run({ run, timezone }: { run: ScheduleRun; timezone: string }) {
  const state = runState(run);
  const error = runError(run);
  return (
    <li class="run" data-run-id={run.id} data-status={state.key}>
      <div class="run-head">
        <time dateTime={new Date(run.scheduledFor).toISOString()}>{inZone(run.scheduledFor, timezone)}</time>
        <span class="muted small">{run.trigger === "manual" ? "run now" : "on schedule"}</span>
        <span class={`mark run-state-${state.key}`}>{state.label}</span>
        <RunChat run={run} />
      </div>
      {run.status === "skipped" && run.missed > 0 && (
        <p class="muted small">
          {run.missed} missed {run.missed === 1 ? "occurrence" : "occurrences"} while the service was down, run once as
          the latest.
        </p>
      )}
      {error && <p class="run-error small">{error}</p>}
    </li>
  );
}

export function RunHistory({ detail, schedule }: { detail: ScheduleDetail; schedule: Schedule }) {
  const runs = detail.runs.value;
  return (
    <section class="card" aria-labelledby="runs-h">
      <h2 id="runs-h">Run history</h2>
      <p class="visually-hidden" role="status">
        {detail.announcement.value ?? ""}
      </p>
      <ErrorLine text={detail.runsError.value} />
      {detail.runsLoaded.value && runs.length === 0 && (
        <p class="muted small">No runs yet. The first comes at the next run, or now with “Run now”.</p>
      )}
      {runs.length > 0 && (
        <ol class="runs" aria-label="Runs, newest first">
          {runs.map((run) => (
            <Run key={run.id} run={run} timezone={schedule.timezone} />
          ))}
        </ol>
      )}
      {detail.runsCursor.value && (
        <button type="button" class="more" onClick={() => void detail.moreRuns()} disabled={detail.runsLoading.value}>
          {detail.runsLoading.value ? "Loading…" : "Show older runs"}
        </button>
      )}
    </section>
  );
}
