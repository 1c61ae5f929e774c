/**
 * Typed calls for every API route the web client uses. Thin: each names its method, path and
 * response schema; `request` does the rest.
 */
import { z } from "zod";
import { request } from "./http";
import {
  anySchema,
  chatBodySchema,
  chatDetailSchema,
  chatListSchema,
  createdTokenSchema,
  fileListingSchema,
  messagePageSchema,
  type PermissionMode,
  sentSchema,
  tokenListSchema,
  userBodySchema,
} from "./schemas";

const chat = (id: string) => `/api/chats/${encodeURIComponent(id)}`;

export type ChatSettings = { title?: string; model?: string; permissionMode?: PermissionMode };

export const api = {
  me: () => request("GET", "/api/auth/me", userBodySchema, { quiet401: true }),
  signUp: (email: string, password: string) =>
    request("POST", "/api/auth/signup", userBodySchema, { body: { email, password }, quiet401: true }),
  logIn: (email: string, password: string) =>
    request("POST", "/api/auth/login", userBodySchema, { body: { email, password }, quiet401: true }),
  logOut: () => request("POST", "/api/auth/logout", anySchema, { quiet401: true }),

  listChats: (cursor: string | null, limit: number) =>
    request("GET", `/api/chats?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, chatListSchema),
  createChat: (settings: ChatSettings) => request("POST", "/api/chats", chatBodySchema, { body: settings }),
  getChat: (id: string, signal?: AbortSignal) => request("GET", chat(id), chatDetailSchema, signal ? { signal } : {}),
  updateChat: (id: string, patch: ChatSettings) => request("PATCH", chat(id), chatBodySchema, { body: patch }),
  deleteChat: (id: string) => request("DELETE", chat(id), anySchema),
  olderMessages: (id: string, before: number, limit = 50) =>
    request("GET", `${chat(id)}/messages?before=${before}&limit=${limit}`, messagePageSchema),

  send: (id: string, content: string, mode?: "queue" | "now") =>
    request("POST", `${chat(id)}/messages`, sentSchema, { body: mode ? { content, mode } : { content } }),
  cancel: (id: string) => request("POST", `${chat(id)}/cancel`, z.object({ cancelled: z.boolean() })),
  editQueued: (id: string, userMessageId: string, content: string) =>
    request("PATCH", `${chat(id)}/queue/${encodeURIComponent(userMessageId)}`, anySchema, { body: { content } }),
  removeQueued: (id: string, userMessageId: string) =>
    request("DELETE", `${chat(id)}/queue/${encodeURIComponent(userMessageId)}`, anySchema),
  sendNow: (id: string, userMessageId: string) =>
    request("POST", `${chat(id)}/queue/${encodeURIComponent(userMessageId)}/send-now`, anySchema),
  answerPermission: (id: string, requestId: string, decision: "allow" | "deny") =>
    request("POST", `${chat(id)}/permissions/${encodeURIComponent(requestId)}`, anySchema, { body: { decision } }),

  listFiles: (id: string, path: string) =>
    request("GET", `${chat(id)}/files?path=${encodeURIComponent(path)}`, fileListingSchema),
  fileUrl: (id: string, path: string) => `${chat(id)}/files/content?path=${encodeURIComponent(path)}`,

  listTokens: () => request("GET", "/api/tokens", tokenListSchema),
  createToken: (name: string) => request("POST", "/api/tokens", createdTokenSchema, { body: { name } }),
  revokeToken: (id: string) => request("DELETE", `/api/tokens/${encodeURIComponent(id)}`, anySchema),
};

export type Api = typeof api;
