/**
 * Queries for the durable copy of a chat's event log in D1 (written by the chat's outbox).
 */
import { and, asc, eq, gt } from "drizzle-orm";
import type { Db } from "./client";
import { chatEvents } from "./schema";

export type ChatEventRow = typeof chatEvents.$inferSelect;

/** Events with seq > after, oldest first; one extra row tells whether more exist. */
export async function listEvents(
  db: Db,
  chatId: string,
  after: number,
  limit: number,
): Promise<{ rows: ChatEventRow[]; hasMore: boolean }> {
  const rows = await db
    .select()
    .from(chatEvents)
    .where(and(eq(chatEvents.chatId, chatId), gt(chatEvents.seq, after)))
    .orderBy(asc(chatEvents.seq))
    .limit(limit + 1)
    .all();
  return { rows: rows.slice(0, limit), hasMore: rows.length > limit };
}
