/**
 * The documented key-rotation command, `npm run keys:reencrypt`, run for real against a local D1
 * (wrangler's own local database in a temp directory, migrated by `wrangler d1 migrations apply`):
 * every key sealed under the old ENCRYPTION_KEY is re-sealed under the new one and still opens to
 * the same key, keys already current are untouched, and a key no given secret opens is reported and
 * left alone (exit code 1). Rows are planted and checked in the database file directly (node:sqlite)
 * while no wrangler runs: each wrangler start costs seconds.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadKeyring, open, seal } from "../../worker/crypto/keyring.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = join(repoRoot, "node_modules", ".bin");
const persist = mkdtempSync(join(tmpdir(), "reencrypt-d1-"));
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, CI: "true", WRANGLER_SEND_METRICS: "false" };

afterAll(() => rmSync(persist, { recursive: true, force: true }));

function wrangler(args: string[]): void {
  const res = spawnSync(join(bin, "wrangler"), args, { cwd: repoRoot, env, encoding: "utf8" });
  if (res.status !== 0) throw new Error(`wrangler ${args.join(" ")}: ${res.stdout}\n${res.stderr}`);
}

/** The local D1 database file wrangler keeps under `persist`. */
async function localDb() {
  const dir = join(persist, "v3", "d1", "miniflare-D1DatabaseObject");
  const file = readdirSync(dir).find((n) => n.endsWith(".sqlite"));
  if (!file) throw new Error(`no local D1 database in ${dir}`);
  const { DatabaseSync } = await import("node:sqlite");
  return new DatabaseSync(join(dir, file));
}

function reencrypt(args: string[], secrets: Record<string, string>) {
  return spawnSync(join(bin, "node"), ["scripts/reencrypt-model-keys.mjs", ...args], {
    cwd: repoRoot,
    env: { ...env, ENCRYPTION_KEY: "", ENCRYPTION_KEY_PREVIOUS: "", ...secrets },
    encoding: "utf8",
  });
}

const randomKey = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

describe("npm run keys:reencrypt", () => {
  it("re-seals every model key under the new ENCRYPTION_KEY", async () => {
    const oldSecret = randomKey();
    const newSecret = randomKey();
    const [oldRing, newRing, stranger, onlyNew] = await Promise.all([
      loadKeyring({ ENCRYPTION_KEY: oldSecret }),
      loadKeyring({ ENCRYPTION_KEY: newSecret, ENCRYPTION_KEY_PREVIOUS: oldSecret }),
      loadKeyring({ ENCRYPTION_KEY: randomKey() }),
      loadKeyring({ ENCRYPTION_KEY: newSecret }),
    ]);
    if (!oldRing || !newRing || !stranger || !onlyNew) throw new Error("no keyring");

    wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist]);
    const users = Array.from({ length: 5 }, (_, i) => ({ id: `user-${i}`, key: `sk-ant-${crypto.randomUUID()}-${i}` }));
    // Three under the old key, one already under the new one, one under a key nobody gives.
    const rings = [oldRing, oldRing, oldRing, newRing, stranger];
    const before = new Map<string, string>();
    let db = await localDb();
    for (const [i, user] of users.entries()) {
      const sealed = await seal(rings[i] ?? oldRing, user.key, `model-key:${user.id}`);
      db.prepare("INSERT INTO users (id, email, password_hash, created_at) VALUES (?, ?, 'x', 0)").run(
        user.id,
        `${user.id}@example.com`,
      );
      db.prepare(
        "INSERT INTO model_keys (user_id, key_id, ciphertext, last4, created_at, updated_at) VALUES (?, ?, ?, ?, 0, 0)",
      ).run(user.id, sealed.keyId, sealed.ciphertext, user.key.slice(-4));
      before.set(user.id, sealed.ciphertext);
    }
    db.close();

    const run = reencrypt(["--local", "--persist-to", persist], {
      ENCRYPTION_KEY: newSecret,
      ENCRYPTION_KEY_PREVIOUS: oldSecret,
    });
    expect(run.status, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toContain(`re-sealed 3 model key(s) under ${newRing.current.id}; 1 unreadable`);
    expect(run.stdout).toContain("user-4");
    for (const user of users) expect(run.stdout + run.stderr).not.toContain(user.key);

    db = await localDb();
    const after = db.prepare("SELECT user_id, key_id, ciphertext FROM model_keys ORDER BY user_id").all() as Array<{
      user_id: string;
      key_id: string;
      ciphertext: string;
    }>;
    db.close();
    for (const [i, user] of users.slice(0, 4).entries()) {
      const row = after[i];
      expect(row?.key_id).toBe(newRing.current.id);
      // Opens with the new key alone: the old one can be retired.
      const sealed = { keyId: row?.key_id ?? "", ciphertext: row?.ciphertext ?? "" };
      expect(await open(onlyNew, sealed, `model-key:${user.id}`)).toBe(user.key);
    }
    // Already current: untouched. Unreadable: left exactly as it was.
    expect(after[3]?.ciphertext).toBe(before.get("user-3"));
    expect(after[4]).toMatchObject({ key_id: stranger.current.id, ciphertext: before.get("user-4") });
  }, 180_000);

  it("refuses to run without the new key or a target", () => {
    expect(reencrypt(["--local"], {}).status).toBe(2);
    expect(reencrypt([], { ENCRYPTION_KEY: randomKey() }).status).toBe(2);
    const malformed = reencrypt(["--local"], { ENCRYPTION_KEY: "short" });
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toContain("ENCRYPTION_KEY");
  });
});
