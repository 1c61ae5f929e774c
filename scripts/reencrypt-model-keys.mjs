// Re-seals every stored model key under the current ENCRYPTION_KEY, after a key rotation:
//   ENCRYPTION_KEY=<new> ENCRYPTION_KEY_PREVIOUS=<old>[,<older>] npm run keys:reencrypt -- --remote
// (`--local`, optionally with `--persist-to DIR`, for the local database). Rows are read and written
// with `wrangler d1 execute`; each write is a compare-and-set on the old value, so a key a user
// replaced meanwhile is left alone. Keys that open with none of the given keys are listed and kept;
// the exit code is then 1. The keys never leave this process except sealed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrap, root } from "./bootstrap.mjs";

bootstrap(import.meta.url);

const args = process.argv.slice(2);
if (!args.includes("--local") && !args.includes("--remote")) {
  console.error("usage: ENCRYPTION_KEY=... ENCRYPTION_KEY_PREVIOUS=... npm run keys:reencrypt -- --local|--remote");
  process.exit(2);
}
const { loadKeyring, reseal, KeyringError } = await import(join(root, "worker/crypto/keyring.ts"));
let keyring;
try {
  keyring = await loadKeyring(process.env);
} catch (err) {
  console.error(String(err instanceof Error ? err.message : err));
  process.exit(2);
}
if (!keyring) {
  console.error("ENCRYPTION_KEY (the new key) is required, with the old ones in ENCRYPTION_KEY_PREVIOUS");
  process.exit(2);
}

const quote = (value) => `'${String(value).replaceAll("'", "''")}'`;

function d1(sqlArgs) {
  const res = spawnSync(
    join(root, "node_modules", ".bin", "wrangler"),
    ["d1", "execute", "DB", ...args, "--json", "--yes", ...sqlArgs],
    {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (res.status !== 0) {
    console.error(res.stdout, res.stderr);
    process.exit(1);
  }
  const out = res.stdout.slice(res.stdout.indexOf("["));
  return JSON.parse(out).flatMap((r) => r.results ?? []);
}

const current = keyring.current.id;
const PAGE = 200;
const dir = mkdtempSync(join(tmpdir(), "reencrypt-"));
let resealed = 0;
const unreadable = [];
let after = "";
try {
  for (;;) {
    const rows = d1([
      "--command",
      `SELECT user_id, key_id, ciphertext FROM model_keys WHERE key_id <> ${quote(current)} AND user_id > ${quote(after)} ORDER BY user_id LIMIT ${PAGE}`,
    ]);
    const statements = [];
    for (const row of rows) {
      after = row.user_id;
      try {
        const next = await reseal(
          keyring,
          { keyId: row.key_id, ciphertext: row.ciphertext },
          `model-key:${row.user_id}`,
        );
        if (!next) continue;
        statements.push(
          `UPDATE model_keys SET key_id = ${quote(next.keyId)}, ciphertext = ${quote(next.ciphertext)} WHERE user_id = ${quote(row.user_id)} AND key_id = ${quote(row.key_id)} AND ciphertext = ${quote(row.ciphertext)};`,
        );
      } catch (err) {
        if (!(err instanceof KeyringError)) throw err;
        unreadable.push(`${row.user_id} (${err.message})`);
      }
    }
    if (statements.length > 0) {
      const file = join(dir, "reseal.sql");
      writeFileSync(file, `${statements.join("\n")}\n`);
      d1(["--file", file]);
      resealed += statements.length;
    }
    if (rows.length < PAGE) break;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`re-sealed ${resealed} model key(s) under ${current}; ${unreadable.length} unreadable`);
if (unreadable.length > 0) {
  console.log(`not readable with the given keys (left as they are):\n  ${unreadable.join("\n  ")}`);
  process.exit(1);
}
