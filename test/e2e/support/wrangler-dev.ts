/**
 * Starts the real worker for the browser tests: `wrangler dev` with the project's own
 * wrangler.toml, a throwaway --persist-to directory with the D1 migrations applied, a free port
 * and the given vars. Invariant: the whole process group (wrangler, its proxy and workerd) is
 * killed on stop and when this process exits.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..", "..");
const bin = join(root, "node_modules", ".bin");
const env = {
  ...process.env,
  PATH: `${bin}:${process.env.PATH}`,
  WRANGLER_SEND_METRICS: "false",
  // Local dev otherwise traces every SQL statement into a store that grows by hundreds of MB.
  X_LOCAL_OBSERVABILITY: "false",
  CI: "true",
};

export type WorkerServer = { origin: string; stop(): Promise<void>; log(): string };

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startWorker(vars: Record<string, string>): Promise<WorkerServer> {
  const persist = mkdtempSync(join(tmpdir(), "agent-chat-e2e-"));
  const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], {
    cwd: root,
    env,
    encoding: "utf8",
  });
  if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);
  const port = await freePort();
  const args = ["dev", "--persist-to", persist, "--ip", "127.0.0.1", "--port", String(port)];
  args.push("--show-interactive-dev-session=false", "--inspector-port", String(await freePort()));
  for (const [key, value] of Object.entries(vars)) args.push("--var", `${key}:${value}`);
  const child = spawn("wrangler", args, { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-64_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited: number | null = null;
  child.on("exit", (code) => {
    exited = code ?? -1;
  });
  const kill = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const onExit = () => kill("SIGKILL");
  process.on("exit", onExit);
  const stop = async () => {
    kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 500));
    kill("SIGKILL");
    process.off("exit", onExit);
    rmSync(persist, { recursive: true, force: true });
  };
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited !== null) {
      await stop();
      throw new Error(`wrangler dev exited (${exited}):\n${log}`);
    }
    try {
      const res = await fetch(`${origin}/api/auth/me`);
      await res.arrayBuffer();
      if (res.status === 401) break;
    } catch {
      // Not up yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not come up in 90 s:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { origin, stop, log: () => log };
}
