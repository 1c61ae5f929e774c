/**
 * Every route against malformed input: each case must get its 4xx status and stable error code,
 * in the `{ error: { code, message } }` shape, and never a 500.
 */
import { describe, expect, it } from "vitest";
import { api, createChat, type Session, signUp } from "./helpers";

type Case = {
  name: string;
  method: string;
  path: (chatId: string) => string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  anonymous?: boolean;
  status: number;
  code: string;
};

const big = "x".repeat(600 * 1024);
const missingChat = "00000000-0000-4000-8000-000000000000";

const cases: Case[] = [
  {
    name: "signup malformed JSON",
    method: "POST",
    path: () => "/api/auth/signup",
    rawBody: "{",
    headers: { "content-type": "application/json" },
    anonymous: true,
    status: 400,
    code: "invalid_json",
  },
  {
    name: "signup wrong types",
    method: "POST",
    path: () => "/api/auth/signup",
    body: { email: 42, password: true },
    anonymous: true,
    status: 400,
    code: "invalid_request",
  },
  {
    name: "signup unknown field",
    method: "POST",
    path: () => "/api/auth/signup",
    body: { email: "a@b.co", password: "longenough", admin: true },
    anonymous: true,
    status: 400,
    code: "invalid_request",
  },
  {
    name: "signup bad email",
    method: "POST",
    path: () => "/api/auth/signup",
    body: { email: "not-an-email", password: "longenough" },
    anonymous: true,
    status: 400,
    code: "invalid_request",
  },
  {
    name: "signup short password",
    method: "POST",
    path: () => "/api/auth/signup",
    body: { email: "a@b.co", password: "short" },
    anonymous: true,
    status: 400,
    code: "invalid_request",
  },
  {
    name: "signup JSON array",
    method: "POST",
    path: () => "/api/auth/signup",
    body: [],
    anonymous: true,
    status: 400,
    code: "invalid_request",
  },
  {
    name: "signup not JSON content type",
    method: "POST",
    path: () => "/api/auth/signup",
    rawBody: "email=a",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    anonymous: true,
    status: 415,
    code: "unsupported_media_type",
  },
  {
    name: "signup oversized body",
    method: "POST",
    path: () => "/api/auth/signup",
    rawBody: JSON.stringify({ email: "a@b.co", password: big }),
    headers: { "content-type": "application/json" },
    anonymous: true,
    status: 413,
    code: "payload_too_large",
  },
  {
    name: "login missing fields",
    method: "POST",
    path: () => "/api/auth/login",
    body: {},
    anonymous: true,
    status: 400,
    code: "invalid_request",
  },
  {
    name: "login null body",
    method: "POST",
    path: () => "/api/auth/login",
    rawBody: "null",
    headers: { "content-type": "application/json" },
    anonymous: true,
    status: 400,
    code: "invalid_request",
  },
  {
    name: "create chat wrong title type",
    method: "POST",
    path: () => "/api/chats",
    body: { title: 7 },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "create chat empty title",
    method: "POST",
    path: () => "/api/chats",
    body: { title: "   " },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "create chat long title",
    method: "POST",
    path: () => "/api/chats",
    body: { title: "t".repeat(201) },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "create chat bad model",
    method: "POST",
    path: () => "/api/chats",
    body: { model: "../../etc" },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "create chat bad permission mode",
    method: "POST",
    path: () => "/api/chats",
    body: { permissionMode: "yolo" },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "create chat unknown field",
    method: "POST",
    path: () => "/api/chats",
    body: { userId: "someone" },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "create chat malformed JSON",
    method: "POST",
    path: () => "/api/chats",
    rawBody: '{"title":',
    headers: { "content-type": "application/json" },
    status: 400,
    code: "invalid_json",
  },
  {
    name: "create chat oversized",
    method: "POST",
    path: () => "/api/chats",
    rawBody: JSON.stringify({ title: big }),
    headers: { "content-type": "application/json" },
    status: 413,
    code: "payload_too_large",
  },
  { name: "list limit zero", method: "GET", path: () => "/api/chats?limit=0", status: 400, code: "invalid_request" },
  {
    name: "list limit huge",
    method: "GET",
    path: () => "/api/chats?limit=100000",
    status: 400,
    code: "invalid_request",
  },
  {
    name: "list limit negative",
    method: "GET",
    path: () => "/api/chats?limit=-1",
    status: 400,
    code: "invalid_request",
  },
  {
    name: "list limit not a number",
    method: "GET",
    path: () => "/api/chats?limit=ten",
    status: 400,
    code: "invalid_request",
  },
  {
    name: "list unknown query",
    method: "GET",
    path: () => "/api/chats?offset=3",
    status: 400,
    code: "invalid_request",
  },
  {
    name: "list cursor garbage",
    method: "GET",
    path: () => "/api/chats?cursor=%%%",
    status: 400,
    code: "invalid_cursor",
  },
  {
    name: "list cursor not base64 json",
    method: "GET",
    path: () => "/api/chats?cursor=aGVsbG8",
    status: 400,
    code: "invalid_cursor",
  },
  {
    name: "list cursor with bad id",
    method: "GET",
    path: () => `/api/chats?cursor=${btoa("123.not-a-uuid")}`,
    status: 400,
    code: "invalid_cursor",
  },
  {
    name: "list cursor too long",
    method: "GET",
    path: () => `/api/chats?cursor=${"A".repeat(500)}`,
    status: 400,
    code: "invalid_cursor",
  },
  { name: "get chat bad id", method: "GET", path: () => "/api/chats/not-a-uuid", status: 404, code: "chat_not_found" },
  {
    name: "get chat sql-ish id",
    method: "GET",
    path: () => "/api/chats/1'%20OR%20'1'='1",
    status: 404,
    code: "chat_not_found",
  },
  {
    name: "get missing chat",
    method: "GET",
    path: () => `/api/chats/${missingChat}`,
    status: 404,
    code: "chat_not_found",
  },
  {
    name: "patch empty",
    method: "PATCH",
    path: (id) => `/api/chats/${id}`,
    body: {},
    status: 400,
    code: "invalid_request",
  },
  {
    name: "patch wrong type",
    method: "PATCH",
    path: (id) => `/api/chats/${id}`,
    body: { permissionMode: 1 },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "patch unknown field",
    method: "PATCH",
    path: (id) => `/api/chats/${id}`,
    body: { createdAt: 1 },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "patch malformed JSON",
    method: "PATCH",
    path: (id) => `/api/chats/${id}`,
    rawBody: "nope",
    headers: { "content-type": "application/json" },
    status: 400,
    code: "invalid_json",
  },
  {
    name: "patch missing chat",
    method: "PATCH",
    path: () => `/api/chats/${missingChat}`,
    body: { title: "x" },
    status: 404,
    code: "chat_not_found",
  },
  { name: "delete bad id", method: "DELETE", path: () => "/api/chats/%00", status: 404, code: "chat_not_found" },
  {
    name: "token empty name",
    method: "POST",
    path: () => "/api/tokens",
    body: { name: "" },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "token revoke bad id",
    method: "DELETE",
    path: () => "/api/tokens/abc",
    status: 404,
    code: "token_not_found",
  },
  {
    name: "bearer malformed",
    method: "GET",
    path: () => "/api/chats",
    headers: { authorization: "Bearer x" },
    anonymous: true,
    status: 401,
    code: "unauthorized",
  },
  {
    name: "bearer unknown",
    method: "GET",
    path: () => "/api/chats",
    headers: { authorization: `Bearer ${"a".repeat(43)}` },
    anonymous: true,
    status: 401,
    code: "unauthorized",
  },
  { name: "unknown api route", method: "GET", path: () => "/api/nothing-here", status: 404, code: "not_found" },
];

describe("bad input on every route", () => {
  let session: Session;
  let chatId: string;

  it.each(cases)("$name → $status $code", async (c) => {
    session ??= await signUp();
    chatId ??= (await createChat(session)).id;
    const res = await api(c.path(chatId), {
      method: c.method,
      body: c.body,
      rawBody: c.rawBody,
      headers: c.headers,
      session: c.anonymous ? null : session,
    });
    expect(res.status).toBe(c.status);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(c.code);
    expect(typeof body.error.message).toBe("string");
  });
});
