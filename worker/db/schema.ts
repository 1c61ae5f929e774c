/**
 * The D1 schema: accounts, chats, message snapshots, the durable copy of each chat's event log and
 * users' own model keys (sealed).
 * drizzle-kit generates `migrations/` from this file; migrations are append-only.
 */
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
  (t) => [index("messages_chat_seq_idx").on(t.chatId, t.createdSeq)],
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
