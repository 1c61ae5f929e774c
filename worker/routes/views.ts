/**
 * The public JSON shapes of stored rows: what the API returns for a chat and a message. Internal
 * columns (owner ids, raw JSON text) never leave through here.
 */
import type { ChatActivity, ChatRow } from "../db/chats";
import type { MessageRow } from "../db/messages";
import { payloadSchemas } from "../protocol/events";
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

const idleActivity: ChatActivity = { streaming: false, queued: 0, lastRun: null, lastMessageAt: null };

/** A chat as the list shows it: the chat and the state of its runs. */
export function chatListView(chat: ChatRow, activity: ChatActivity | undefined) {
  return { ...chatView(chat), activity: activity ?? idleActivity };
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
    /** For a user message: the assistant message that answers it. */
    assistantMessageId: row.assistantMessageId,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** The queue as a stored `queue_updated` payload says it (none stored: empty). */
export function queueView(queueJson: string | null) {
  if (queueJson === null) return [];
  return payloadSchemas.queue_updated.parse(JSON.parse(queueJson)).items;
}
