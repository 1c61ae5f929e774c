/**
 * Chats: create, list (newest first, cursor pages, each with the state of its runs), get one with
 * its latest message snapshots and the seq to stream from, rename or reconfigure, delete. Every
 * query is scoped to the signed-in owner; another user's chat is a 404.
 */
import { Hono } from "hono";
import { z } from "zod";
import { finishDeletion } from "../chat/deletion";
import { deleteChat } from "../db/chat-deletions";
import { type ChatRow, chatActivity, findChat, insertChat, listChats, updateChat } from "../db/chats";
import { latestHistory } from "../db/messages";
import { AppError } from "../errors";
import type { AppEnv } from "../http/context";
import { decodeCursor, encodeCursor } from "../http/cursor";
import { jsonBody, pageLimit, query } from "../http/validate";
import { isId, newId } from "../ids";
import { chatListView, chatView, messageView, queueView } from "./views";

export const DEFAULT_MODEL = "claude-sonnet-4-5";
export const modelSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@[\]-]{0,99}$/, "letters, digits and . _ : @ [ ] - only");
export const permissionModeSchema = z.enum(["default", "acceptEdits", "bypassPermissions", "plan"]);
const titleSchema = z.string().trim().min(1).max(200);

/** The chat of the signed-in user, or a 404 (also for ids that are not ours in shape). */
export async function ownedChat(c: { var: AppEnv["Variables"] }, chatId: string): Promise<ChatRow> {
  const chat = isId(chatId) ? await findChat(c.var.db, c.var.userId, chatId) : undefined;
  if (!chat) throw new AppError("chat_not_found", "No such chat");
  return chat;
}

export const chatRoutes = new Hono<AppEnv>()
  .post("/", async (c) => {
    const body = await jsonBody(
      c,
      z.strictObject({
        title: titleSchema.optional(),
        model: modelSchema.optional(),
        permissionMode: permissionModeSchema.optional(),
      }),
    );
    const now = Date.now();
    const chat: ChatRow = {
      id: newId(),
      userId: c.var.userId,
      title: body.title ?? "New chat",
      model: body.model ?? DEFAULT_MODEL,
      permissionMode: body.permissionMode ?? "default",
      createdAt: now,
      updatedAt: now,
    };
    await insertChat(c.var.db, chat);
    return c.json({ chat: chatView(chat) }, 201);
  })
  .get("/", async (c) => {
    const q = query(c, z.strictObject({ cursor: z.string().optional(), limit: pageLimit(100, 20) }));
    const after = q.cursor === undefined ? null : decodeCursor(q.cursor);
    const page = await listChats(c.var.db, c.var.userId, q.limit, after);
    const ids = page.rows.map((chat) => chat.id);
    const activity = await chatActivity(c.var.db, ids);
    return c.json({
      chats: page.rows.map((chat) => chatListView(chat, activity.get(chat.id))),
      nextCursor: page.next ? encodeCursor(page.next.createdAt, page.next.id) : null,
    });
  })
  .get("/:chatId", async (c) => {
    const chat = await ownedChat(c, c.req.param("chatId"));
    const history = await latestHistory(c.var.db, chat.id, 50);
    return c.json({
      chat: chatView(chat),
      messages: history.rows.map(messageView),
      hasMoreMessages: history.hasMore,
      // Stream with `?after=resumeAfter`: the snapshots above hold exactly the events up to it.
      resumeAfter: history.resumeAfter,
      queue: queueView(history.queueJson),
      // Replies to prompts above that are older than this page (they were queued before their prompt ran).
      olderReplies: history.olderReplies.map(messageView),
    });
  })
  .patch("/:chatId", async (c) => {
    const chat = await ownedChat(c, c.req.param("chatId"));
    const patch = await jsonBody(
      c,
      z
        .strictObject({
          title: titleSchema.optional(),
          model: modelSchema.optional(),
          permissionMode: permissionModeSchema.optional(),
        })
        .refine((p) => Object.keys(p).length > 0, "nothing to change"),
    );
    const updated = await updateChat(c.var.db, c.var.userId, chat.id, patch, Date.now());
    if (!updated) throw new AppError("chat_not_found", "No such chat");
    return c.json({ chat: chatView(updated) });
  })
  .delete("/:chatId", async (c) => {
    const chat = await ownedChat(c, c.req.param("chatId"));
    const now = Date.now();
    if (!(await deleteChat(c.var.db, c.var.userId, chat.id, now))) throw new AppError("chat_not_found", "No such chat");
    // D1 rows went with the chat (ON DELETE CASCADE); its object and sandbox go now, or by the cron's retries.
    await finishDeletion(c.env, c.var.db, chat.id, now);
    return c.body(null, 204);
  });
