/**
 * Helpers for Workers-pool tests: requests through the real worker (`SELF.fetch`) as a signed-in
 * user. Each test makes its own users with unique emails, so tests never share data.
 */
import { SELF } from "cloudflare:test";
import { expect } from "vitest";

export const ORIGIN = "http://app.test";

export type Session = { cookie: string; userId: string; email: string };

type RequestOptions = {
  method?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  session?: Session | null;
};

export async function api(path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.session) headers.cookie = options.session.cookie;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  return SELF.fetch(`${ORIGIN}${path}`, { method: options.method ?? (body ? "POST" : "GET"), headers, body });
}

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** The `name=value` part of a Set-Cookie header, ready for a Cookie header. */
export function cookieFrom(res: Response): string {
  const header = res.headers.get("set-cookie") ?? "";
  const pair = header.split(";")[0] ?? "";
  if (!pair.includes("=")) throw new Error(`no cookie in ${header}`);
  return pair;
}

export function uniqueEmail(tag = "user"): string {
  return `${tag}-${crypto.randomUUID()}@example.com`;
}

export async function signUp(email = uniqueEmail()): Promise<Session> {
  const res = await api("/api/auth/signup", { body: { email, password: "correct horse battery" } });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${await res.text()}`);
  const body = await json<{ user: { id: string } }>(res);
  return { cookie: cookieFrom(res), userId: body.user.id, email };
}

export async function createChat(session: Session, body: Record<string, unknown> = {}): Promise<{ id: string }> {
  const res = await api("/api/chats", { session, body });
  if (res.status !== 201) throw new Error(`create chat failed: ${res.status} ${await res.text()}`);
  return (await json<{ chat: { id: string } }>(res)).chat;
}

/** Asserts an API error: the status and the stable code of `{ error: { code, message } }`. */
export async function expectError(res: Response, status: number, code: string, label?: string): Promise<void> {
  expect(res.status, label).toBe(status);
  expect((await json<{ error: { code: string } }>(res)).error.code, label).toBe(code);
}

/** The value, or a thrown error naming what was missing (narrows `T | undefined | null`). */
export function must<T>(value: T | undefined | null, what = "value"): T {
  if (value === undefined || value === null) throw new Error(`expected a ${what}`);
  return value;
}
