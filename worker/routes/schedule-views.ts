/**
 * The public JSON shapes of schedules and their runs. Internal columns (owner ids, the `counted`
 * bookkeeping) never leave through here.
 */
import type { RunHistoryRow, ScheduleRow } from "../db/schedules";
import { localIso } from "../scheduler/cron";

export function scheduleView(row: ScheduleRow) {
  return {
    id: row.id,
    name: row.name,
    prompt: row.prompt,
    cron: row.cron,
    timezone: row.timezone,
    target: row.target === "chat" ? { type: "chat" as const, chatId: row.chatId } : { type: "new_chat" as const },
    model: row.model,
    permissionMode: row.permissionMode,
    enabled: row.enabled,
    nextRunAt: row.nextRunAt,
    nextRunLocal: row.nextRunAt === null ? null : localIso(row.nextRunAt, row.timezone),
    consecutiveFailures: row.consecutiveFailures,
    paused: row.enabled ? null : { code: row.pauseCode ?? "user", reason: row.pauseReason ?? "Paused." },
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export function runView({ run, chatTitle, messageStatus, messageError }: RunHistoryRow) {
  return {
    id: run.id,
    scheduleId: run.scheduleId,
    scheduledFor: run.scheduledFor,
    trigger: run.trigger,
    status: run.status,
    missed: run.status === "skipped" ? run.missed : 0,
    chat: run.chatId === null ? null : { id: run.chatId, title: chatTitle, deleted: chatTitle === null },
    userMessageId: run.userMessageId,
    message:
      run.assistantMessageId === null
        ? null
        : { id: run.assistantMessageId, status: messageStatus, error: messageError },
    errorCode: run.errorCode,
    errorText: run.errorText,
    dispatchAttempts: run.dispatchAttempts,
    claimedAt: run.claimedAt,
    dispatchedAt: run.dispatchedAt,
    endedAt: run.endedAt,
  };
}
