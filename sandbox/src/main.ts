/**
 * Entry point of the reference sandbox provider: reads its configuration from the environment and
 * serves until SIGINT/SIGTERM. `node sandbox/src/main.ts` (Node >= 22.18 strips the types).
 * Required: SANDBOX_TOKEN, and a working bubblewrap unless SANDBOX_ISOLATION=none. The service's
 * model key (ANTHROPIC_API_KEY) stays in this process: agents only ever get per-run relay tokens.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { IsolationUnavailable, isolationModeFromEnv } from "./isolation.ts";
import { limitsFromEnv } from "./limits.ts";
import { DEFAULT_UIDS, startSandboxServer } from "./server.ts";

function findClaude(): string {
  if (process.env.CLAUDE_BIN) return process.env.CLAUDE_BIN;
  // The repo's (or the image's) node_modules/.bin, else whatever `claude` is on PATH.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, "node_modules", ".bin", "claude");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  try {
    return execFileSync("sh", ["-c", "command -v claude"], { encoding: "utf8" }).trim() || "claude";
  } catch {
    return "claude";
  }
}

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

/** A whole number from the environment, or `fallback` when unset. */
function whole(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  if (!/^\d{1,12}$/.test(raw.trim())) fail(`${name} must be a whole number`);
  return Number(raw);
}

const token = process.env.SANDBOX_TOKEN;
if (!token) fail("SANDBOX_TOKEN is required");
let settings: { isolation: ReturnType<typeof isolationModeFromEnv>; limits: ReturnType<typeof limitsFromEnv> };
try {
  settings = { isolation: isolationModeFromEnv(process.env.SANDBOX_ISOLATION), limits: limitsFromEnv(process.env) };
} catch (err: unknown) {
  fail(err instanceof Error ? err.message : String(err));
}
if (!process.env.ANTHROPIC_API_KEY) {
  console.error(
    "note: ANTHROPIC_API_KEY is not set: only runs that bring the user's own model key can start (others fail with model_key_missing)",
  );
}

let server: Awaited<ReturnType<typeof startSandboxServer>>;
try {
  server = await startSandboxServer({
    token,
    root: resolve(process.env.SANDBOX_ROOT ?? ".sandbox-data"),
    port: whole("SANDBOX_PORT", 8789),
    host: process.env.SANDBOX_HOST ?? "127.0.0.1",
    claudeBin: findClaude(),
    anthropicBaseUrl: process.env.ANTHROPIC_BASE_URL || undefined,
    anthropicApiKey: process.env.ANTHROPIC_API_KEY || undefined,
    maxRetries: whole("CLAUDE_CODE_MAX_RETRIES", 1),
    heartbeatMs: whole("SANDBOX_HEARTBEAT_MS", 10_000),
    isolation: settings.isolation,
    bwrap: process.env.SANDBOX_BWRAP || undefined,
    uids: { base: whole("SANDBOX_UID_BASE", DEFAULT_UIDS.base), count: whole("SANDBOX_UID_COUNT", DEFAULT_UIDS.count) },
    limits: settings.limits,
    monitorMs: whole("SANDBOX_MONITOR_MS", 500),
    diskMonitorMs: whole("SANDBOX_DISK_MONITOR_MS", 2000),
    idleStopMs: whole("SANDBOX_IDLE_STOP_MINUTES", 15) * 60_000,
    idleDeleteMs: whole("SANDBOX_IDLE_DELETE_DAYS", 0) * 86_400_000,
    relayHost: process.env.SANDBOX_RELAY_HOST || undefined,
    relayPort: whole("SANDBOX_RELAY_PORT", 0),
  });
} catch (err: unknown) {
  if (err instanceof IsolationUnavailable) {
    fail(
      `refusing to start: sandboxes cannot be isolated here: ${err.message}.\nInstall bubblewrap (apt-get install bubblewrap) and allow user namespaces, or set SANDBOX_ISOLATION=none for single-user development.`,
    );
  }
  throw err;
}
console.log(`sandbox provider listening on ${server.url}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
