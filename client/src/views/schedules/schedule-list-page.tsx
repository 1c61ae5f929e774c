/**
 * The list of schedules, newest first, 20 at a time: each with its state (on, or paused and why),
 * its next run in its own zone, its rule and its failures in a row; "New schedule"; an empty state.
 */
import type { ComponentChildren } from "preact";
import { useEffect } from "preact/hooks";
import type { Schedule } from "../../api/schedules";
import { scheduleList } from "../../app-schedules";
import { schedulePath } from "../../models/router";
import { ErrorLine, MenuButton } from "../bits";
import { Link } from "../link";
import { inZone } from "./format";

export function ScheduleState({ schedule }: { schedule: Schedule }) {
  if (schedule.paused) {
    return (
      <span class="schedule-state paused">
        <span class="mark">paused</span> {schedule.paused.reason}
      </span>
    );
  }
  return (
    <span class="schedule-state on">
      <span class="mark">on</span>
    </span>
  );
}

function NextRun({ schedule }: { schedule: Schedule }) {
  if (schedule.nextRunAt === null) return <span class="muted">none while paused</span>;
  return (
    <time dateTime={new Date(schedule.nextRunAt).toISOString()}>
      {inZone(schedule.nextRunAt, schedule.timezone, schedule.nextRunLocal ?? undefined)}
    </time>
  );
}

/**
 * A schedule's facts as a list row and its own page show them: next run, rule, what `children`
 * adds, and the failures in a row.
 */
export function ScheduleFacts({ schedule, children }: { schedule: Schedule; children?: ComponentChildren }) {
  return (
    <dl class="facts">
      <div>
        <dt>Next run</dt>
        <dd class="next-run">
          <NextRun schedule={schedule} />
        </dd>
      </div>
      <div>
        <dt>Rule</dt>
        <dd>
          <code>{schedule.cron}</code> in {schedule.timezone}
        </dd>
      </div>
      {children}
      <div>
        <dt>Failures in a row</dt>
        <dd class={schedule.consecutiveFailures > 0 ? "error" : undefined}>{schedule.consecutiveFailures}</dd>
      </div>
    </dl>
  );
}

function Row({ schedule }: { schedule: Schedule }) {
  return (
    <li class="schedule-row" data-schedule-id={schedule.id}>
      <div class="schedule-row-head">
        <Link href={schedulePath(schedule.id)} class="schedule-name">
          {schedule.name}
        </Link>
        <ScheduleState schedule={schedule} />
      </div>
      <ScheduleFacts schedule={schedule} />
    </li>
  );
}

export function ScheduleListPage() {
  useEffect(() => {
    void scheduleList.refresh();
  }, []);
  const items = scheduleList.items.value;
  const empty = scheduleList.loaded.value && items.length === 0;
  return (
    <main class="page schedules" id="main">
      <MenuButton />
      <div class="page-head">
        <h1>Schedules</h1>
        <Link href="/schedules/new" class="button primary">
          + New schedule
        </Link>
      </div>
      <p class="muted small">
        A schedule sends a prompt to the agent on a cron rule in your time zone, in a new chat each time or in one chat
        of yours.
      </p>
      <ErrorLine text={scheduleList.error.value} />
      {!scheduleList.loaded.value && !scheduleList.error.value && (
        <p class="muted" role="status">
          Loading…
        </p>
      )}
      {empty && (
        <div class="card empty">
          <h2>No schedules yet</h2>
          <p>
            For example: every weekday at 07:30, “triage the new issues and summarise them”. Create one and watch its
            next runs appear as you type the rule.
          </p>
        </div>
      )}
      {items.length > 0 && (
        <ul class="schedule-list" aria-label="Your schedules">
          {items.map((s) => (
            <Row key={s.id} schedule={s} />
          ))}
        </ul>
      )}
      {scheduleList.nextCursor.value && (
        <button
          type="button"
          class="more"
          onClick={() => void scheduleList.loadMore()}
          disabled={scheduleList.loading.value}
        >
          {scheduleList.loading.value ? "Loading…" : "Show more schedules"}
        </button>
      )}
    </main>
  );
}
