/**
 * The D1 schema: accounts, chats, message snapshots, the durable copy of each chat's event log,
 * chat deletions still to finish, scheduled agent tasks with their runs, and users' own model keys
 * (sealed).
 * drizzle-kit generates `migrations/` from this file; migrations are append-only.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    email: text("email").notNull(),
    /** `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>` */
    passwordHash: text("password_hash").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("users_email_unique").on(t.email)],
);

export const sessions = sqliteTable(
  "sessions",
  {
    /** SHA-256 of the cookie token, hex: a leaked table does not hand out live sessions. */
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** SHA-256 of the token, hex; the token itself is shown once at creation. */
    tokenHash: text("token_hash").notNull(),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("api_tokens_hash_unique").on(t.tokenHash), index("api_tokens_user_idx").on(t.userId)],
);

export const chats = sqliteTable(
  "chats",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    title: text("title").notNull(),
    model: text("model").notNull(),
    permissionMode: text("permission_mode", {
      enum: ["default", "acceptEdits", "bypassPermissions", "plan"],
    }).notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("chats_user_created_idx").on(t.userId, t.createdAt, t.id)],
);

export const messages = sqliteTable(
  "messages",
  {
    id: text("id").primaryKey(),
    chatId: text("chat_id")
      .notNull()
      .references(() => chats.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["user", "assistant"] }).notNull(),
    status: text("status", {
      enum: ["queued", "streaming", "completed", "failed", "cancelled"],
    }).notNull(),
    /** Seq of the message's first event: orders messages and pages history. */
    createdSeq: integer("created_seq").notNull(),
    /** Seq of the last event folded into `content_render`; never ahead of `chat_events`. */
    lastSeq: integer("last_seq").notNull(),
    /** The reducer's snapshot (JSON). */
    contentRender: text("content_render").notNull(),
    /** Plain text for search and previews. */
    contentText: text("content_text").notNull().default(""),
    error: text("error"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("messages_chat_seq_idx").on(t.chatId, t.createdSeq),
    // The cron's sweep looks for long-silent `streaming` rows, oldest first.
    index("messages_status_updated_idx").on(t.status, t.updatedAt),
  ],
);

export const chatEvents = sqliteTable(
  "chat_events",
  {
    chatId: text("chat_id")
      .notNull()
      .references(() => chats.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    messageId: text("message_id"),
    kind: text("kind").notNull(),
    /** The payload as JSON. */
    payload: text("payload").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.chatId, t.seq] })],
);

/**
 * Chats deleted in D1 whose Durable Object part (its storage, its sandbox at the provider) is not
 * confirmed gone yet. Written in the same batch that deletes the chat; the cron retries until the
 * object's `destroy` succeeds. No foreign key: the chat row is gone by design.
 */
export const chatDeletions = sqliteTable(
  "chat_deletions",
  {
    chatId: text("chat_id").primaryKey(),
    requestedAt: integer("requested_at").notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    lastError: text("last_error"),
  },
  (t) => [index("chat_deletions_next_idx").on(t.nextAttemptAt)],
);

/**
 * Agent tasks on a cron schedule (DESIGN section 7). `next_run_at` is the next occurrence (ms, UTC)
 * while the schedule is enabled and NULL while it is paused; the tick claims an occurrence by
 * moving it forward only from the value it read (compare-and-set).
 */
export const schedules = sqliteTable(
  "schedules",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    prompt: text("prompt").notNull(),
    /** Five fields: minute hour day-of-month month day-of-week. */
    cron: text("cron").notNull(),
    /** IANA zone the cron expression is read in, e.g. `Europe/Berlin`. */
    timezone: text("timezone").notNull(),
    target: text("target", { enum: ["new_chat", "chat"] }).notNull(),
    /** The target chat (target `chat`); NULL once that chat is deleted. */
    chatId: text("chat_id").references(() => chats.id, { onDelete: "set null" }),
    model: text("model").notNull(),
    permissionMode: text("permission_mode", {
      enum: ["default", "acceptEdits", "bypassPermissions", "plan"],
    }).notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull(),
    nextRunAt: integer("next_run_at"),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    /** Why the schedule is paused: `user`, `failures`, `chat_deleted`, `no_occurrences`; NULL while enabled. */
    pauseCode: text("pause_code"),
    pauseReason: text("pause_reason"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("schedules_due_idx").on(t.nextRunAt, t.id),
    index("schedules_user_created_idx").on(t.userId, t.createdAt, t.id),
    index("schedules_chat_idx").on(t.chatId),
  ],
);

/**
 * One row per occurrence handed to a chat (or merged away): the unique `(schedule_id,
 * scheduled_for)` of scheduled rows is what makes each occurrence run at most once. `counted`
 * marks a settled run whose outcome is already in its schedule's failure count.
 */
export const scheduleRuns = sqliteTable(
  "schedule_runs",
  {
    id: text("id").primaryKey(),
    scheduleId: text("schedule_id")
      .notNull()
      .references(() => schedules.id, { onDelete: "cascade" }),
    /** The occurrence (ms, UTC); for a `manual` run, the time it was asked for. */
    scheduledFor: integer("scheduled_for").notNull(),
    trigger: text("trigger", { enum: ["schedule", "manual"] }).notNull(),
    status: text("status", {
      enum: ["pending", "dispatched", "queued", "completed", "failed", "cancelled", "skipped"],
    }).notNull(),
    /** The chat the run went to (kept after the chat is deleted, for history). */
    chatId: text("chat_id"),
    userMessageId: text("user_message_id"),
    assistantMessageId: text("assistant_message_id"),
    /** On a `skipped` row: how many missed occurrences it stands for. */
    missed: integer("missed").notNull().default(0),
    errorCode: text("error_code"),
    errorText: text("error_text"),
    dispatchAttempts: integer("dispatch_attempts").notNull().default(0),
    counted: integer("counted", { mode: "boolean" }).notNull().default(false),
    claimedAt: integer("claimed_at").notNull(),
    dispatchedAt: integer("dispatched_at"),
    endedAt: integer("ended_at"),
  },
  (t) => [
    uniqueIndex("schedule_runs_occurrence_unique").on(t.scheduleId, t.scheduledFor).where(sql`"trigger" = 'schedule'`),
    index("schedule_runs_history_idx").on(t.scheduleId, t.scheduledFor, t.id),
    uniqueIndex("schedule_runs_message_unique").on(t.assistantMessageId),
    index("schedule_runs_open_idx")
      .on(t.status, t.claimedAt)
      .where(sql`"status" IN ('pending', 'dispatched', 'queued')`),
    index("schedule_runs_uncounted_idx").on(t.scheduleId).where(sql`"counted" = 0`),
  ],
);

export const modelKeys = sqliteTable("model_keys", {
  /** One model key per user: the user's own Anthropic API key, used for their chats' runs. */
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  /** Id of the encryption key that sealed `ciphertext` (worker/crypto/keyring.ts); rotation re-seals. */
  keyId: text("key_id").notNull(),
  /** base64 of IV + AES-256-GCM ciphertext and tag; the additional data is `model-key:<user id>`. */
  ciphertext: text("ciphertext").notNull(),
  /** The key's last 4 characters: all that reads ever show of it. */
  last4: text("last4").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});
