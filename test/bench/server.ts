/**
 * Starts and stops the benchmark's `wrangler dev` (wrangler.bench.toml) for the bench runner: D1
 * migrations applied to a throwaway --persist-to dir, a free port, tracing off. Invariant: the
 * whole process group (wrangler, its proxy and worker workerd) is killed on stop and on exit.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { groupProcesses, root, startWranglerDev, wrangler } from "../support/wrangler-dev.ts";

const config = join(root, "test", "bench", "wrangler.bench.toml");

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

/** `vars` override the config's [vars] (and set secrets such as SANDBOX_TOKEN) for this run. */
export async function startServer(vars: Record<string, string> = {}): Promise<BenchServer> {
  checkBindings();
  const configArgs = ["--config", config];
  const dev = await startWranglerDev({
    // Bundled once up front and served with --no-bundle: an edit to the sources while the bench runs
    // would otherwise make wrangler reload the worker mid-measurement.
    prepare(dir) {
      const bundle = join(dir, "bundle");
      wrangler(["deploy", "--dry-run", "--outdir", bundle, ...configArgs]);
      return [join(bundle, "bench-worker.js"), "--no-bundle"];
    },
    configArgs,
    vars,
    probe: { path: "/bench/none", status: 404 },
    upWithinMs: 60_000,
  });
  try {
    const workerds = groupProcesses(dev.pgid).filter((p) => p.cmd.includes("workerd serve"));
    const proxy = workerds.find((p) => p.cmd.includes(`entry=127.0.0.1:${dev.port}`));
    const worker = workerds.find((p) => p !== proxy);
    if (!proxy || !worker) throw new Error(`could not tell the workerd processes apart:\n${JSON.stringify(workerds)}`);
    const directOrigin = `http://127.0.0.1:${await entryPort(listeningPorts(worker.pid))}`;
    return {
      origin: dev.origin,
      directOrigin,
      workerPid: worker.pid,
      proxyPid: proxy.pid,
      inspectorPort: dev.inspectorPort,
      stop: dev.stop,
      log: dev.log,
    };
  } catch (error: unknown) {
    await dev.stop();
    throw error;
  }
}
