/**
 * The user's own model key in settings: sealed in D1 with AES-GCM under ENCRYPTION_KEY (key id beside
 * the value, bound to its owner), shown only as "set" and its last 4 characters, replaced, deleted,
 * read back in the clear only through `modelKeyForRun` (what the run engine calls), readable under a
 * previous key during a rotation, and refused cleanly when the deployment cannot seal.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../worker/app";
import { KeyringError, loadKeyring, open, seal } from "../../worker/crypto/keyring";
import { createDb } from "../../worker/db/client";
import { ModelKeyUnreadable, modelKeyContext, modelKeyForRun } from "../../worker/settings/model-key";
import { api, expectError, json, signUp } from "./helpers";

const path = "/api/settings/model-key";
const newKey = () => `sk-ant-api03-${crypto.randomUUID().replaceAll("-", "")}Zx9Q`;

type View = { modelKey: { set: boolean; last4?: string; updatedAt?: number } };

async function row(userId: string) {
  return env.DB.prepare("SELECT * FROM model_keys WHERE user_id = ?")
    .bind(userId)
    .first<{ key_id: string; ciphertext: string; last4: string; created_at: number; updated_at: number }>();
}

async function keyring() {
  const ring = await loadKeyring(env);
  if (!ring) throw new Error("the tests configure ENCRYPTION_KEY");
  return ring;
}

describe("model key settings", () => {
  it("stores the key sealed, shows only its last 4 characters, replaces and deletes it", async () => {
    const session = await signUp();
    expect(await json<View>(await api(path, { session }))).toEqual({ modelKey: { set: false } });

    const key = newKey();
    const put = await api(path, { session, method: "PUT", body: { key: `  ${key}\n` } });
    expect(put.status).toBe(200);
    const putText = await put.text();
    expect(putText).not.toContain(key.slice(0, -4));
    expect(JSON.parse(putText)).toEqual({ modelKey: { set: true, last4: "Zx9Q", updatedAt: expect.any(Number) } });
    const get = await api(path, { session });
    const getText = await get.text();
    expect(getText).not.toContain(key.slice(0, -4));
    expect(JSON.parse(getText).modelKey).toMatchObject({ set: true, last4: "Zx9Q" });

    // At rest: sealed under the current key, with its id beside it, bound to its owner.
    const stored = await row(session.userId);
    const ring = await keyring();
    expect(stored?.key_id).toBe(ring.current.id);
    expect(stored?.key_id).toMatch(/^k[0-9a-f]{12}$/);
    expect(stored?.ciphertext).not.toContain(key);
    expect(stored?.ciphertext).not.toContain(btoa(key).slice(0, 20));
    const sealed = { keyId: stored?.key_id ?? "", ciphertext: stored?.ciphertext ?? "" };
    expect(await open(ring, sealed, modelKeyContext(session.userId))).toBe(key);
    await expect(open(ring, sealed, modelKeyContext("someone-else"))).rejects.toBeInstanceOf(KeyringError);
    expect(await modelKeyForRun(createDb(env.DB), ring, session.userId)).toBe(key);

    // Replacing keeps one row and its creation time.
    const second = `${newKey()}AbCd`;
    const replaced = await api(path, { session, method: "PUT", body: { key: second } });
    expect((await json<View>(replaced)).modelKey.last4).toBe("AbCd");
    const after = await row(session.userId);
    expect(after?.created_at).toBe(stored?.created_at);
    expect(await modelKeyForRun(createDb(env.DB), ring, session.userId)).toBe(second);

    expect((await api(path, { session, method: "DELETE" })).status).toBe(204);
    expect(await json<View>(await api(path, { session }))).toEqual({ modelKey: { set: false } });
    expect(await row(session.userId)).toBeNull();
    expect(await modelKeyForRun(createDb(env.DB), ring, session.userId)).toBeNull();
    expect((await api(path, { session, method: "DELETE" })).status).toBe(204);
  });

  it("keeps each user's key to that user", async () => {
    const a = await signUp();
    const b = await signUp();
    await api(path, { session: a, method: "PUT", body: { key: newKey() } });
    expect(await json<View>(await api(path, { session: b }))).toEqual({ modelKey: { set: false } });
    expect(await modelKeyForRun(createDb(env.DB), await keyring(), b.userId)).toBeNull();
    // A's sealed value copied into B's row does not open for B.
    const stolen = await row(a.userId);
    await env.DB.prepare(
      "INSERT INTO model_keys (user_id, key_id, ciphertext, last4, created_at, updated_at) VALUES (?, ?, ?, ?, 0, 0)",
    )
      .bind(b.userId, stolen?.key_id, stolen?.ciphertext, stolen?.last4)
      .run();
    await expect(modelKeyForRun(createDb(env.DB), await keyring(), b.userId)).rejects.toBeInstanceOf(
      ModelKeyUnreadable,
    );
  });

  it("refuses bad input with stable codes and never echoes the key", async () => {
    const session = await signUp();
    for (const method of ["GET", "PUT", "DELETE"]) {
      await expectError(
        await api(path, { method, body: method === "PUT" ? { key: newKey() } : undefined }),
        401,
        "unauthorized",
      );
    }
    const secretish = "sk-ant-has a space";
    const cases: Array<[unknown, number, string]> = [
      [{}, 400, "invalid_request"],
      [{ key: "short" }, 400, "invalid_request"],
      [{ key: secretish }, 400, "invalid_request"],
      [{ key: "x".repeat(1001) }, 400, "invalid_request"],
      [{ key: 12345678 }, 400, "invalid_request"],
      [{ key: newKey(), extra: true }, 400, "invalid_request"],
    ];
    for (const [body, status, code] of cases) {
      const res = await api(path, { session, method: "PUT", body });
      const text = await res.clone().text();
      await expectError(res, status, code, JSON.stringify(body).slice(0, 60));
      expect(text).not.toContain(secretish);
    }
    await expectError(
      await api(path, {
        session,
        method: "PUT",
        rawBody: "{not json",
        headers: { "content-type": "application/json" },
      }),
      400,
      "invalid_json",
    );
    await expectError(
      await api(path, { session, method: "PUT", rawBody: "key=x", headers: { "content-type": "text/plain" } }),
      415,
      "unsupported_media_type",
    );
    await expectError(
      await api(path, { session, method: "PUT", body: { key: newKey() }, headers: { origin: "https://evil.example" } }),
      403,
      "forbidden_origin",
    );
    await expectError(await api("/api/settings/model-key/extra", { session }), 404, "not_found");
    expect(await row(session.userId)).toBeNull();
  });

  it("answers 503 encryption_unavailable without a usable ENCRYPTION_KEY, and a stored key then cannot be read", async () => {
    const session = await signUp();
    const put = (overrides: Record<string, unknown>) =>
      app.request(
        path,
        {
          method: "PUT",
          headers: { cookie: session.cookie, "content-type": "application/json" },
          body: JSON.stringify({ key: newKey() }),
        },
        { ...env, ...overrides },
      );
    await expectError(await put({ ENCRYPTION_KEY: undefined }), 503, "encryption_unavailable");
    await expectError(await put({ ENCRYPTION_KEY: "not base64 at all!" }), 503, "encryption_unavailable");
    await expectError(await put({ ENCRYPTION_KEY: btoa("too short") }), 503, "encryption_unavailable");
    expect(await row(session.userId)).toBeNull();

    await api(path, { session, method: "PUT", body: { key: newKey() } });
    await expect(modelKeyForRun(createDb(env.DB), null, session.userId)).rejects.toMatchObject({
      code: "model_key_unreadable",
    });
    const other = await loadKeyring({ ENCRYPTION_KEY: btoa(String.fromCharCode(...new Uint8Array(32).fill(7))) });
    await expect(modelKeyForRun(createDb(env.DB), other, session.userId)).rejects.toBeInstanceOf(ModelKeyUnreadable);
  });

  it("during a rotation opens keys sealed under a previous key and seals new ones under the new key", async () => {
    const session = await signUp();
    const key = newKey();
    const old = await keyring();
    const sealed = await seal(old, key, modelKeyContext(session.userId));
    await env.DB.prepare(
      "INSERT INTO model_keys (user_id, key_id, ciphertext, last4, created_at, updated_at) VALUES (?, ?, ?, ?, 1, 1)",
    )
      .bind(session.userId, sealed.keyId, sealed.ciphertext, key.slice(-4))
      .run();
    const fresh = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
    const rotated = await loadKeyring({ ENCRYPTION_KEY: fresh, ENCRYPTION_KEY_PREVIOUS: env.ENCRYPTION_KEY });
    if (!rotated) throw new Error("no keyring");
    expect(rotated.current.id).not.toBe(old.current.id);
    expect(await modelKeyForRun(createDb(env.DB), rotated, session.userId)).toBe(key);
    const res = await app.request(
      path,
      {
        method: "PUT",
        headers: { cookie: session.cookie, "content-type": "application/json" },
        body: JSON.stringify({ key }),
      },
      { ...env, ENCRYPTION_KEY: fresh, ENCRYPTION_KEY_PREVIOUS: env.ENCRYPTION_KEY },
    );
    expect(res.status).toBe(200);
    expect((await row(session.userId))?.key_id).toBe(rotated.current.id);
  });
});
