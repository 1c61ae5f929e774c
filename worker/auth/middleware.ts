/**
 * Authentication and origin checks for `/api/*`. A request is signed in by its session cookie or by
 * an `Authorization: Bearer` API token. State-changing requests carrying a cookie must come from our
 * own origin, so another site cannot ride a user's session.
 */
import { createMiddleware } from "hono/factory";
import { findApiTokenUser, touchApiToken } from "../db/accounts";
import { AppError } from "../errors";
import type { AppEnv } from "../http/context";
import { sha256Hex } from "./bytes";
import { sessionUser } from "./session";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Rejects cross-site state-changing requests (Origin or Sec-Fetch-Site from elsewhere). */
export const sameOrigin = createMiddleware<AppEnv>(async (c, next) => {
  if (!SAFE_METHODS.has(c.req.method)) {
    const origin = c.req.header("origin");
    const site = c.req.header("sec-fetch-site");
    const own = new URL(c.req.url).origin;
    if ((origin && origin !== own) || site === "cross-site") {
      throw new AppError("forbidden_origin", "Cross-site requests are not allowed");
    }
  }
  await next();
});

/** Requires a signed-in user; sets `c.var.userId`. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const auth = c.req.header("authorization");
  if (auth !== undefined) {
    const match = /^Bearer ([A-Za-z0-9_-]{20,200})$/.exec(auth);
    const token = match?.[1] ? await findApiTokenUser(c.var.db, await sha256Hex(match[1])) : undefined;
    if (!token) throw new AppError("unauthorized", "The API token is not valid");
    c.executionCtx.waitUntil(touchApiToken(c.var.db, token.id, Date.now()));
    c.set("userId", token.userId);
    return next();
  }
  const userId = await sessionUser(c);
  if (!userId) throw new AppError("unauthorized", "Sign in first");
  c.set("userId", userId);
  return next();
});
