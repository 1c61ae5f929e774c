// Starts the whole system locally: installs dependencies, builds the client, migrates the local D1,
// starts the offline demo model (unless ANTHROPIC_API_KEY is set), the reference sandbox provider
// and `wrangler dev`, then prints the URL and drives the minute Cron Trigger. Ctrl-C stops everything.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bootstrap, root, run } from "./bootstrap.mjs";
import { chooseIsolation } from "./isolation.mjs";

bootstrap(import.meta.url);

const PORT = Number(process.env.PORT ?? 8787);
const SANDBOX_PORT = Number(process.env.SANDBOX_PORT ?? 8788);
const MODEL_PORT = Number(process.env.MODEL_PORT ?? 8789);
const bin = join(root, "node_modules", ".bin");
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", PATH: `${bin}:${process.env.PATH}` };

// Secrets for local development live in .dev.vars (git-ignored); made once, kept across restarts.
const devVars = join(root, ".dev.vars");
if (!existsSync(devVars)) {
  writeFileSync(devVars, `SANDBOX_TOKEN=${randomBytes(24).toString("hex")}\n`);
}
// The key that seals users' model keys at rest (added to a .dev.vars made before it existed).
if (!/^ENCRYPTION_KEY=/m.test(readFileSync(devVars, "utf8"))) {
  appendFileSync(devVars, `ENCRYPTION_KEY=${randomBytes(32).toString("base64")}\n`);
}
const sandboxToken = /^SANDBOX_TOKEN=(.+)$/m.exec(readFileSync(devVars, "utf8"))?.[1]?.trim() ?? "";

run("npm", ["run", "--silent", "types"]);
run("npm", ["run", "--silent", "build:client"]);
run("wrangler", ["d1", "migrations", "apply", "DB", "--local"], { env: { ...env, CI: "true" } });

const children = [];
function start(name, cmd, args, extraEnv = {}) {
  const child = spawn(cmd, args, {
    cwd: root,
    env: { ...env, ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const prefix = (chunk) => chunk.toString().replace(/^(?=.)/gm, `[${name}] `);
  child.stdout.on("data", (c) => process.stdout.write(prefix(c)));
  child.stderr.on("data", (c) => process.stderr.write(prefix(c)));
  child.on("exit", (code, signal) => {
    console.log(`[${name}] exited (${code ?? signal})`);
    stopAll(1);
  });
  children.push(child);
  return child;
}

let stopping = false;
function stopAll(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children) {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
  }
  setTimeout(() => process.exit(code), 500);
}
process.on("SIGINT", () => stopAll(0));
process.on("SIGTERM", () => stopAll(0));

const node = join(bin, "node");
let modelUrl = process.env.ANTHROPIC_BASE_URL ?? "https://api.anthropic.com";
if (!process.env.ANTHROPIC_API_KEY && existsSync(join(root, "test/model-server/main.ts"))) {
  modelUrl = `http://127.0.0.1:${MODEL_PORT}`;
  start("demo-model", node, ["test/model-server/main.ts"], { MODEL_PORT: String(MODEL_PORT) });
}
if (existsSync(join(root, "sandbox/src/main.ts"))) {
  const sandboxRoot = join(root, ".dev", "sandboxes");
  mkdirSync(sandboxRoot, { recursive: true });
  const isolation = await chooseIsolation(sandboxRoot, join(bin, "claude"));
  start("sandbox", node, ["sandbox/src/main.ts"], {
    SANDBOX_ISOLATION: isolation,
    SANDBOX_PORT: String(SANDBOX_PORT),
    SANDBOX_TOKEN: sandboxToken,
    SANDBOX_ROOT: sandboxRoot,
    ANTHROPIC_BASE_URL: modelUrl,
    ANTHROPIC_API_KEY: process.env.ANTHROPIC_API_KEY ?? "offline-demo",
    CLAUDE_BIN: join(bin, "claude"),
  });
}
start("worker", join(bin, "wrangler"), [
  "dev",
  "--ip",
  "127.0.0.1",
  "--port",
  String(PORT),
  "--var",
  `SANDBOX_URL:http://127.0.0.1:${SANDBOX_PORT}`,
  "--show-interactive-dev-session=false",
]);

const url = `http://127.0.0.1:${PORT}`;
for (let i = 0; i < 120 && !stopping; i++) {
  try {
    const res = await fetch(`${url}/api/auth/me`);
    if (res.status === 401) {
      console.log(
        `\n  Agent Chat is running at ${url}\n  (the demo model answers unless ANTHROPIC_API_KEY is set; Ctrl-C stops everything)\n`,
      );
      break;
    }
  } catch {}
  await new Promise((r) => setTimeout(r, 500));
}

// `wrangler dev` never fires Cron Triggers by itself: call its scheduled endpoint at the start of
// every minute, with that minute as the scheduled time, so schedules run locally as deployed.
function driveCron() {
  const now = Date.now();
  const minute = Math.floor(now / 60_000) * 60_000 + 60_000;
  setTimeout(async () => {
    if (stopping) return;
    try {
      const res = await fetch(
        `${url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}&time=${minute}`,
      );
      if (!res.ok) console.error(`[cron] the minute tick failed: ${res.status} ${await res.text()}`);
    } catch (error) {
      console.error(`[cron] the minute tick failed: ${error instanceof Error ? error.message : error}`);
    }
    driveCron();
  }, minute - now);
}
if (!stopping) driveCron();
