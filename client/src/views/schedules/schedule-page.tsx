/**
 * One schedule: what it does and when it runs next (in its own zone), its actions (edit, pause or
 * resume, run now, delete after a confirmation) and its run history with a link to each run's chat.
 */
import { useSignal } from "@preact/signals";
import { useEffect, useMemo } from "preact/hooks";
import type { Schedule } from "../../api/schedules";
import { chatList } from "../../app";
import { scheduleDetail } from "../../app-schedules";
import { chatPath, navigate, schedulePath } from "../../models/router";
import type { ScheduleDetail } from "../../models/schedule-detail";
import { permissionModeLabels } from "../../models/settings";
import { ErrorLine, MenuButton } from "../bits";
import { Link } from "../link";
import { RunHistory } from "./run-history";
import { ScheduleFacts, ScheduleState } from "./schedule-list-page";

function Target({ schedule }: { schedule: Schedule }) {
  if (schedule.target.type === "new_chat") return <>a new chat for each run</>;
  if (schedule.target.chatId === null) return <span class="error">its chat was deleted: choose another target</span>;
  const chatId = schedule.target.chatId;
  const title = chatList.items.value.find((c) => c.id === chatId)?.title;
  return <Link href={chatPath(chatId)}>{title ? `the chat “${title}”` : "its chat"}</Link>;
}

function Actions({ detail, schedule }: { detail: ScheduleDetail; schedule: Schedule }) {
  const confirming = useSignal(false);
  const busy = detail.busy.value;
  if (confirming.value) {
    return (
      <div class="actions confirm">
        <span>Delete “{schedule.name}” and its run history?</span>
        <button type="button" class="danger" disabled={busy !== null} onClick={() => void detail.remove()}>
          {busy === "delete" ? "Deleting…" : "Delete"}
        </button>
        <button type="button" onClick={() => (confirming.value = false)}>
          Keep
        </button>
      </div>
    );
  }
  return (
    <div class="actions">
      <button
        type="button"
        class="primary"
        disabled={busy !== null}
        onClick={async () => {
          // A run in a new chat adds a chat: the list shows it without waiting for its next refresh.
          if ((await detail.runNow()) && schedule.target.type === "new_chat") void chatList.refresh();
        }}
      >
        {busy === "run" ? "Starting…" : "Run now"}
      </button>
      {schedule.enabled ? (
        <button type="button" disabled={busy !== null} onClick={() => void detail.pause()}>
          {busy === "pause" ? "Pausing…" : "Pause"}
        </button>
      ) : (
        <button type="button" disabled={busy !== null} onClick={() => void detail.resume()}>
          {busy === "resume" ? "Resuming…" : "Resume"}
        </button>
      )}
      <Link href={`${schedulePath(schedule.id)}/edit`} class="button">
        Edit
      </Link>
      <button type="button" class="danger" onClick={() => (confirming.value = true)}>
        Delete
      </button>
    </div>
  );
}

function Overview({ detail, schedule }: { detail: ScheduleDetail; schedule: Schedule }) {
  return (
    <section class="card" aria-labelledby="schedule-h">
      <div class="page-head">
        <h1 id="schedule-h">{schedule.name}</h1>
        <ScheduleState schedule={schedule} />
      </div>
      <ScheduleFacts schedule={schedule}>
        <div>
          <dt>Runs in</dt>
          <dd>
            <Target schedule={schedule} />
          </dd>
        </div>
        <div>
          <dt>Model</dt>
          <dd>
            {schedule.model} · {permissionModeLabels[schedule.permissionMode]}
          </dd>
        </div>
      </ScheduleFacts>
      <h2 class="small-h">Prompt</h2>
      <pre class="prompt">{schedule.prompt}</pre>
      <Actions detail={detail} schedule={schedule} />
      <ErrorLine text={detail.actionError.value} />
    </section>
  );
}

export function SchedulePage({ scheduleId }: { scheduleId: string }) {
  const detail = useMemo(() => scheduleDetail(scheduleId), [scheduleId]);
  useEffect(() => {
    void detail.load();
    return detail.watch(document);
  }, [detail]);
  useEffect(() => {
    if (detail.deleted.value) navigate("/schedules", { replace: true });
  }, [detail.deleted.value]);
  const schedule = detail.schedule.value;
  return (
    <main class="page schedules" id="main">
      <MenuButton />
      <p class="crumbs">
        <Link href="/schedules">← Schedules</Link>
      </p>
      {detail.notFound.value ? (
        <div class="card">
          <h1>No such schedule</h1>
          <p>It may have been deleted.</p>
        </div>
      ) : schedule ? (
        <>
          <Overview detail={detail} schedule={schedule} />
          <RunHistory detail={detail} schedule={schedule} />
        </>
      ) : (
        <>
          <ErrorLine text={detail.loadError.value} small={false} />
          {!detail.loadError.value && (
            <p class="muted" role="status">
              Loading…
            </p>
          )}
        </>
      )}
    </main>
  );
}
