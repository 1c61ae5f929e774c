/**
 * The chat's event log in Durable Object SQLite: assigns seq 1, 2, 3 … (no gap, never reused, also
 * across eviction, since the head is read back from the table) and stores each event in the same
 * synchronous turn. Message snapshots are a fold over the log, cached in memory; each D1 flush also
 * stores them as checkpoints, so after an eviction a snapshot is rebuilt from its checkpoint plus the
 * few events after it (a seq range scan: the log needs no index beyond its primary key, which keeps
 * each append to one B-tree insert). Used only by the ChatRoom Durable Object, the chat's single writer.
 */
import type { Envelope } from "../protocol/events";
import { type MessageSnapshot, messageSnapshotSchema, reduce } from "../protocol/snapshot";
import type { EventText } from "./listener-frames";
import type { PreparedDraft } from "./truncate";

/** SQLite takes at most 100 bound parameters per statement: 5 columns → 20 rows per INSERT. */
const ROWS_PER_INSERT = 20;

/** A message's snapshot as of some seq, with the times of its first and last events. */
export type SnapshotVersion = { snapshot: MessageSnapshot; createdAt: number; updatedAt: number };
/** A snapshot version to store as its message's checkpoint, already serialized. */
export type Checkpoint = SnapshotVersion & { json: string };

