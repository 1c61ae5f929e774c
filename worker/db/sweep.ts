/**
 * The query behind the stuck-message sweep: assistant messages D1 has seen `streaming` without any
 * update for a while, grouped by chat. A live run writes at least every few seconds (its events,
 * the watchdog), so a long silence means nobody is driving it.
 */
import { and, eq, lt } from "drizzle-orm";
import type { Db } from "./client";
import { messages } from "./schema";

export async function staleStreamingMessages(db: Db, olderThan: number, limit = 200): Promise<Map<string, string[]>> {
  const rows = await db
    .select({ id: messages.id, chatId: messages.chatId })
    .from(messages)
    .where(and(eq(messages.status, "streaming"), lt(messages.updatedAt, olderThan)))
    .limit(limit)
    .all();
  const byChat = new Map<string, string[]>();
  for (const row of rows) byChat.set(row.chatId, [...(byChat.get(row.chatId) ?? []), row.id]);
  return byChat;
}
