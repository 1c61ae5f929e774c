/**
 * Helpers for schedule tests in the Workers pool: creating schedules through the real API, running
 * the worker's real `scheduled` handler (the Cron Trigger) at a chosen minute, and reading the
 * schedule and run rows it wrote. Each test file has its own D1, and a tick handles every due
 * schedule in it, so tests that tick remove their schedules when done (`clearSchedules`).
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../worker/index";
import { api, createChat, json, type Session } from "./helpers";
import { script, send, Watcher } from "./run-helpers";
import { room } from "./stream-helpers";

export type ScheduleView = {
  id: string;
  name: string;
  prompt: string;
  cron: string;
  timezone: string;
  target: { type: "new_chat" } | { type: "chat"; chatId: string | null };
  model: string;
  permissionMode: string;
  enabled: boolean;
  nextRunAt: number | null;
  nextRunLocal: string | null;
  consecutiveFailures: number;
  paused: { code: string; reason: string } | null;
  createdAt: number;
  updatedAt: number;
};

export type RunView = {
  id: string;
  scheduleId: string;
  scheduledFor: number;
  trigger: "schedule" | "manual";
  status: string;
  missed: number;
  chat: { id: string; title: string | null; deleted: boolean } | null;
  userMessageId: string | null;
  message: { id: string; status: string | null; error: string | null } | null;
  errorCode: string | null;
  errorText: string | null;
  dispatchAttempts: number;
  claimedAt: number;
  dispatchedAt: number | null;
  endedAt: number | null;
};

/** A cron that fires once a year: schedules made with it never come due while tests run. */
export const YEARLY = "0 7 1 1 *";

export async function createSchedule(session: Session, body: Record<string, unknown>): Promise<ScheduleView> {
  const res = await api("/api/schedules", {
    session,
    body: { name: "task", prompt: "say hello", cron: YEARLY, timezone: "UTC", target: { type: "new_chat" }, ...body },
  });
  if (res.status !== 201) throw new Error(`create schedule failed: ${res.status} ${await res.text()}`);
  return (await json<{ schedule: ScheduleView }>(res)).schedule;
}

export async function getSchedule(session: Session, id: string): Promise<ScheduleView> {
  const res = await api(`/api/schedules/${id}`, { session });
  if (res.status !== 200) throw new Error(`get schedule failed: ${res.status} ${await res.text()}`);
  return (await json<{ schedule: ScheduleView }>(res)).schedule;
}

export async function runsOf(session: Session, id: string): Promise<RunView[]> {
  const res = await api(`/api/schedules/${id}/runs?limit=100`, { session });
  if (res.status !== 200) throw new Error(`runs failed: ${res.status} ${await res.text()}`);
  return (await json<{ runs: RunView[] }>(res)).runs;
}

/** Runs the worker's Cron Trigger for the minute `at` and waits until it (sweep + scheduler) is done. */
export async function tick(at: number): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: at }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/** Puts a schedule's next occurrence at `at` (what it would be had it been created back then). */
export async function setNextRunAt(id: string, at: number): Promise<void> {
  await env.DB.prepare("UPDATE schedules SET next_run_at = ? WHERE id = ?").bind(at, id).run();
}

/** Removes every schedule of this test file's database (and their runs), so later ticks ignore them. */
export async function clearSchedules(): Promise<void> {
  await env.DB.prepare("DELETE FROM schedules").run();
}

export const at = (iso: string) => Date.parse(iso);

/** A chat kept busy by a run whose model never answers, so whatever else is sent to it queues. */
export type BusyChat = {
  id: string;
  watcher: Watcher;
  /** Removes every queued message, cancels the blocking run and waits for its end. */
  release(): Promise<void>;
};

export async function busyChat(session: Session): Promise<BusyChat> {
  const chat = await createChat(session, { permissionMode: "bypassPermissions" });
  const stall = await script([{ stallMs: 120_000 }]);
  const watcher = await Watcher.open(session, chat.id);
  const blocker = await send(session, chat.id, `${stall.marker} hold the chat`);
  await watcher.until((e) => e.kind === "run_started" && e.messageId === blocker.assistantMessageId, "the blocker");
  return {
    id: chat.id,
    watcher,
    async release() {
      for (const item of await queueOf(session, chat.id)) {
        await api(`/api/chats/${chat.id}/queue/${item.userMessageId}`, { session, method: "DELETE" });
      }
      await api(`/api/chats/${chat.id}/cancel`, { session, method: "POST" });
      await watcher.terminalOf(blocker.assistantMessageId);
      watcher.close();
    },
  };
}

export type QueueItem = { userMessageId: string; assistantMessageId: string; content: string };

export async function queueOf(session: Session, chatId: string): Promise<QueueItem[]> {
  return (await json<{ items: QueueItem[] }>(await api(`/api/chats/${chatId}/queue`, { session }))).items;
}

/** Copies the chat's outstanding events and snapshots to D1 now (what its outbox does within a second). */
export async function flushChat(chatId: string): Promise<void> {
  await room(chatId).flush(chatId);
}
