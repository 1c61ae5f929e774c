/**
 * The shapes the API answers with, as zod schemas: the client validates every response at this
 * boundary. Message snapshots use the protocol module's own schema (the same the worker stores).
 */
import { z } from "zod";
import { messageSnapshotSchema, payloadSchemas } from "../../../worker/protocol/index";

export const permissionModes = ["default", "acceptEdits", "bypassPermissions", "plan"] as const;
export const permissionModeSchema = z.enum(permissionModes);
export type PermissionMode = z.infer<typeof permissionModeSchema>;

export const userSchema = z.object({ id: z.string(), email: z.string() });
export type User = z.infer<typeof userSchema>;
export const userBodySchema = z.object({ user: userSchema });

export const chatSchema = z.object({
  id: z.string(),
  title: z.string(),
  model: z.string(),
  permissionMode: permissionModeSchema,
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Chat = z.infer<typeof chatSchema>;

export const activitySchema = z.object({
  streaming: z.boolean(),
  queued: z.number().int().nonnegative(),
  lastRun: z.enum(["completed", "failed", "cancelled"]).nullable(),
  lastMessageAt: z.number().nullable(),
});
export type Activity = z.infer<typeof activitySchema>;

export const chatListSchema = z.object({
  chats: z.array(chatSchema.extend({ activity: activitySchema })),
  nextCursor: z.string().nullable(),
});
export type ChatSummary = z.infer<typeof chatListSchema>["chats"][number];

export const chatBodySchema = z.object({ chat: chatSchema });

export const messageViewSchema = z.object({
  id: z.string(),
  role: z.enum(["user", "assistant"]),
  createdAt: z.number(),
  snapshot: messageSnapshotSchema,
  assistantMessageId: z.string().nullable(),
});
export type MessageView = z.infer<typeof messageViewSchema>;

export const queueItemSchema = payloadSchemas.queue_updated.shape.items.element;
export type QueueItem = z.infer<typeof queueItemSchema>;

export const chatDetailSchema = z.object({
  chat: chatSchema,
  messages: z.array(messageViewSchema),
  hasMoreMessages: z.boolean(),
  resumeAfter: z.number().int().nonnegative(),
  queue: z.array(queueItemSchema),
  olderReplies: z.array(messageViewSchema),
});
export type ChatDetail = z.infer<typeof chatDetailSchema>;

export const messagePageSchema = z.object({
  messages: z.array(messageViewSchema),
  nextBefore: z.number().int().nullable(),
});
export type MessagePage = z.infer<typeof messagePageSchema>;

export const sentSchema = z.object({
  userMessageId: z.string(),
  assistantMessageId: z.string(),
  status: z.enum(["started", "queued"]),
});

export const fileEntrySchema = z.object({
  name: z.string(),
  type: z.enum(["file", "dir", "other"]),
  size: z.number(),
  modifiedAt: z.string(),
});
export type FileEntry = z.infer<typeof fileEntrySchema>;
export const fileListingSchema = z.object({ path: z.string(), entries: z.array(fileEntrySchema) });
export type FileListing = z.infer<typeof fileListingSchema>;

export const tokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.number(),
  lastUsedAt: z.number().nullable(),
});
export type ApiToken = z.infer<typeof tokenSchema>;
export const tokenListSchema = z.object({ tokens: z.array(tokenSchema) });
export const createdTokenSchema = z.object({ token: tokenSchema, secret: z.string() });

export const anySchema = z.unknown();
