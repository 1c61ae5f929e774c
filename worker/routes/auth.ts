/**
 * Accounts: sign up, log in, log out, who am I. A wrong password and an unknown email give the same
 * answer after the same amount of work.
 */
import { Hono } from "hono";
import { z } from "zod";
import { requireUser } from "../auth/middleware";
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from "../auth/password";
import { endSession, startSession } from "../auth/session";
import { findUserByEmail, findUserById, insertUser } from "../db/accounts";
import { AppError } from "../errors";
import type { AppEnv } from "../http/context";
import { clientAddress, enforceLimit, LOCAL_ADDRESS } from "../http/rate-limit";
import { jsonBody } from "../http/validate";
import { newId } from "../ids";

const credentials = z.strictObject({
  email: z
    .string()
    .trim()
    .max(254)
    .pipe(z.email())
    .transform((e) => e.toLowerCase()),
  password: z.string().min(8, "at least 8 characters").max(200),
});

export const authRoutes = new Hono<AppEnv>()
  .post("/signup", async (c) => {
    const { email, password } = await jsonBody(c, credentials);
    // Per address, whatever the email: one address cannot make accounts without end. Where no edge
    // names the address (local development) each email counts apart.
    const address = clientAddress(c.req);
    await enforceLimit(
      c.env.AUTH_LIMITER,
      address === LOCAL_ADDRESS ? `signup:${address}:${email}` : `signup:${address}`,
      "sign-up attempts",
    );
    const user = { id: newId(), email, passwordHash: await hashPassword(password), createdAt: Date.now() };
    if (!(await insertUser(c.var.db, user))) throw new AppError("email_taken", "An account with this email exists");
    await startSession(c, user.id);
    return c.json({ user: { id: user.id, email } }, 201);
  })
  .post("/login", async (c) => {
    const { email, password } = await jsonBody(c, credentials);
    // Per address and account, and per account from anywhere, so guessing a password is slow.
    await enforceLimit(c.env.AUTH_LIMITER, `login:${clientAddress(c.req)}:${email}`, "log-in attempts");
    await enforceLimit(c.env.AUTH_LIMITER, `login-any:${email}`, "log-in attempts");
    const user = await findUserByEmail(c.var.db, email);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (!user || !ok) throw new AppError("invalid_credentials", "Wrong email or password");
    await startSession(c, user.id);
    return c.json({ user: { id: user.id, email: user.email } });
  })
  .post("/logout", async (c) => {
    await endSession(c);
    return c.body(null, 204);
  })
  .get("/me", requireUser, async (c) => {
    const user = await findUserById(c.var.db, c.var.userId);
    if (!user) throw new AppError("unauthorized", "Sign in first");
    return c.json({ user: { id: user.id, email: user.email } });
  });
