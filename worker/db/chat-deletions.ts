/**
 * Deleting a chat: its D1 rows go at once, together with a record that its Durable Object part is
 * still to be destroyed; the record goes when that is done. The cron retries what is left, with
 * backoff, so a provider that is down during a delete leaves no sandbox behind for good.
 */
import { and, asc, eq, lte, sql } from "drizzle-orm";
import type { Db } from "./client";
import { chatDeletions, chats } from "./schema";

/** Deletes the user's chat (messages and events cascade) and records the pending destroy; false when not theirs. */
export async function deleteChat(db: Db, userId: string, chatId: string, now: number): Promise<boolean> {
  const owned = and(eq(chats.id, chatId), eq(chats.userId, userId));
  const [, deleted] = await db.batch([
    db
      .insert(chatDeletions)
      .select(
        db
          .select({
            chatId: chats.id,
            requestedAt: sql<number>`${now}`.as("requested_at"),
            attempts: sql<number>`0`.as("attempts"),
            nextAttemptAt: sql<number>`${now}`.as("next_attempt_at"),
            lastError: sql<string | null>`NULL`.as("last_error"),
          })
          .from(chats)
          .where(owned),
      )
      .onConflictDoNothing(),
    db.delete(chats).where(owned).returning({ id: chats.id }),
  ]);
  return deleted.length === 1;
}

export async function deletionDone(db: Db, chatId: string): Promise<void> {
  await db.delete(chatDeletions).where(eq(chatDeletions.chatId, chatId));
}

/** Backs off the next try: 1 min, doubling up to a day. */
export async function deletionFailed(db: Db, chatId: string, error: string, now: number): Promise<void> {
  const rows = await db
    .select({ attempts: chatDeletions.attempts })
    .from(chatDeletions)
    .where(eq(chatDeletions.chatId, chatId));
  const attempts = (rows[0]?.attempts ?? 0) + 1;
  const delay = Math.min(24 * 3600_000, 60_000 * 2 ** Math.min(attempts - 1, 16));
  await db
    .update(chatDeletions)
    .set({ attempts, nextAttemptAt: now + delay, lastError: error.slice(0, 1000) })
    .where(eq(chatDeletions.chatId, chatId));
}

/** Deletions due for another try, oldest first. */
export async function dueDeletions(db: Db, now: number, limit = 50): Promise<string[]> {
  const rows = await db
    .select({ chatId: chatDeletions.chatId })
    .from(chatDeletions)
    .where(lte(chatDeletions.nextAttemptAt, now))
    .orderBy(asc(chatDeletions.nextAttemptAt))
    .limit(limit);
  return rows.map((r) => r.chatId);
}
