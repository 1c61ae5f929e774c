/**
 * The query behind the stuck-message sweep: assistant messages D1 has seen `streaming` without any
 * update for a while, grouped by chat, the longest silent first. A live run writes every second or
 * so while it streams; a run that is merely quiet (a prompt waiting for its user) has its row
 * touched by the sweep, so it does not crowd out the stuck ones.
 */
import { and, asc, eq, lt } from "drizzle-orm";
import type { Db } from "./client";
import { messages } from "./schema";

export async function staleStreamingMessages(db: Db, olderThan: number, limit = 200): Promise<Map<string, string[]>> {
  const rows = await db
    .select({ id: messages.id, chatId: messages.chatId })
    .from(messages)
    .where(and(eq(messages.status, "streaming"), lt(messages.updatedAt, olderThan)))
    .orderBy(asc(messages.updatedAt), asc(messages.id))
    .limit(limit)
    .all();
  const byChat = new Map<string, string[]>();
  for (const row of rows) byChat.set(row.chatId, [...(byChat.get(row.chatId) ?? []), row.id]);
  return byChat;
}
