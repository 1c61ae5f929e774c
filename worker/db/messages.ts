/**
 * Queries for message snapshots in D1: the history a client reads without waking the chat's
 * Durable Object. Pages go backwards from the newest message by `created_seq`.
 */
import { and, desc, eq, lt } from "drizzle-orm";
import type { Db } from "./client";
import { messages } from "./schema";

export type MessageRow = typeof messages.$inferSelect;

/** The newest `limit` messages before `beforeSeq` (exclusive), returned oldest first. */
export async function listMessages(
  db: Db,
  chatId: string,
  limit: number,
  beforeSeq: number | null,
): Promise<{ rows: MessageRow[]; hasMore: boolean }> {
  const rows = await db
    .select()
    .from(messages)
    .where(and(eq(messages.chatId, chatId), beforeSeq === null ? undefined : lt(messages.createdSeq, beforeSeq)))
    .orderBy(desc(messages.createdSeq))
    .limit(limit + 1)
    .all();
  return { rows: rows.slice(0, limit).reverse(), hasMore: rows.length > limit };
}