export class EventLog {
  readonly #sql: SqlStorage;
  #head: number;
  /** The head when this instance opened the log: later events were all folded into the cache. */
  readonly #coldHead: number;
  #cache = new Map<string, SnapshotVersion>();
  #chatId: string | undefined;
  /** Mirrors meta `flushed_seq` (this object is its only writer), read once at start. */
  #flushedSeq: number;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY,
      message_id TEXT,
      kind TEXT NOT NULL,
      payload TEXT NOT NULL,
      at INTEGER NOT NULL
    )`);
    // Rebuilds read checkpoints and seq ranges; an index on message_id would cost every append.
    sql.exec("DROP INDEX IF EXISTS events_message");
    sql.exec(`CREATE TABLE IF NOT EXISTS checkpoints (
      message_id TEXT PRIMARY KEY,
      snapshot TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    )`);
    sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    this.#head = sql.exec<{ head: number | null }>("SELECT MAX(seq) AS head FROM events").one().head ?? 0;
    this.#coldHead = this.#head;
    this.#chatId = this.#meta("chat_id");
    this.#flushedSeq = Number(this.#meta("flushed_seq") ?? 0);
  }

  /** The seq of the newest event (0 for an empty log). */
  get head(): number {
    return this.#head;
  }

  /**
   * Appends drafts in order, giving each the next seq, and folds each into its message's cached
   * snapshot. Synchronous: nothing can interleave, so seq order is append order.
   */
  append(chatId: string, drafts: readonly PreparedDraft[], at: number): EventText[] {
    const out: EventText[] = [];
    for (let start = 0; start < drafts.length; start += ROWS_PER_INSERT) {
      const chunk = drafts.slice(start, start + ROWS_PER_INSERT);
      const params: (string | number | null)[] = [];
      for (const { draft, payloadJson } of chunk) {
        const seq = this.#head + 1 + out.length;
        params.push(seq, draft.messageId, draft.kind, payloadJson, at);
        out.push({ seq, messageId: draft.messageId, kind: draft.kind, payloadJson, at });
      }
      this.#sql.exec(
        `INSERT INTO events (seq, message_id, kind, payload, at) VALUES ${chunk.map(() => "(?, ?, ?, ?, ?)").join(", ")}`,
        ...params,
      );
    }
    for (const [i, { draft }] of drafts.entries()) {
      const seq = this.#head + 1 + i;
      if (draft.messageId !== null) {
        this.#fold(draft.messageId, {
          chatId,
          seq,
          messageId: draft.messageId,
          kind: draft.kind,
          payload: draft.payload,
          at,
        } as Envelope);
      }
    }
    this.#head += drafts.length;
    return out;
  }

  #fold(messageId: string, envelope: Envelope): void {
    const cached = this.#cache.get(messageId) ?? this.#rebuild(messageId, envelope.seq - 1);
    const next = reduce(cached?.snapshot, envelope);
    this.#cache.set(messageId, {
      snapshot: next,
      createdAt: cached?.createdAt ?? envelope.at,
      updatedAt: envelope.at,
    });
  }

  /**
   * Folds a message's stored events up to `upTo` (inclusive); undefined when it has none. Starts
   * from its checkpoint when that is not past `upTo`, else from its first event. A message without
   * a checkpoint has no event at or below the flushed seq (every flush checkpoints the messages it
   * copies), and events this instance appended were folded into `known` (the cached version), so
   * the scan covers only what neither can tell.
   */
  #rebuild(messageId: string, upTo: number, known?: SnapshotVersion): SnapshotVersion | undefined {
    const checkpoint = this.#checkpoint(messageId);
    let version = checkpoint && checkpoint.snapshot.lastSeq <= upTo ? checkpoint : undefined;
    const createdSeq = known?.snapshot.createdSeq ?? checkpoint?.snapshot.createdSeq;
    const from = version ? version.snapshot.lastSeq : createdSeq !== undefined ? createdSeq - 1 : this.flushedSeq;
    const to = known ? upTo : Math.min(upTo, this.#coldHead);
    if (to <= from) return version;
    const rows = this.#sql
      .exec(
        "SELECT seq, message_id, kind, payload, at FROM events WHERE seq > ? AND seq <= ? AND message_id = ? ORDER BY seq",
        from,
        to,
        messageId,
      )
      .raw();
    for (const raw of rows) {
      const row = toText(raw);
      version = {
        snapshot: reduce(version?.snapshot, this.toEnvelope(row)),
        createdAt: version?.createdAt ?? row.at,
        updatedAt: row.at,
      };
    }
    return version;
  }

  #checkpoint(messageId: string): SnapshotVersion | undefined {
    const row = this.#sql
      .exec<{ snapshot: string; created_at: number; updated_at: number }>(
        "SELECT snapshot, created_at, updated_at FROM checkpoints WHERE message_id = ?",
        messageId,
      )
      .toArray()[0];
    if (!row) return undefined;
    return {
      snapshot: messageSnapshotSchema.parse(JSON.parse(row.snapshot)),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /** Stores snapshot versions as the messages' checkpoints (the outbox calls it per flush). */
  checkpoint(versions: readonly Checkpoint[]): void {
    for (const v of versions) {
      this.#sql.exec(
        `INSERT INTO checkpoints (message_id, snapshot, created_at, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (message_id) DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at`,
        v.snapshot.messageId,
        v.json,
        v.createdAt,
        v.updatedAt,
      );
    }
  }

  /** The message's snapshot as of `upTo` (default: the head). */
  snapshot(messageId: string, upTo = this.#head): SnapshotVersion | undefined {
    const cached = this.#cache.get(messageId) ?? this.#rebuild(messageId, this.#head);
    if (cached && !this.#cache.has(messageId)) this.#cache.set(messageId, cached);
    if (!cached || cached.snapshot.lastSeq <= upTo) return cached;
    return this.#rebuild(messageId, upTo, cached);
  }

  /** Forgets cached snapshots (they are rebuilt from the log on demand). */
  dropCached(messageIds: Iterable<string>): void {
    for (const id of messageIds) this.#cache.delete(id);
  }

  /** Stored events with seq > after, oldest first, at most `limit` (payloads as stored JSON). */
  rows(after: number, limit: number): EventText[] {
    const out: EventText[] = [];
    for (const raw of this.#sql
      .exec("SELECT seq, message_id, kind, payload, at FROM events WHERE seq > ? ORDER BY seq LIMIT ?", after, limit)
      .raw()) {
      out.push(toText(raw));
    }
    return out;
  }

  toEnvelope(row: EventText): Envelope {
    return {
      chatId: this.chatId ?? "",
      seq: row.seq,
      messageId: row.messageId,
      kind: row.kind,
      payload: JSON.parse(row.payloadJson),
      at: row.at,
    } as Envelope;
  }

  /** D1 holds every event up to this seq, and every snapshot as of it. */
  get flushedSeq(): number {
    return this.#flushedSeq;
  }

  markFlushed(seq: number): void {
    if (seq <= this.#flushedSeq) return;
    this.#setMeta("flushed_seq", String(seq));
    this.#flushedSeq = seq;
  }

  get chatId(): string | undefined {
    return this.#chatId;
  }

  /** Binds this log to its chat on first use; a different id later is a bug in the caller. */
  bindChat(chatId: string): void {
    const known = this.#chatId;
    if (known === undefined) {
      this.#setMeta("chat_id", chatId);
      this.#chatId = chatId;
    } else if (known !== chatId) throw new Error(`ChatRoom for ${known} was addressed as ${chatId}`);
  }

  #meta(key: string): string | undefined {
    return this.#sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
  }

  #setMeta(key: string, value: string): void {
    this.#sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }
}

/** A raw row of `SELECT seq, message_id, kind, payload, at` (the shape every query here uses). */
function toText(raw: SqlStorageValue[]): EventText {
  const [seq, messageId, kind, payloadJson, at] = raw;
  return {
    seq: Number(seq),
    messageId: typeof messageId === "string" ? messageId : null,
    kind: String(kind),
    payloadJson: String(payloadJson),
    at: Number(at),
  };
}
