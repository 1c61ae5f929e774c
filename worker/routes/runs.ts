/**
 * Messages and runs of a chat: send (started or queued), cancel, the queue (list, edit, remove,
 * send now) and permission answers. The chat's Durable Object decides; these handlers check the
 * owner, validate, and map its outcomes to HTTP.
 */
import { Hono } from "hono";
import { z } from "zod";
import { chatRoom } from "../chat/stub";
import { AppError } from "../errors";
import type { AppEnv } from "../http/context";
import { enforceLimit } from "../http/rate-limit";
import { jsonBody } from "../http/validate";
import { isId, newId } from "../ids";
import { ownedChat } from "./chats";

/** The longest prompt we accept (characters); the event that carries it stays far below row limits. */
export const MAX_MESSAGE_CHARS = 100_000;

const contentSchema = z
  .string()
  .max(MAX_MESSAGE_CHARS, `at most ${MAX_MESSAGE_CHARS} characters`)
  .refine((s) => s.trim().length > 0, "must not be empty");

function queuedId(value: string): string {
  if (!isId(value)) throw new AppError("not_queued", "No such queued message");
  return value;
}

export const runRoutes = new Hono<AppEnv>()
  .post("/:chatId/messages", async (c) => {
    const chat = await ownedChat(c, c.req.param("chatId"));
    const body = await jsonBody(
      c,
      z.strictObject({ content: contentSchema, mode: z.enum(["queue", "now"]).optional() }),
    );
    await enforceLimit(c.env.MESSAGE_LIMITER, `messages:${c.var.userId}`, "messages");
    const request = {
      userMessageId: newId(),
      assistantMessageId: newId(),
      content: body.content,
      model: chat.model,
      permissionMode: chat.permissionMode,
      source: "user" as const,
    };
    const outcome = await chatRoom(c.env, chat.id).sendMessage(chat.id, request, body.mode ?? "queue");
    if (outcome.status === "gone") throw new AppError("chat_not_found", "No such chat");
    return c.json(
      { userMessageId: request.userMessageId, assistantMessageId: request.assistantMessageId, status: outcome.status },
      202,
    );
  })
  .post("/:chatId/cancel", async (c) => {
    const chat = await ownedChat(c, c.req.param("chatId"));
    return c.json(await chatRoom(c.env, chat.id).cancel(chat.id));
  })
  .get("/:chatId/queue", async (c) => {
    const chat = await ownedChat(c, c.req.param("chatId"));
    const items = await chatRoom(c.env, chat.id).listQueue(chat.id);
    return c.json({
      items: items.map((q) => ({
        userMessageId: q.userMessageId,
        assistantMessageId: q.assistantMessageId,
        content: q.content,
      })),
    });
  })
  .patch("/:chatId/queue/:messageId", async (c) => {
    const chat = await ownedChat(c, c.req.param("chatId"));
    const messageId = queuedId(c.req.param("messageId"));
    const { content } = await jsonBody(c, z.strictObject({ content: contentSchema }));
    if (!(await chatRoom(c.env, chat.id).editQueued(chat.id, messageId, content))) {
      throw new AppError("not_queued", "No such queued message (it may have started already)");
    }
    return c.json({ userMessageId: messageId, content });
  })
  .delete("/:chatId/queue/:messageId", async (c) => {
    const chat = await ownedChat(c, c.req.param("chatId"));
    const messageId = queuedId(c.req.param("messageId"));
    if (!(await chatRoom(c.env, chat.id).removeQueued(chat.id, messageId))) {
      throw new AppError("not_queued", "No such queued message (it may have started already)");
    }
    return c.body(null, 204);
  })
  .post("/:chatId/queue/:messageId/send-now", async (c) => {
    const chat = await ownedChat(c, c.req.param("chatId"));
    const messageId = queuedId(c.req.param("messageId"));
    if (!(await chatRoom(c.env, chat.id).sendNow(chat.id, messageId))) {
      throw new AppError("not_queued", "No such queued message (it may have started already)");
    }
    return c.json({ userMessageId: messageId, status: "started" }, 202);
  })
  .post("/:chatId/permissions/:requestId", async (c) => {
    const chat = await ownedChat(c, c.req.param("chatId"));
    const requestId = c.req.param("requestId");
    const { decision } = await jsonBody(c, z.strictObject({ decision: z.enum(["allow", "deny"]) }));
    if (requestId.length > 200) throw new AppError("permission_not_found", "No such permission request");
    const outcome = await chatRoom(c.env, chat.id).answerPermission(chat.id, requestId, decision);
    switch (outcome) {
      case "ok":
        return c.json({ requestId, decision });
      case "not_found":
        throw new AppError("permission_not_found", "No such permission request");
      case "already_answered":
        throw new AppError("already_answered", "This permission request was already answered");
      case "run_ended":
        throw new AppError("run_ended", "The run that asked has ended");
      case "provider_failed":
        throw new AppError("sandbox_unavailable", "The sandbox provider did not take the answer; try again");
    }
  });
