/**
 * A chat's event streams and history: the WebSocket and SSE listeners (both resume from a seq
 * cursor through the chat's Durable Object), and the D1 history pages (events and message
 * snapshots) that are read without waking the object.
 */
import { Hono } from "hono";
import { z } from "zod";
import { LISTENER_HEADERS } from "../chat/chat-room";
import { streamConfig } from "../chat/config";
import { chatRoom } from "../chat/stub";
import { listEvents } from "../db/events";
import { listMessages } from "../db/messages";
import { AppError } from "../errors";
import type { AppEnv } from "../http/context";
import { parseSeq } from "../http/seq-cursor";
import { sseResponse } from "../http/sse-bridge";
import { pageLimit, query } from "../http/validate";
import { parseEnvelope } from "../protocol/events";
import { ownedChat } from "./chats";
import { messageView } from "./views";

function listenerRequest(chatId: string, userId: string, after: number, format: "ws" | "sse"): Request {
  return new Request("https://chat-room/listen", {
    headers: {
      upgrade: "websocket",
      [LISTENER_HEADERS.chatId]: chatId,
      [LISTENER_HEADERS.userId]: userId,
      [LISTENER_HEADERS.after]: String(after),
      [LISTENER_HEADERS.format]: format,
    },
  });
}

export const streamRoutes = new Hono<AppEnv>()
  .get("/:chatId/ws", async (c) => {
    const { after } = query(c, z.strictObject({ after: z.string().optional() }));
    const cursor = parseSeq(after, "after") ?? 0;
    const origin = c.req.header("origin");
    if (origin && origin !== new URL(c.req.url).origin) {
      throw new AppError("forbidden_origin", "WebSocket connections from other sites are not allowed");
    }
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new AppError("upgrade_required", "Connect with a WebSocket upgrade");
    }
    const chat = await ownedChat(c, c.req.param("chatId"));
    return chatRoom(c.env, chat.id).fetch(listenerRequest(chat.id, c.var.userId, cursor, "ws"));
  })
  .get("/:chatId/stream", async (c) => {
    const { after } = query(c, z.strictObject({ after: z.string().optional() }));
    const fromQuery = parseSeq(after, "after") ?? 0;
    const fromHeader = parseSeq(c.req.header("last-event-id")?.trim(), "Last-Event-ID") ?? 0;
    const chat = await ownedChat(c, c.req.param("chatId"));
    const upgraded = await chatRoom(c.env, chat.id).fetch(
      listenerRequest(chat.id, c.var.userId, Math.max(fromQuery, fromHeader), "sse"),
    );
    const socket = upgraded.webSocket;
    if (!socket) throw new Error(`chat room refused the SSE bridge: ${upgraded.status}`);
    const config = streamConfig(c.env as unknown as Record<string, unknown>);
    return sseResponse(socket, { heartbeatMs: config.sseHeartbeatMs, maxMs: config.sseMaxMs });
  })
  .get("/:chatId/events", async (c) => {
    const q = query(c, z.strictObject({ after: z.string().optional(), limit: pageLimit(1000, 200) }));
    const after = parseSeq(q.after, "after") ?? 0;
    const chat = await ownedChat(c, c.req.param("chatId"));
    const page = await listEvents(c.var.db, chat.id, after, q.limit);
    const events = page.rows.map((r) =>
      parseEnvelope({
        chatId: r.chatId,
        seq: r.seq,
        messageId: r.messageId,
        kind: r.kind,
        payload: JSON.parse(r.payload),
        at: r.createdAt,
      }),
    );
    return c.json({ events, nextAfter: events.at(-1)?.seq ?? after, hasMore: page.hasMore });
  })
  .get("/:chatId/messages", async (c) => {
    const q = query(c, z.strictObject({ before: z.string().optional(), limit: pageLimit(100, 50) }));
    const before = parseSeq(q.before, "before") ?? null;
    const chat = await ownedChat(c, c.req.param("chatId"));
    const page = await listMessages(c.var.db, chat.id, q.limit, before);
    return c.json({
      messages: page.rows.map(messageView),
      nextBefore: page.hasMore ? (page.rows[0]?.createdSeq ?? null) : null,
    });
  });
