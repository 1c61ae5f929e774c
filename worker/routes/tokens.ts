/**
 * API tokens for scripts: create (the secret is shown once), list, revoke. A token acts as its
 * user on every API route through `Authorization: Bearer`.
 */
import { Hono } from "hono";
import { z } from "zod";
import { randomToken, sha256Hex } from "../auth/bytes";
import { insertApiToken, listApiTokens, revokeApiToken } from "../db/accounts";
import { AppError } from "../errors";
import type { AppEnv } from "../http/context";
import { jsonBody } from "../http/validate";
import { isId, newId } from "../ids";

export const tokenRoutes = new Hono<AppEnv>()
  .post("/", async (c) => {
    const { name } = await jsonBody(c, z.strictObject({ name: z.string().trim().min(1).max(100) }));
    const token = randomToken();
    const row = { id: newId(), userId: c.var.userId, name, tokenHash: await sha256Hex(token), createdAt: Date.now() };
    await insertApiToken(c.var.db, row);
    return c.json({ token: { id: row.id, name, createdAt: row.createdAt, lastUsedAt: null }, secret: token }, 201);
  })
  .get("/", async (c) => c.json({ tokens: await listApiTokens(c.var.db, c.var.userId) }))
  .delete("/:tokenId", async (c) => {
    const id = c.req.param("tokenId");
    if (!isId(id) || !(await revokeApiToken(c.var.db, c.var.userId, id, Date.now()))) {
      throw new AppError("token_not_found", "No such token");
    }
    return c.body(null, 204);
  });
