/**
 * Entry point of the reference sandbox provider: reads its configuration from the environment and
 * serves until SIGINT/SIGTERM. `node sandbox/src/main.ts` (Node >= 22.18 strips the types).
 * Required: SANDBOX_TOKEN. Model credentials come only from here, never from requests.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startSandboxServer } from "./server.ts";

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

const token = process.env.SANDBOX_TOKEN;
if (!token) {
  console.error("SANDBOX_TOKEN is required");
  process.exit(1);
}
if (!process.env.ANTHROPIC_API_KEY) {
  console.error(
    "warning: ANTHROPIC_API_KEY is not set; agent runs will fail unless ANTHROPIC_BASE_URL points at a server that needs none",
  );
}

const server = await startSandboxServer({
  token,
  root: resolve(process.env.SANDBOX_ROOT ?? ".sandbox-data"),
  port: Number(process.env.SANDBOX_PORT ?? 8789),
  host: process.env.SANDBOX_HOST ?? "127.0.0.1",
  claudeBin: findClaude(),
  anthropicBaseUrl: process.env.ANTHROPIC_BASE_URL || undefined,
  anthropicApiKey: process.env.ANTHROPIC_API_KEY || undefined,
  maxRetries: Number(process.env.CLAUDE_CODE_MAX_RETRIES ?? 1),
  heartbeatMs: process.env.SANDBOX_HEARTBEAT_MS ? Number(process.env.SANDBOX_HEARTBEAT_MS) : undefined,
});
console.log(`sandbox provider listening on ${server.url}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
