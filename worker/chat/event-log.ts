/**
 * The chat's event log in Durable Object SQLite: assigns seq 1, 2, 3 … (no gap, never reused, also
 * across eviction, since the head is read back from the table) and stores each event in the same
 * synchronous turn. Message snapshots are a fold over the log, cached in memory and rebuilt from it
 * after an eviction. Used only by the ChatRoom Durable Object, the chat's single writer.
 */
import type { Envelope, EventDraft } from "../protocol/events";
import { type MessageSnapshot, reduce } from "../protocol/snapshot";
import type { EventText } from "./listener-frames";

/** A draft with its payload already serialized (once, for storage and every listener alike). */
export type PreparedDraft = { draft: EventDraft; payloadJson: string };

/** SQLite takes at most 100 bound parameters per statement: 5 columns → 20 rows per INSERT. */
const ROWS_PER_INSERT = 20;

/** A message's snapshot as of some seq, with the times of its first and last events. */
export type SnapshotVersion = { snapshot: MessageSnapshot; createdAt: number; updatedAt: number };

export class EventLog {
  readonly #sql: SqlStorage;
  #head: number;
  #cache = new Map<string, SnapshotVersion>();
  #chatId: string | undefined;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY,
      message_id TEXT,
      kind TEXT NOT NULL,
      payload TEXT NOT NULL,
      at INTEGER NOT NULL
    )`);
    sql.exec("CREATE INDEX IF NOT EXISTS events_message ON events (message_id, seq)");
    sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    this.#head = sql.exec<{ head: number | null }>("SELECT MAX(seq) AS head FROM events").one().head ?? 0;
    this.#chatId = this.#meta("chat_id");
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

  /** Folds a message's stored events up to `upTo` (inclusive); undefined when it has none. */
  #rebuild(messageId: string, upTo: number): SnapshotVersion | undefined {
    let version: SnapshotVersion | undefined;
    const rows = this.#sql
      .exec(
        "SELECT seq, message_id, kind, payload, at FROM events WHERE message_id = ? AND seq <= ? ORDER BY seq",
        messageId,
        upTo,
      )
      .raw();
    for (const raw of rows) {
      const row = toText(raw);
      const envelope = this.toEnvelope(row);
      version = {
        snapshot: reduce(version?.snapshot, envelope),
        createdAt: version?.createdAt ?? row.at,
        updatedAt: row.at,
      };
    }
    return version;
  }

  /** The message's snapshot as of `upTo` (default: the head). */
  snapshot(messageId: string, upTo = this.#head): SnapshotVersion | undefined {
    const cached = this.#cache.get(messageId) ?? this.#rebuild(messageId, this.#head);
    if (cached && !this.#cache.has(messageId)) this.#cache.set(messageId, cached);
    if (!cached || cached.snapshot.lastSeq <= upTo) return cached;
    return this.#rebuild(messageId, upTo);
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
    return Number(this.#meta("flushed_seq") ?? 0);
  }

  markFlushed(seq: number): void {
    if (seq > this.flushedSeq) this.#setMeta("flushed_seq", String(seq));
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
