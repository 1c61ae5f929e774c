/**
 * The user's settings. `/model-key`: the user's own Anthropic API key for their chats' runs. PUT
 * stores it sealed, DELETE removes it, GET shows only whether one is set and its last 4 characters;
 * no response ever carries the key.
 */
import { Hono } from "hono";
import { z } from "zod";
import { KeyringError } from "../crypto/keyring";
import { keyringFromEnv } from "../crypto/keyring-from-env";
import { AppError } from "../errors";
import type { AppEnv } from "../http/context";
import { jsonBody } from "../http/validate";
import { removeModelKey, storeModelKey, viewModelKey } from "../settings/model-key";

/** What the provider accepts as `modelKey`: it travels on as an HTTP header value, unchanged. */
const modelKeySchema = z.strictObject({
  key: z
    .string()
    .trim()
    .min(8, "the key is too short")
    .max(1000, "the key is too long")
    .regex(/^[\x21-\x7e]+$/, "the key must be printable ASCII without spaces"),
});

export const settingsRoutes = new Hono<AppEnv>()
  .get("/model-key", async (c) => c.json({ modelKey: await viewModelKey(c.var.db, c.var.userId) }))
  .put("/model-key", async (c) => {
    const { key } = await jsonBody(c, modelKeySchema);
    let keyring: Awaited<ReturnType<typeof keyringFromEnv>>;
    try {
      keyring = await keyringFromEnv(c.env);
    } catch (err: unknown) {
      if (!(err instanceof KeyringError)) throw err;
      console.error(JSON.stringify({ msg: "ENCRYPTION_KEY is malformed", error: err.message }));
      keyring = null;
    }
    if (!keyring) throw new AppError("encryption_unavailable", "This deployment cannot store model keys yet");
    const view = await storeModelKey(c.var.db, keyring, c.var.userId, key, Date.now());
    return c.json({ modelKey: view });
  })
  .delete("/model-key", async (c) => {
    await removeModelKey(c.var.db, c.var.userId);
    return c.body(null, 204);
  });
