/**
 * "Run now": one run of a schedule outside its cron, asked for by its owner. It goes the same way
 * as a claimed occurrence (a `manual` run row, a new chat for `new_chat` schedules, the same
 * hand-over to the chat and the same settlement), and it leaves `next_run_at` alone, so the
 * schedule's own occurrences run as before. It works on a paused schedule too.
 */
import type { ScheduleRow } from "../db/schedules";
import type { Progress } from "./claims";
import { progressStatement } from "./claims";
import { localIso } from "./cron";
import { type Dispatch, dispatchAll } from "./dispatch";
import { TickIo } from "./io";

export type RunNowDeps = { db: D1Database; dispatch: Dispatch; clock: () => number; newId: () => string };

export type RunNowResult = { ok: true; runId: string; progress: Progress } | { ok: false; reason: "chat_deleted" };

export async function runNow(deps: RunNowDeps, schedule: ScheduleRow): Promise<RunNowResult> {
  const { db } = deps;
  const now = deps.clock();
  let chatId: string;
  const statements: D1PreparedStatement[] = [];
  if (schedule.target === "new_chat") {
    chatId = deps.newId();
    const when = localIso(now, schedule.timezone).slice(0, 16).replace("T", " ");
    const title = `${schedule.name.slice(0, 180)} · ${when}`;
    statements.push(
      db
        .prepare(
          `INSERT INTO chats (id, user_id, title, model, permission_mode, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(chatId, schedule.userId, title, schedule.model, schedule.permissionMode, now, now),
    );
  } else {
    const chat = schedule.chatId
      ? await db
          .prepare("SELECT id FROM chats WHERE id = ? AND user_id = ?")
          .bind(schedule.chatId, schedule.userId)
          .first<{ id: string }>()
      : null;
    if (!chat) return { ok: false, reason: "chat_deleted" };
    chatId = chat.id;
  }
  const run = {
    runId: deps.newId(),
    chatId,
    userMessageId: deps.newId(),
    assistantMessageId: deps.newId(),
    prompt: schedule.prompt,
    model: schedule.model,
    permissionMode: schedule.permissionMode,
  };
  statements.push(
    db
      .prepare(
        `INSERT INTO schedule_runs (id, schedule_id, scheduled_for, "trigger", status, chat_id, user_message_id,
           assistant_message_id, claimed_at)
         VALUES (?, ?, ?, 'manual', 'pending', ?, ?, ?, ?)`,
      )
      .bind(run.runId, schedule.id, now, chatId, run.userMessageId, run.assistantMessageId, now),
  );
  await db.batch(statements);
  const io = new TickIo(db, Number.POSITIVE_INFINITY);
  const [progress] = await dispatchAll(io, [run], deps.dispatch, 1);
  if (!progress) throw new Error("run now: no hand-over result");
  await db.batch(progressStatement(db, [progress], deps.clock()));
  return { ok: true, runId: run.runId, progress };
}
