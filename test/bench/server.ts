/**
 * Starts and stops the benchmark's `wrangler dev` (wrangler.bench.toml) for the bench runner: D1
 * migrations applied to a throwaway --persist-to dir, a free port, tracing off. Invariant: the
 * whole process group (wrangler, its proxy and worker workerd) is killed on stop and on exit.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const root = join(import.meta.dirname, "..", "..");
const config = join(root, "test", "bench", "wrangler.bench.toml");
const bin = join(root, "node_modules", ".bin");

export type BenchServer = {
  origin: string;
  /** The workerd process running the worker and its Durable Objects. */
  workerPid: number;
  /** The workerd process of wrangler's local proxy in front of it (what clients connect to). */
  proxyPid: number;
  stop(): Promise<void>;
  /**
   * The worker's workerd entry socket, behind wrangler's dev proxy: clients that connect here skip
   * a hop (and a process competing for the CPU) that production does not have.
   */
  directOrigin: string;
  /** wrangler's inspector proxy (DevTools protocol; the profile scenario uses it). */
  inspectorPort: number;
  /** What wrangler printed so far (shown when a scenario fails). */
  log(): string;
};

const env = {
  ...process.env,
  PATH: `${bin}:${process.env.PATH}`,
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

/** Processes whose process group is `pgid`, with their command lines. */
function groupProcesses(pgid: number): { pid: number; cmd: string }[] {
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

/** Ports a process listens on (its socket inodes matched against /proc/net/tcp). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // Closed meanwhile.
    }
  }
  const ports: number[] = [];
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    const [local, state, inode] = [cols[1], cols[3], cols[9]];
    if (state === "0A" && local && inode && inodes.has(inode))
      ports.push(Number.parseInt(local.split(":")[1] ?? "0", 16));
  }
  return ports;
}

/** The port among `ports` that answers as the bench worker. */
async function entryPort(ports: number[]): Promise<number> {
  for (const port of ports) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/bench/none`);
      if ((await res.text()) === "no such bench route") return port;
    } catch {
      // Not an HTTP socket.
    }
  }
  throw new Error(`no worker entry socket among ports ${ports.join(", ")}`);
}

/** Resident memory of a process in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match?.[1]) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

async function waitUntilUp(origin: string, exited: () => string | null): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const failure = exited();
    if (failure) throw new Error(failure);
    try {
      const res = await fetch(`${origin}/bench/none`);
      await res.arrayBuffer();
      if (res.status === 404) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error("wrangler dev did not come up within 60 s");
}

/** Binding names declared in a wrangler.toml (`name =` / `binding =` lines and [vars] keys). */
function bindingNames(path: string): Set<string> {
  const names = new Set<string>();
  let section = "";
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const header = /^\s*\[+([\w.]+)\]+/.exec(line);
    if (header?.[1]) section = header[1];
    const binding = /^\s*(?:name|binding)\s*=\s*"([^"]+)"/.exec(line);
    if (binding?.[1] && section !== "") names.add(binding[1]);
    const variable = /^\s*(\w+)\s*=/.exec(line);
    if (section === "vars" && variable?.[1]) names.add(variable[1]);
  }
  return names;
}

/** The bench worker runs the real one, so it needs every binding production declares. */
function checkBindings(): void {
  const bench = bindingNames(config);
  const missing = [...bindingNames(join(root, "wrangler.toml"))].filter((name) => !bench.has(name));
  if (missing.length > 0) {
    throw new Error(`test/bench/wrangler.bench.toml lacks bindings of wrangler.toml: ${missing.join(", ")}`);
  }
}

/** Runs a wrangler command to completion; throws with its output on failure. */
function wrangler(args: string[]): void {
  const res = spawnSync("wrangler", args, { cwd: root, env, encoding: "utf8" });
  if (res.status !== 0) throw new Error(`wrangler ${args[0]} failed:\n${res.stdout}\n${res.stderr}`);
}

/** `vars` override the config's [vars] (and set secrets such as SANDBOX_TOKEN) for this run. */
export async function startServer(vars: Record<string, string> = {}): Promise<BenchServer> {
  checkBindings();
  const persist = mkdtempSync(join(tmpdir(), "agent-chat-bench-"));
  // Bundled once up front and served with --no-bundle: an edit to the sources while the bench runs
  // would otherwise make wrangler reload the worker mid-measurement.
  const bundle = join(persist, "bundle");
  wrangler(["deploy", "--dry-run", "--outdir", bundle, "--config", config]);
  wrangler(["d1", "migrations", "apply", "DB", "--local", "--config", config, "--persist-to", persist]);

  const port = await freePort();
  const inspectorPort = await freePort();
  const args = [
    "dev",
    join(bundle, "bench-worker.js"),
    "--no-bundle",
    "--config",
    config,
    "--persist-to",
    persist,
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    ...Object.entries(vars).flatMap(([key, value]) => ["--var", `${key}:${value}`]),
  ];
  // detached: the child leads a new process group, so one signal reaches workerd too.
  const child = spawn("wrangler", [...args, "--inspector-port", String(inspectorPort)], {
    cwd: root,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pgid = child.pid ?? 0;
  let log = "";
  child.stdout.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  let exitCode: number | null = null;
  child.on("exit", (code) => {
    exitCode = code ?? -1;
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
  try {
    await waitUntilUp(origin, () => (exitCode === null ? null : `wrangler dev exited (${exitCode}):\n${log}`));
    const workerds = groupProcesses(pgid).filter((p) => p.cmd.includes("workerd serve"));
    const proxy = workerds.find((p) => p.cmd.includes(`entry=127.0.0.1:${port}`));
    const worker = workerds.find((p) => p !== proxy);
    if (!proxy || !worker) throw new Error(`could not tell the workerd processes apart:\n${JSON.stringify(workerds)}`);
    const directOrigin = `http://127.0.0.1:${await entryPort(listeningPorts(worker.pid))}`;
    return { origin, directOrigin, workerPid: worker.pid, proxyPid: proxy.pid, inspectorPort, stop, log: () => log };
  } catch (error: unknown) {
    await stop();
    throw error;
  }
}
