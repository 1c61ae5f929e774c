/**
 * The chat's event log in Durable Object SQLite: assigns seq 1, 2, 3 … (no gap, never reused, also
 * across eviction, since the head is read back from the table) and stores each event in the same
 * synchronous turn, many rows per INSERT. Message snapshots are a fold over the log, made lazily:
 * appended events wait per message and are folded (runs of deltas merged, which the reducer's size
 * law allows) when a snapshot is asked for. After an eviction a snapshot is rebuilt from its
 * checkpoint (stored by D1 flushes, an accelerator only) or from the message's first seq, plus a seq
 * range scan. Used only by the ChatRoom Durable Object, the chat's single writer.
 */
import type { Envelope, EventDraft } from "../protocol/events";
import { type MessageSnapshot, messageSnapshotSchema, reduce } from "../protocol/snapshot";
import type { EventText } from "./listener-frames";
import type { PreparedDraft } from "./truncate";

/** SQLite takes at most 100 bound parameters per statement: 5 columns → 20 rows per INSERT. */
const ROWS_PER_INSERT = 20;
/** The INSERT for 1 … 20 rows, built once. */
const INSERTS = Array.from(
  { length: ROWS_PER_INSERT + 1 },
  (_, rows) =>
    `INSERT INTO events (seq, message_id, kind, payload, at) VALUES ${Array(rows).fill("(?, ?, ?, ?, ?)").join(", ")}`,
);

/** A message's snapshot as of some seq, with the times of its first and last events. */
export type SnapshotVersion = { snapshot: MessageSnapshot; createdAt: number; updatedAt: number };
/** A snapshot version to store as its message's checkpoint, already serialized. */
export type Checkpoint = SnapshotVersion & { json: string };

/** A message's appended events not folded yet, in seq order (parallel arrays: no object per event). */
type Unfolded = { seqs: number[]; ats: number[]; drafts: EventDraft[] };

export class EventLog {
  readonly #sql: SqlStorage;
  #head: number;
  /** Folded snapshots (as of their `lastSeq`). */
  #cache = new Map<string, SnapshotVersion>();
  /** Events appended by this instance and not folded yet, per message. */
  #unfolded = new Map<string, Unfolded>();
  /** Messages whose first seq this instance knows is stored in `message_starts`. */
  #started = new Set<string>();
  #chatId: string | undefined;
  /** The chat id the folded envelopes carry (the reducer ignores it). */
  #chatIdForFold: string | undefined;
  /** Mirrors meta `flushed_seq` (this object is its only writer), read once at start. */
  #flushedSeq: number;
  /** The head when `message_starts` was created: older messages may have no row there. */
  readonly #startsSince: number;

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
    // One row per message (not per event): where a rebuild without a checkpoint starts scanning.
    sql.exec("CREATE TABLE IF NOT EXISTS message_starts (message_id TEXT PRIMARY KEY, first_seq INTEGER NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    this.#head = sql.exec<{ head: number | null }>("SELECT MAX(seq) AS head FROM events").one().head ?? 0;
    this.#chatId = this.#meta("chat_id");
    this.#flushedSeq = Number(this.#meta("flushed_seq") ?? 0);
    const since = this.#meta("message_starts_since");
    if (since === undefined) this.#setMeta("message_starts_since", String(this.#head));
    this.#startsSince = Number(since ?? this.#head);
  }

  /** The seq of the newest event (0 for an empty log). */
  get head(): number {
    return this.#head;
  }

  /**
   * Appends drafts in order, giving each the next seq. Synchronous: nothing can interleave, so seq
   * order is append order. Snapshots are folded later, on demand.
   */
  append(chatId: string, drafts: readonly PreparedDraft[], at: number): EventText[] {
    const out: EventText[] = [];
    for (let start = 0; start < drafts.length; start += ROWS_PER_INSERT) {
      const end = Math.min(drafts.length, start + ROWS_PER_INSERT);
      const params: (string | number | null)[] = [];
      for (let i = start; i < end; i++) {
        const { draft, payloadJson } = drafts[i] as PreparedDraft;
        const seq = this.#head + 1 + i;
        params.push(seq, draft.messageId, draft.kind, payloadJson, at);
        out.push({ seq, messageId: draft.messageId, kind: draft.kind, payloadJson, at });
      }
      this.#sql.exec(INSERTS[end - start] as string, ...params);
    }
    for (let i = 0; i < drafts.length; i++) {
      const draft = (drafts[i] as PreparedDraft).draft;
      const messageId = draft.messageId;
      if (messageId === null) continue;
      const seq = this.#head + 1 + i;
      let waiting = this.#unfolded.get(messageId);
      if (!waiting) {
        if (!this.#started.has(messageId)) {
          this.#started.add(messageId);
          this.#sql.exec("INSERT OR IGNORE INTO message_starts (message_id, first_seq) VALUES (?, ?)", messageId, seq);
        }
        waiting = { seqs: [], ats: [], drafts: [] };
        this.#unfolded.set(messageId, waiting);
      }
      waiting.seqs.push(seq);
      waiting.ats.push(at);
      waiting.drafts.push(draft);
    }
    this.#head += drafts.length;
    this.#chatIdForFold ??= chatId;
    return out;
  }

