/**
 * Queries for schedules and their run history, as the API uses them. Every schedule query takes the
 * owner's user id, so another user's schedule is indistinguishable from one that does not exist;
 * run history is read only through a schedule already found this way. (The tick's bulk claims and
 * settlements are in worker/scheduler/.)
 */
import { and, count, desc, eq, lt, or } from "drizzle-orm";
import type { Db } from "./client";
import { chats, messages, scheduleRuns, schedules } from "./schema";

export type ScheduleRow = typeof schedules.$inferSelect;
export type ScheduleRunRow = typeof scheduleRuns.$inferSelect;
export type SchedulePatch = Partial<Omit<ScheduleRow, "id" | "userId" | "createdAt">>;

/** Position in a newest-first list: the last row of the previous page. */
export type ListCursor = { at: number; id: string };

export async function insertSchedule(db: Db, row: ScheduleRow): Promise<void> {
  await db.insert(schedules).values(row);
}

export async function countSchedules(db: Db, userId: string): Promise<number> {
  const row = await db.select({ n: count() }).from(schedules).where(eq(schedules.userId, userId)).get();
  return row?.n ?? 0;
}

export async function findSchedule(db: Db, userId: string, id: string): Promise<ScheduleRow | undefined> {
  return db
    .select()
    .from(schedules)
    .where(and(eq(schedules.id, id), eq(schedules.userId, userId)))
    .get();
}

/** One page, newest first; fetches one extra row to know whether another page exists. */
export async function listSchedules(
  db: Db,
  userId: string,
  limit: number,
  after: ListCursor | null,
): Promise<{ rows: ScheduleRow[]; next: ListCursor | null }> {
  const position = after
    ? or(lt(schedules.createdAt, after.at), and(eq(schedules.createdAt, after.at), lt(schedules.id, after.id)))
    : undefined;
  const rows = await db
    .select()
    .from(schedules)
    .where(and(eq(schedules.userId, userId), position))
    .orderBy(desc(schedules.createdAt), desc(schedules.id))
    .limit(limit + 1)
    .all();
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, next: rows.length > limit && last ? { at: last.createdAt, id: last.id } : null };
}

export async function updateSchedule(
  db: Db,
  userId: string,
  id: string,
  patch: SchedulePatch,
): Promise<ScheduleRow | undefined> {
  const rows = await db
    .update(schedules)
    .set(patch)
    .where(and(eq(schedules.id, id), eq(schedules.userId, userId)))
    .returning();
  return rows[0];
}

export async function deleteSchedule(db: Db, userId: string, id: string): Promise<boolean> {
  const rows = await db
    .delete(schedules)
    .where(and(eq(schedules.id, id), eq(schedules.userId, userId)))
    .returning({ id: schedules.id });
  return rows.length === 1;
}

/** A run with its chat (null once deleted) and its assistant message's status, as history shows it. */
export type RunHistoryRow = {
  run: ScheduleRunRow;
  chatTitle: string | null;
  messageStatus: string | null;
  messageError: string | null;
};

const historyColumns = {
  run: scheduleRuns,
  chatTitle: chats.title,
  messageStatus: messages.status,
  messageError: messages.error,
};

/** The runs of one schedule, newest occurrence first. */
export async function listRuns(
  db: Db,
  scheduleId: string,
  limit: number,
  after: ListCursor | null,
): Promise<{ rows: RunHistoryRow[]; next: ListCursor | null }> {
  const position = after
    ? or(
        lt(scheduleRuns.scheduledFor, after.at),
        and(eq(scheduleRuns.scheduledFor, after.at), lt(scheduleRuns.id, after.id)),
      )
    : undefined;
  const rows = await db
    .select(historyColumns)
    .from(scheduleRuns)
    .leftJoin(chats, eq(chats.id, scheduleRuns.chatId))
    .leftJoin(messages, eq(messages.id, scheduleRuns.assistantMessageId))
    .where(and(eq(scheduleRuns.scheduleId, scheduleId), position))
    .orderBy(desc(scheduleRuns.scheduledFor), desc(scheduleRuns.id))
    .limit(limit + 1)
    .all();
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, next: rows.length > limit && last ? { at: last.run.scheduledFor, id: last.run.id } : null };
}

export async function findRun(db: Db, scheduleId: string, runId: string): Promise<RunHistoryRow | undefined> {
  return db
    .select(historyColumns)
    .from(scheduleRuns)
    .leftJoin(chats, eq(chats.id, scheduleRuns.chatId))
    .leftJoin(messages, eq(messages.id, scheduleRuns.assistantMessageId))
    .where(and(eq(scheduleRuns.id, runId), eq(scheduleRuns.scheduleId, scheduleId)))
    .get();
}
