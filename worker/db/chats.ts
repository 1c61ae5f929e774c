/**
 * Queries for chats. Every function takes the owner's user id and filters by it, so a chat of
 * another user is indistinguishable from one that does not exist.
 */
import { and, desc, eq, lt, or } from "drizzle-orm";
import type { Db } from "./client";
import { chats, messages } from "./schema";

export type ChatRow = typeof chats.$inferSelect;
export type PermissionMode = ChatRow["permissionMode"];

/** Position in the newest-first list: the last row of the previous page. */
export type ChatCursor = { createdAt: number; id: string };

export async function insertChat(db: Db, row: ChatRow): Promise<void> {
  await db.insert(chats).values(row);
}

export async function findChat(db: Db, userId: string, chatId: string): Promise<ChatRow | undefined> {
  return db
    .select()
    .from(chats)
    .where(and(eq(chats.id, chatId), eq(chats.userId, userId)))
    .get();
}

/** One page, newest first; fetches one extra row to know whether another page exists. */
export async function listChats(
  db: Db,
  userId: string,
  limit: number,
  after: ChatCursor | null,
): Promise<{ rows: ChatRow[]; next: ChatCursor | null }> {
  const position = after
    ? or(lt(chats.createdAt, after.createdAt), and(eq(chats.createdAt, after.createdAt), lt(chats.id, after.id)))
    : undefined;
  const rows = await db
    .select()
    .from(chats)
    .where(and(eq(chats.userId, userId), position))
    .orderBy(desc(chats.createdAt), desc(chats.id))
    .limit(limit + 1)
    .all();
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, next: rows.length > limit && last ? { createdAt: last.createdAt, id: last.id } : null };
}

export async function updateChat(
  db: Db,
  userId: string,
  chatId: string,
  patch: Partial<Pick<ChatRow, "title" | "model" | "permissionMode">>,
  now: number,
): Promise<ChatRow | undefined> {
  const rows = await db
    .update(chats)
    .set({ ...patch, updatedAt: now })
    .where(and(eq(chats.id, chatId), eq(chats.userId, userId)))
    .returning();
  return rows[0];
}

/**
 * What a chat list shows of each chat's runs: one running, how many wait in its queue, how the
 * last finished run ended, and when anything last happened. Read from the newest
 * `ACTIVITY_WINDOW` messages of each chat (D1 trails the live log by about a second).
 */
export type ChatActivity = {
  streaming: boolean;
  queued: number;
  lastRun: "completed" | "failed" | "cancelled" | null;
  lastMessageAt: number | null;
};

/** Runs and queues live at the end of a chat; older messages are all finished. */
export const ACTIVITY_WINDOW = 50;

export async function chatActivity(db: Db, chatIds: string[]): Promise<Map<string, ChatActivity>> {
  const queries = chatIds.map((chatId) =>
    db
      .select({
        role: messages.role,
        status: messages.status,
        lastSeq: messages.lastSeq,
        updatedAt: messages.updatedAt,
      })
      .from(messages)
      .where(eq(messages.chatId, chatId))
      .orderBy(desc(messages.createdSeq))
      .limit(ACTIVITY_WINDOW),
  );
  const [first, ...rest] = queries;
  const results = first ? await db.batch([first, ...rest]) : [];
  const activity = new Map<string, ChatActivity>();
  results.forEach((rows, i) => {
    const chatId = chatIds[i];
    if (chatId === undefined) return;
    let lastRun: ChatActivity["lastRun"] = null;
    let lastRunSeq = -1;
    let lastMessageAt: number | null = null;
    let streaming = false;
    let queued = 0;
    for (const row of rows) {
      lastMessageAt = Math.max(lastMessageAt ?? 0, row.updatedAt);
      if (row.role !== "assistant") continue;
      if (row.status === "streaming") streaming = true;
      else if (row.status === "queued") queued++;
      else if (row.lastSeq > lastRunSeq) {
        lastRun = row.status;
        lastRunSeq = row.lastSeq;
      }
    }
    activity.set(chatId, { streaming, queued, lastRun, lastMessageAt });
  });
  return activity;
}
