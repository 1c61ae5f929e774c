/**
 * The outbox flusher: copies the events D1 has not got yet, together with the snapshots of the
 * messages they touch (as of the same seq), into D1 in one `db.batch` (one transaction). Inserts
 * are idempotent on (chat_id, seq) and snapshot upserts never move `last_seq` backwards, so a
 * retried or repeated flush is harmless, and D1 never holds a snapshot ahead of its events. Every
 * row stays under D1's 2,000,000-byte limit: events are fitted to 256 KiB when appended, snapshots
 * are bounded by the reducer, and the searchable text is cut here.
 */
import { isTerminalStatus, snapshotText } from "../protocol/snapshot";
import { cutAtBytes } from "../protocol/utf8";
import type { Checkpoint, EventLog, SnapshotVersion } from "./event-log";
import type { EventText } from "./listener-frames";

/** D1 takes at most 100 bound parameters per statement: 6 columns → 16 rows. */
const EVENT_COLUMNS = 6;
const ROWS_PER_INSERT = Math.floor(100 / EVENT_COLUMNS);
/** Keep one statement's bound data well under D1's per-request limits. */
const BYTES_PER_INSERT = 512 * 1024;
/** Payload characters per flush (≤ 6 MB of UTF-8): a chat that streamed megabytes catches up over several batches. */
const CHARS_PER_FLUSH = 2 * 1024 * 1024;
/** The searchable copy of a message's text (`content_text`), in UTF-8 bytes. */
export const CONTENT_TEXT_BYTES = 64 * 1024;

export type FlushResult = { flushedTo: number; events: number; messages: number; more: boolean };

/** Writes the next chunk of the outbox (at most `maxEvents` events). Returns null when D1 is current. */
export async function flushOutbox(
  log: EventLog,
  db: D1Database,
  chatId: string,
  maxEvents = 400,
): Promise<FlushResult | null> {
  const rows = upToChars(log.rows(log.flushedSeq, maxEvents), CHARS_PER_FLUSH);
  const last = rows.at(-1);
  if (!last) return null;
  const upTo = last.seq;
  const messageIds = [...new Set(rows.flatMap((r) => (r.messageId === null ? [] : [r.messageId])))];
  const statements = insertEvents(db, chatId, rows);
  const finished: string[] = [];
  const checkpoints: Checkpoint[] = [];
  for (const id of messageIds) {
    const version = log.snapshot(id, upTo);
    if (!version) continue;
    // Serialized once: the D1 copy and the checkpoint share it.
    const json = JSON.stringify(version.snapshot);
    checkpoints.push({ ...version, json });
    statements.push(upsertMessage(db, chatId, version, json));
    if (isTerminalStatus(version.snapshot.status)) finished.push(id);
  }
  await db.batch(statements);
  // D1 has it all: the cursor moves first; checkpoints only save later rebuilds some reading.
  log.markFlushed(upTo);
  log.checkpoint(checkpoints);
  // A finished message that D1 now holds need not stay in memory; the log can rebuild it.
  log.dropCached(finished);
  return { flushedTo: upTo, events: rows.length, messages: messageIds.length, more: log.head > upTo };
}

function insertEvents(db: D1Database, chatId: string, rows: EventText[]): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  let chunk: EventText[] = [];
  let bytes = 0;
  const emit = () => {
    if (chunk.length === 0) return;
    const values = chunk.map(() => "(?, ?, ?, ?, ?, ?)").join(", ");
    const params = chunk.flatMap((r) => [chatId, r.seq, r.messageId, r.kind, r.payloadJson, r.at]);
    statements.push(
      db
        .prepare(
          `INSERT INTO chat_events (chat_id, seq, message_id, kind, payload, created_at) VALUES ${values} ON CONFLICT (chat_id, seq) DO NOTHING`,
        )
        .bind(...params),
    );
    chunk = [];
    bytes = 0;
  };
  for (const row of rows) {
    if (chunk.length === ROWS_PER_INSERT || (chunk.length > 0 && bytes + row.payloadJson.length > BYTES_PER_INSERT))
      emit();
    chunk.push(row);
    bytes += row.payloadJson.length;
  }
  emit();
  return statements;
}

function upsertMessage(
  db: D1Database,
  chatId: string,
  { snapshot, createdAt, updatedAt }: SnapshotVersion,
  storedJson: string,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO messages (id, chat_id, role, status, created_seq, last_seq, content_render, content_text, error, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET role = excluded.role, status = excluded.status, last_seq = excluded.last_seq,
         content_render = excluded.content_render, content_text = excluded.content_text, error = excluded.error,
         updated_at = excluded.updated_at
       WHERE excluded.last_seq >= messages.last_seq`,
    )
    .bind(
      snapshot.messageId,
      chatId,
      snapshot.role,
      snapshot.status,
      snapshot.createdSeq,
      snapshot.lastSeq,
      storedJson,
      cutAtBytes(snapshotText(snapshot), CONTENT_TEXT_BYTES)[0],
      snapshot.error?.message ?? null,
      createdAt,
      updatedAt,
    );
}

/** The first rows whose payloads have at most `chars` characters together (at least one row). */
function upToChars(rows: EventText[], chars: number): EventText[] {
  let total = 0;
  for (let i = 0; i < rows.length; i++) {
    total += rows[i]?.payloadJson.length ?? 0;
    if (total > chars && i > 0) return rows.slice(0, i);
  }
  return rows;
}
