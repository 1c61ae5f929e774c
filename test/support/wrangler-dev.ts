/**
 * `wrangler dev` for the browser tests and the benchmark: the project's D1 migrations applied to a
 * throwaway --persist-to directory, free ports, SQL tracing off, the given vars, and a wait until
 * the worker answers. Invariant: the whole process group (wrangler, its proxy and workerd) is
 * killed on stop and when this process exits, and the directory is removed.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const root = join(import.meta.dirname, "..", "..");

const env = {
  ...process.env,
  PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}`,
  WRANGLER_SEND_METRICS: "false",
  // Local dev otherwise traces every SQL statement (10x slower inserts, hundreds of MB written).
  X_LOCAL_OBSERVABILITY: "false",
  CI: "true",
};

function freePort(): Promise<number> {
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

/** Runs a wrangler command to completion; throws with its output on failure. */
export function wrangler(args: string[]): void {
  const res = spawnSync("wrangler", args, { cwd: root, env, encoding: "utf8" });
  if (res.status !== 0) throw new Error(`wrangler ${args[0]} failed:\n${res.stdout}\n${res.stderr}`);
}

/** Processes whose process group is `pgid`, with their command lines. */
export function groupProcesses(pgid: number): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== pgid) continue;
      out.push({ pid: Number(name), cmd: readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ") });
    } catch {
      // The process ended meanwhile.
    }
  }
  return out;
}

export type DevOptions = {
  /** Arguments naming the config, for `wrangler d1 migrations apply` and `dev` (none: ./wrangler.toml). */
  configArgs?: string[];
  /**
   * Called with the throwaway directory before the server starts; returns arguments for `dev`
   * before the common ones (a bundle made there, to serve, say).
   */
  prepare?(dir: string): string[];
  vars: Record<string, string>;
  /** A path on the worker and the status it answers once it is up. */
  probe: { path: string; status: number };
  upWithinMs: number;
};

export type DevServer = {
  origin: string;
  port: number;
  inspectorPort: number;
  /** The process group of wrangler and its workerd processes. */
  pgid: number;
  /** What wrangler printed lately (shown when something fails). */
  log(): string;
  stop(): Promise<void>;
};

export async function startWranglerDev(options: DevOptions): Promise<DevServer> {
  const persist = mkdtempSync(join(tmpdir(), "agent-chat-dev-"));
  let firstArgs: string[];
  try {
    firstArgs = options.prepare?.(persist) ?? [];
    wrangler(["d1", "migrations", "apply", "DB", "--local", ...(options.configArgs ?? []), "--persist-to", persist]);
  } catch (error: unknown) {
    rmSync(persist, { recursive: true, force: true });
    throw error;
  }
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const args = [
    "dev",
    ...firstArgs,
    ...(options.configArgs ?? []),
    "--persist-to",
    persist,
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--show-interactive-dev-session=false",
    ...Object.entries(options.vars).flatMap(([key, value]) => ["--var", `${key}:${value}`]),
  ];
  // detached: the child leads a new process group, so one signal reaches workerd too.
  const child = spawn("wrangler", args, { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const pgid = child.pid ?? 0;
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
      process.kill(-pgid, signal);
    } catch {
      // Already gone.
    }
  };
  const onExit = () => kill("SIGKILL");
  process.on("exit", onExit);
  const stop = async () => {
    kill("SIGTERM");
    for (let i = 0; i < 50 && groupProcesses(pgid).length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    kill("SIGKILL");
    process.off("exit", onExit);
    rmSync(persist, { recursive: true, force: true });
  };

  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + options.upWithinMs;
  for (;;) {
    if (exited !== null) {
      await stop();
      throw new Error(`wrangler dev exited (${exited}):\n${log}`);
    }
    try {
      const res = await fetch(`${origin}${options.probe.path}`);
      await res.arrayBuffer();
      if (res.status === options.probe.status) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not come up in ${options.upWithinMs / 1000} s:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { origin, port, inspectorPort, pgid, log: () => log, stop };
}
