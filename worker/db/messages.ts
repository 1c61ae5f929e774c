/**
 * Queries for message snapshots in D1: the history a client reads without waking the chat's
 * Durable Object. Pages go backwards from the newest message by `created_seq`. Each user message
 * carries the id of the assistant message that answers it (from its `user_message` event), so a
 * client can pair them even when a queued reply was created before its prompt started.
 */
import { and, desc, eq, inArray, lt, max, sql } from "drizzle-orm";
import type { Db } from "./client";
import { chatEvents, messages } from "./schema";

type MessageTableRow = typeof messages.$inferSelect;
export type MessageRow = MessageTableRow & { assistantMessageId: string | null };

/** D1 binds at most 100 parameters per statement; the chat id takes one. */
const SEQS_PER_LOOKUP = 90;

function pageQuery(db: Db, chatId: string, limit: number, beforeSeq: number | null) {
  return db
    .select()
    .from(messages)
    .where(and(eq(messages.chatId, chatId), beforeSeq === null ? undefined : lt(messages.createdSeq, beforeSeq)))
    .orderBy(desc(messages.createdSeq))
    .limit(limit + 1);
}

/** The newest `limit` messages before `beforeSeq` (exclusive), returned oldest first. */
export async function listMessages(
  db: Db,
  chatId: string,
  limit: number,
  beforeSeq: number | null,
): Promise<{ rows: MessageRow[]; hasMore: boolean }> {
  const rows = await pageQuery(db, chatId, limit, beforeSeq).all();
  return { rows: await withReplies(db, chatId, rows.slice(0, limit).reverse()), hasMore: rows.length > limit };
}

/**
 * The newest `limit` messages together with the seq they are consistent with and the queue as of
 * that seq, read in one D1 batch (one transaction). The outbox writes events and the snapshots of
 * the messages they touch in one batch too, so every snapshot here includes exactly the events up to
 * `resumeAfter`: a client that streams from `?after=resumeAfter` misses nothing and repeats nothing.
 */
export async function latestHistory(
  db: Db,
  chatId: string,
  limit: number,
): Promise<{
  rows: MessageRow[];
  hasMore: boolean;
  resumeAfter: number;
  queueJson: string | null;
  olderReplies: MessageRow[];
}> {
  // The latest queue_updated is never older than the newest queued message (each message_queued
  // is followed by one), so the scan is bounded by that message; with nothing queued it is empty.
  const [rows, head, queue] = await db.batch([
    pageQuery(db, chatId, limit, null),
    db
      .select({ seq: max(chatEvents.seq) })
      .from(chatEvents)
      .where(eq(chatEvents.chatId, chatId)),
    db
      .select({ payload: chatEvents.payload })
      .from(chatEvents)
      .where(
        and(
          eq(chatEvents.chatId, chatId),
          eq(chatEvents.kind, "queue_updated"),
          sql`${chatEvents.seq} >= (SELECT coalesce(max(${messages.createdSeq}), 9007199254740991) FROM ${messages}
                WHERE ${messages.chatId} = ${chatId} AND ${messages.status} = 'queued')`,
        ),
      )
      .orderBy(desc(chatEvents.seq))
      .limit(1),
  ]);
  const page = await withReplies(db, chatId, rows.slice(0, limit).reverse());
  return {
    rows: page,
    hasMore: rows.length > limit,
    resumeAfter: head[0]?.seq ?? 0,
    queueJson: queue[0]?.payload ?? null,
    olderReplies: await missingReplies(db, chatId, page),
  };
}

/**
 * Replies to prompts on the page that are older than the page: a reply queued before its prompt
 * started is created first, so the page can hold the prompt without it. Read after the batch, so
 * each is at least as new as `resumeAfter` (a client's reducer skips events it already holds).
 */
async function missingReplies(db: Db, chatId: string, page: MessageRow[]): Promise<MessageRow[]> {
  const have = new Set(page.map((r) => r.id));
  const missing = page.flatMap((r) =>
    r.assistantMessageId && !have.has(r.assistantMessageId) ? [r.assistantMessageId] : [],
  );
  const lookups = [];
  for (let i = 0; i < missing.length; i += SEQS_PER_LOOKUP) {
    const ids = missing.slice(i, i + SEQS_PER_LOOKUP);
    lookups.push(
      db
        .select()
        .from(messages)
        .where(and(eq(messages.chatId, chatId), inArray(messages.id, ids))),
    );
  }
  const [first, ...rest] = lookups;
  const rows = first ? (await db.batch([first, ...rest])).flat() : [];
  return rows.sort((a, b) => a.createdSeq - b.createdSeq).map((r) => ({ ...r, assistantMessageId: null }));
}

/** Adds to each user message the assistant message that answers it (read from its `user_message` event). */
async function withReplies(db: Db, chatId: string, rows: MessageTableRow[]): Promise<MessageRow[]> {
  const seqs = rows.filter((r) => r.role === "user").map((r) => r.createdSeq);
  const replies = new Map<string, string>();
  const lookups = [];
  for (let i = 0; i < seqs.length; i += SEQS_PER_LOOKUP) {
    lookups.push(
      db
        .select({ messageId: chatEvents.messageId, payload: chatEvents.payload })
        .from(chatEvents)
        .where(
          and(
            eq(chatEvents.chatId, chatId),
            eq(chatEvents.kind, "user_message"),
            inArray(chatEvents.seq, seqs.slice(i, i + SEQS_PER_LOOKUP)),
          ),
        ),
    );
  }
  const [first, ...rest] = lookups;
  const results = first ? await db.batch([first, ...rest]) : [];
  for (const event of results.flat()) {
    const reply = assistantOf(event.payload);
    if (event.messageId && reply) replies.set(event.messageId, reply);
  }
  return rows.map((r) => ({ ...r, assistantMessageId: r.role === "user" ? (replies.get(r.id) ?? null) : null }));
}

function assistantOf(payloadJson: string): string | null {
  try {
    const payload: unknown = JSON.parse(payloadJson);
    if (typeof payload === "object" && payload !== null && "assistantMessageId" in payload) {
      const id = payload.assistantMessageId;
      return typeof id === "string" ? id : null;
    }
  } catch {
    // A row the outbox wrote is always JSON; anything else has no pairing to offer.
  }
  return null;
}
