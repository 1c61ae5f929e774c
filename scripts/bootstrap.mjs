// Makes a script runnable on a fresh machine: installs dependencies when node_modules is missing or
// older than the lock file, then re-runs the calling script on the project's pinned Node 22 (the
// system Node may be older). Plain JavaScript that any Node >= 18 can run.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function needsInstall() {
  const marker = join(root, "node_modules", ".package-lock.json");
  if (!existsSync(marker)) return true;
  return statSync(join(root, "package-lock.json")).mtimeMs > statSync(marker).mtimeMs;
}

/** Call first in every entry script; returns only when running on Node 22 with deps installed. */
export function bootstrap(scriptUrl) {
  if (needsInstall()) {
    console.log("[setup] installing dependencies (npm ci)…");
    const res = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
    if (res.status !== 0) process.exit(res.status ?? 1);
  }
  const major = Number(process.versions.node.split(".")[0]);
  if (major >= 22) return;
  const pinned = join(root, "node_modules", "node", "bin", "node");
  const res = spawnSync(pinned, [fileURLToPath(scriptUrl), ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}` },
  });
  process.exit(res.status ?? 1);
}

/** Runs a command from node_modules/.bin (or the PATH) and exits on failure. */
export function run(cmd, args, options = {}) {
  const res = spawnSync(cmd, args, {
    cwd: root,
    stdio: "inherit",
    ...options,
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}`,
      ...options.env,
    },
  });
  if (res.status !== 0) {
    console.error(`[setup] ${cmd} ${args.join(" ")} failed (${res.status ?? res.signal})`);
    process.exit(res.status ?? 1);
  }
  return res;
}
