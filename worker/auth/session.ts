/**
 * Login sessions: a random token in an HttpOnly cookie, its SHA-256 in D1. Creating, reading and
 * revoking them; the cookie is `Secure` everywhere but local development over plain http.
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { findSessionUser, insertSession, revokeSession } from "../db/accounts";
import type { AppEnv } from "../http/context";
import { randomToken, sha256Hex } from "./bytes";

export const SESSION_COOKIE = "sid";
export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

function secure(c: Context<AppEnv>): boolean {
  return c.env.APP_ENV !== "development" || new URL(c.req.url).protocol === "https:";
}

export async function startSession(c: Context<AppEnv>, userId: string): Promise<void> {
  const token = randomToken();
  const now = Date.now();
  await insertSession(c.var.db, {
    id: await sha256Hex(token),
    userId,
    createdAt: now,
    expiresAt: now + SESSION_TTL_MS,
  });
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: "Lax",
    secure: secure(c),
    path: "/",
    maxAge: SESSION_TTL_MS / 1000,
  });
}

/** The user id of the request's live session cookie, if any. */
export async function sessionUser(c: Context<AppEnv>): Promise<string | undefined> {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token || token.length > 200) return undefined;
  return findSessionUser(c.var.db, await sha256Hex(token), Date.now());
}

export async function endSession(c: Context<AppEnv>): Promise<void> {
  const token = getCookie(c, SESSION_COOKIE);
  if (token && token.length <= 200) await revokeSession(c.var.db, await sha256Hex(token), Date.now());
  deleteCookie(c, SESSION_COOKIE, { path: "/", secure: secure(c), httpOnly: true, sameSite: "Lax" });
}
