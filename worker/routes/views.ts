/**
 * The public JSON shapes of stored rows: what the API returns for a chat and a message. Internal
 * columns (owner ids, raw JSON text) never leave through here.
 */
import type { ChatRow } from "../db/chats";
import type { MessageRow } from "../db/messages";
import { messageSnapshotSchema } from "../protocol/snapshot";

export function chatView(chat: ChatRow) {
  return {
    id: chat.id,
    title: chat.title,
    model: chat.model,
    permissionMode: chat.permissionMode,
    createdAt: chat.createdAt,
    updatedAt: chat.updatedAt,
  };
}

export function messageView(row: MessageRow) {
  return {
    id: row.id,
    role: row.role,
    status: row.status,
    createdSeq: row.createdSeq,
    lastSeq: row.lastSeq,
    error: row.error,
    snapshot: messageSnapshotSchema.parse(JSON.parse(row.contentRender)),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
