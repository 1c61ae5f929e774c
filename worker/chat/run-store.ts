/**
 * Run state in the chat's Durable Object SQLite: the one active run (at most one row, so one run
 * per chat), the message queue (atomic rows, not a blob), pending permission prompts and the agent
 * session to continue. Every change is a synchronous SQL write, so it commits with the events
 * appended in the same turn.
 */
import type { PermissionMode } from "../sandbox/provider";

/** What a message needs to run; a queued message waits with exactly this. */
export type RunRequest = {
  userMessageId: string;
  assistantMessageId: string;
  content: string;
  model: string;
  permissionMode: PermissionMode;
  source: "user" | "schedule";
};

export type ActiveRun = RunRequest & {
  /**
   * The idempotency key of the provider run: the assistant message id, or that id with `-fresh`
   * once the run was restarted in a fresh agent session.
   */
  runKey: string;
  /** The provider's run id once started. */
  providerRunId: string | null;
  /** Offset of the last provider record whose events are all committed. */
  cursor: number;
  startedAt: number;
};

export type QueueItem = RunRequest & { position: number };

type RunRow = {
  user_message_id: string;
  assistant_message_id: string;
  content: string;
  model: string;
  permission_mode: string;
  source: string;
  run_key: string | null;
  provider_run_id: string | null;
  cursor: number;
  started_at: number;
};

type QueueRow = Omit<RunRow, "run_key" | "provider_run_id" | "cursor" | "started_at"> & { position: number };