  /** The message's snapshot as of `upTo` (default: the head). */
  snapshot(messageId: string, upTo = this.#head): SnapshotVersion | undefined {
    const waiting = this.#unfolded.get(messageId);
    let version = this.#cache.get(messageId) ?? this.#rebuild(messageId, (waiting?.seqs[0] ?? upTo + 1) - 1);
    if (version && version.snapshot.lastSeq > upTo) return this.#rebuild(messageId, upTo);
    if (waiting) {
      let taken = 0;
      while (taken < waiting.seqs.length && (waiting.seqs[taken] ?? Number.POSITIVE_INFINITY) <= upTo) taken++;
      if (taken > 0) {
        const envelopes: Envelope[] = [];
        for (let i = 0; i < taken; i++) {
          const draft = waiting.drafts[i] as EventDraft;
          const seq = waiting.seqs[i] as number;
          const at = waiting.ats[i] as number;
          envelopes.push({ chatId: this.#chatIdForFold ?? "", seq, at, ...draft } as Envelope);
        }
        version = foldMerged(version, envelopes);
        if (taken === waiting.seqs.length) this.#unfolded.delete(messageId);
        else {
          waiting.seqs.splice(0, taken);
          waiting.ats.splice(0, taken);
          waiting.drafts.splice(0, taken);
        }
      }
    }
    if (version) this.#cache.set(messageId, version);
    return version;
  }

  /**
   * The message's stored events up to `upTo` (inclusive) folded onto its checkpoint when that is
   * not past `upTo`, else from its first seq; undefined when it has none.
   */
  #rebuild(messageId: string, upTo: number): SnapshotVersion | undefined {
    const checkpoint = this.#checkpoint(messageId);
    const version = checkpoint && checkpoint.snapshot.lastSeq <= upTo ? checkpoint : undefined;
    const from = version ? version.snapshot.lastSeq : this.#firstSeq(messageId) - 1;
    if (upTo <= from) return version;
    const rows = this.#sql
      .exec(
        "SELECT seq, message_id, kind, payload, at FROM events WHERE seq > ? AND seq <= ? AND message_id = ? ORDER BY seq",
        from,
        upTo,
        messageId,
      )
      .raw();
    const envelopes: Envelope[] = [];
    for (const raw of rows) envelopes.push(this.toEnvelope(toText(raw)));
    return envelopes.length > 0 ? foldMerged(version, envelopes) : version;
  }

  /**
   * Where the message's events start. A message with no row has no event after `#startsSince`;
   * one older than that has a checkpoint for every event up to the flushed seq (the rule before
   * this table existed), so its scan starts there.
   */
  #firstSeq(messageId: string): number {
    const row = this.#sql
      .exec<{ first_seq: number }>("SELECT first_seq FROM message_starts WHERE message_id = ?", messageId)
      .toArray()[0];
    const legacyFrom = this.#flushedSeq < this.#startsSince ? this.#flushedSeq + 1 : Number.POSITIVE_INFINITY;
    return Math.min(row?.first_seq ?? this.#head + 1, legacyFrom);
  }

  #checkpoint(messageId: string): SnapshotVersion | undefined {
    const row = this.#sql
      .exec<{ snapshot: string; created_at: number; updated_at: number }>(
        "SELECT snapshot, created_at, updated_at FROM checkpoints WHERE message_id = ?",
        messageId,
      )
      .toArray()[0];
    if (!row) return undefined;
    const parsed = messageSnapshotSchema.safeParse(JSON.parse(row.snapshot));
    // A checkpoint only saves work: one that does not read back is ignored and the log is folded.
    if (!parsed.success) return undefined;
    return { snapshot: parsed.data, createdAt: row.created_at, updatedAt: row.updated_at };
  }

  /**
   * Stores snapshot versions as the messages' checkpoints (the outbox calls it per flush). Best
   * effort: a checkpoint that cannot be written only makes a later rebuild scan more of the log.
   */
  checkpoint(versions: readonly Checkpoint[]): void {
    for (const v of versions) {
      try {
        this.#sql.exec(
          `INSERT INTO checkpoints (message_id, snapshot, created_at, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (message_id) DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at`,
          v.snapshot.messageId,
          v.json,
          v.createdAt,
          v.updatedAt,
        );
      } catch (error: unknown) {
        this.#sql.exec("DELETE FROM checkpoints WHERE message_id = ?", v.snapshot.messageId);
        console.warn(
          JSON.stringify({ msg: "checkpoint not stored", messageId: v.snapshot.messageId, error: String(error) }),
        );
      }
    }
  }

  /** Forgets folded snapshots (they are rebuilt from the log on demand). */
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

  /** The chat was deleted: this object keeps only this mark, so a late call cannot start anything. */
  get deleted(): boolean {
    return this.#meta("deleted_at") !== undefined;
  }

  markDeleted(at: number): void {
    this.#setMeta("deleted_at", String(at));
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

/**
 * Folds a message's events (in seq order) onto a version, merging each run of consecutive deltas
 * of one kind into one event first: the reducer's size law makes that the same snapshot, for far
 * fewer copies of the snapshot.
 */
function foldMerged(version: SnapshotVersion | undefined, events: readonly Envelope[]): SnapshotVersion | undefined {
  let snapshot = version?.snapshot;
  let createdAt = version?.createdAt;
  let updatedAt = version?.updatedAt ?? 0;
  for (let i = 0; i < events.length; i++) {
    let event = events[i] as Envelope;
    if (event.kind === "text_delta" || event.kind === "thinking_delta") {
      const parts = [event.payload.text];
      let last: Envelope = event;
      for (let next = events[i + 1]; next?.kind === event.kind; next = events[i + 1]) {
        parts.push(next.payload.text);
        last = next;
        i++;
      }
      if (parts.length > 1) event = { ...last, payload: { text: parts.join("") } } as Envelope;
    }
    snapshot = reduce(snapshot, event);
    createdAt ??= event.at;
    updatedAt = event.at;
  }
  return snapshot === undefined || createdAt === undefined ? undefined : { snapshot, createdAt, updatedAt };
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