export class RunStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS run (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      user_message_id TEXT NOT NULL, assistant_message_id TEXT NOT NULL, content TEXT NOT NULL,
      model TEXT NOT NULL, permission_mode TEXT NOT NULL, source TEXT NOT NULL,
      provider_run_id TEXT, cursor INTEGER NOT NULL DEFAULT 0, started_at INTEGER NOT NULL, run_key TEXT
    )`);
    // Objects created before the run key existed get the column (their runs use the message id).
    if (
      !sql
        .exec<{ name: string }>("PRAGMA table_info(run)")
        .toArray()
        .some((c) => c.name === "run_key")
    ) {
      sql.exec("ALTER TABLE run ADD COLUMN run_key TEXT");
    }
    sql.exec(`CREATE TABLE IF NOT EXISTS queue (
      position INTEGER PRIMARY KEY AUTOINCREMENT,
      user_message_id TEXT NOT NULL UNIQUE, assistant_message_id TEXT NOT NULL, content TEXT NOT NULL,
      model TEXT NOT NULL, permission_mode TEXT NOT NULL, source TEXT NOT NULL
    )`);
    sql.exec(`CREATE TABLE IF NOT EXISTS permissions (
      request_id TEXT PRIMARY KEY, assistant_message_id TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('pending', 'answering', 'allow', 'deny'))
    )`);
  }

  active(): ActiveRun | null {
    const row = this.#sql.exec<RunRow>("SELECT * FROM run WHERE id = 1").toArray()[0];
    return row
      ? {
          ...toRequest(row),
          runKey: row.run_key ?? row.assistant_message_id,
          providerRunId: row.provider_run_id,
          cursor: row.cursor,
          startedAt: row.started_at,
        }
      : null;
  }

  /** Claims the chat's single run slot; false when a run is already active. */
  begin(request: RunRequest, now: number): boolean {
    if (this.active()) return false;
    this.#sql.exec(
      `INSERT INTO run (id, user_message_id, assistant_message_id, content, model, permission_mode, source, started_at)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?)`,
      ...requestColumns(request),
      now,
    );
    return true;
  }

  /** Records the provider run (and its key); a different run than before starts at offset 0. */
  setProviderRun(assistantMessageId: string, providerRunId: string, runKey: string): void {
    this.#sql.exec(
      `UPDATE run SET cursor = CASE WHEN provider_run_id IS ? THEN cursor ELSE 0 END, provider_run_id = ?, run_key = ?
       WHERE assistant_message_id = ?`,
      providerRunId,
      providerRunId,
      runKey,
      assistantMessageId,
    );
  }

  setCursor(assistantMessageId: string, cursor: number): void {
    this.#sql.exec(
      "UPDATE run SET cursor = ? WHERE assistant_message_id = ? AND cursor < ?",
      cursor,
      assistantMessageId,
      cursor,
    );
  }

  end(assistantMessageId: string): void {
    this.#sql.exec("DELETE FROM run WHERE assistant_message_id = ?", assistantMessageId);
  }

  // ---- queue -------------------------------------------------------------------------------

  enqueue(request: RunRequest, front = false): void {
    const position = front
      ? (this.#sql.exec<{ p: number | null }>("SELECT MIN(position) AS p FROM queue").one().p ?? 1) - 1
      : null;
    this.#sql.exec(
      `INSERT INTO queue (position, user_message_id, assistant_message_id, content, model, permission_mode, source)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      position,
      ...requestColumns(request),
    );
  }

  queue(): QueueItem[] {
    return this.#sql
      .exec<QueueRow>("SELECT * FROM queue ORDER BY position")
      .toArray()
      .map((row) => ({ ...toRequest(row), position: row.position }));
  }

  queued(userMessageId: string): QueueItem | null {
    return this.queue().find((q) => q.userMessageId === userMessageId) ?? null;
  }

  editQueued(userMessageId: string, content: string): boolean {
    return (
      this.#sql.exec("UPDATE queue SET content = ? WHERE user_message_id = ?", content, userMessageId).rowsWritten > 0
    );
  }

  removeQueued(userMessageId: string): QueueItem | null {
    const item = this.queued(userMessageId);
    if (item) this.#sql.exec("DELETE FROM queue WHERE user_message_id = ?", userMessageId);
    return item;
  }

  /** Moves a queued message to the front, so it is the next to run. */
  moveToFront(userMessageId: string): boolean {
    const item = this.removeQueued(userMessageId);
    if (!item) return false;
    this.enqueue(item, true);
    return true;
  }

  dequeue(): QueueItem | null {
    const first = this.queue()[0];
    if (first) this.#sql.exec("DELETE FROM queue WHERE position = ?", first.position);
    return first ?? null;
  }

  // ---- permissions -------------------------------------------------------------------------

  addPermission(requestId: string, assistantMessageId: string): void {
    this.#sql.exec(
      "INSERT INTO permissions (request_id, assistant_message_id, state) VALUES (?, ?, 'pending') ON CONFLICT DO NOTHING",
      requestId,
      assistantMessageId,
    );
  }

  permission(requestId: string): { assistantMessageId: string; state: string } | null {
    const row = this.#sql
      .exec<{ assistant_message_id: string; state: string }>(
        "SELECT assistant_message_id, state FROM permissions WHERE request_id = ?",
        requestId,
      )
      .toArray()[0];
    return row ? { assistantMessageId: row.assistant_message_id, state: row.state } : null;
  }

  setPermissionState(requestId: string, state: "pending" | "answering" | "allow" | "deny"): void {
    this.#sql.exec("UPDATE permissions SET state = ? WHERE request_id = ?", state, requestId);
  }

  /** Prompts of a message still waiting for an answer (closed when its run ends). */
  openPermissions(assistantMessageId: string): string[] {
    return this.#sql
      .exec<{ request_id: string }>(
        "SELECT request_id FROM permissions WHERE assistant_message_id = ? AND state IN ('pending', 'answering')",
        assistantMessageId,
      )
      .toArray()
      .map((r) => r.request_id);
  }

  // ---- agent session -----------------------------------------------------------------------

  get agentSessionId(): string | null {
    return (
      this.#sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'agent_session_id'").toArray()[0]?.value ??
      null
    );
  }

  set agentSessionId(value: string | null) {
    if (value === null) this.#sql.exec("DELETE FROM meta WHERE key = 'agent_session_id'");
    else {
      this.#sql.exec(
        "INSERT INTO meta (key, value) VALUES ('agent_session_id', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        value,
      );
    }
  }
}

/** A request's columns in table order: user and assistant message ids, content, model, mode, source. */
function requestColumns(r: RunRequest): string[] {
  return [r.userMessageId, r.assistantMessageId, r.content, r.model, r.permissionMode, r.source];
}

function toRequest(row: Omit<QueueRow, "position">): RunRequest {
  return {
    userMessageId: row.user_message_id,
    assistantMessageId: row.assistant_message_id,
    content: row.content,
    model: row.model,
    permissionMode: row.permission_mode as PermissionMode,
    source: row.source === "schedule" ? "schedule" : "user",
  };
}
