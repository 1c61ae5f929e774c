/**
 * Choosing and checking the isolation boundary at start-up. Used by server.ts (and by the dev start
 * script, to decide whether this machine can isolate). Bubblewrap is required unless the operator
 * says `SANDBOX_ISOLATION=none`; "required" means a real sandbox is started once, as a sandbox user,
 * with the real agent binary bound in, before the provider accepts any request.
 */
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { accessSync, chmodSync, constants, mkdirSync, realpathSync, rmSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fd3, feedArgs, INSIDE, type Isolation, jailPlan, type SpawnPlan } from "./jail.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { layoutAt, prepareLayout, type UidRange } from "./sandboxes.ts";

export type IsolationMode = "bubblewrap" | "none";

export class IsolationUnavailable extends Error {
  override readonly name = "IsolationUnavailable";
}

/** `SANDBOX_ISOLATION`: unset or `bubblewrap` requires the boundary; `none` runs without it. */
export function isolationModeFromEnv(value: string | undefined): IsolationMode {
  const v = (value ?? "").trim();
  if (v === "" || v === "bubblewrap") return "bubblewrap";
  if (v === "none") return "none";
  throw new Error(`SANDBOX_ISOLATION must be "bubblewrap" or "none", not ${JSON.stringify(v)}`);
}

function onPath(name: string, override: string | undefined): string | null {
  if (override) return override;
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  for (const candidate of [`/usr/bin/${name}`, `/bin/${name}`]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here either.
    }
  }
  return null;
}

function run(file: string, args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 15_000, encoding: "utf8" }, (error, stdout, stderr) => {
      resolve({ ok: error === null, stdout, stderr: stderr || (error ? error.message : "") });
    });
  });
}

/** Runs a jailed command to its end (at most 15 s), collecting its output. */
function runPlan(plan: SpawnPlan): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(plan.file, plan.args, { ...plan.options, stdio: ["ignore", "pipe", "pipe", fd3(plan)] });
    feedArgs(child, plan);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
    });
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ ok: false, stdout, stderr: err.message });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, stdout, stderr });
    });
  });
}

export type IsolationOptions = {
  mode: IsolationMode;
  /** The sandboxes' root directory: the probe sandbox is made there, so its permissions are tested too. */
  root: string;
  agentBin: string;
  /** Uids per sandbox (the provider is root); the probe runs as `base`. */
  uids: UidRange | null;
  bwrap?: string;
  prlimit?: string;
};

/** Finds bubblewrap and proves it works here, or throws `IsolationUnavailable` saying why. */
export async function setUpIsolation(opts: IsolationOptions): Promise<Isolation> {
  if (opts.mode === "none") return { kind: "none" };
  if (process.platform !== "linux") {
    throw new IsolationUnavailable(`bubblewrap needs Linux (this is ${process.platform})`);
  }
  const bwrap = onPath("bwrap", opts.bwrap);
  if (!bwrap) throw new IsolationUnavailable("bwrap (Debian package bubblewrap) is not installed");
  const prlimit = onPath("prlimit", opts.prlimit);
  if (!prlimit) throw new IsolationUnavailable("prlimit (util-linux) is not installed");
  const version = await run(bwrap, ["--version"]);
  if (!version.ok) throw new IsolationUnavailable(`${bwrap} --version failed: ${version.stderr.trim()}`);
  const isolation: Isolation = {
    kind: "bubblewrap",
    bwrap,
    prlimit,
    version: version.stdout.trim().replace(/^bubblewrap\s*/, ""),
    uidPerSandbox: opts.uids !== null,
  };
  await probe(isolation, opts);
  return isolation;
}

/** Starts one throw-away sandbox exactly as a run would and checks what it sees. */
async function probe(isolation: Isolation, opts: IsolationOptions): Promise<void> {
  let agentBin: string;
  try {
    agentBin = realpathSync(opts.agentBin);
  } catch {
    throw new IsolationUnavailable(`the agent CLI ${opts.agentBin} does not exist`);
  }
  const paths = layoutAt(join(opts.root, `.probe-${randomUUID()}`));
  const uid = opts.uids?.base ?? null;
  try {
    mkdirSync(opts.root, { recursive: true });
    if (uid !== null) chmodSync(opts.root, 0o711);
    prepareLayout(paths, uid);
    const check = `test -x ${INSIDE.agentBin} && test -w ${INSIDE.workspace} && test ! -e /proc/1/root/etc/shadow && echo isolated`;
    const plan = jailPlan(isolation, { paths, uid }, DEFAULT_LIMITS, {
      command: "/bin/sh",
      args: ["-c", check],
      env: { PATH: "/usr/bin:/bin" },
      agentBin,
    });
    const result = await runPlan(plan);
    if (!result.ok || result.stdout.trim() !== "isolated") {
      const who = uid === null ? "" : ` as uid ${uid}`;
      throw new IsolationUnavailable(
        `a test sandbox${who} did not start or could not see the agent CLI (${agentBin}; it and its parent directories must be readable by sandbox users): ${result.stderr.trim() || result.stdout.trim()}`,
      );
    }
  } finally {
    rmSync(paths.dir, { recursive: true, force: true });
  }
}

/** What the provider says about its boundary: in its log and in `GET /v1/capabilities`. */
export function describeIsolation(isolation: Isolation): { kind: string; [key: string]: unknown } {
  if (isolation.kind === "none") return { kind: "none" };
  return {
    kind: "bubblewrap",
    version: isolation.version,
    namespaces: ["user", "mount", "pid", "ipc", "uts", "cgroup"],
    uidPerSandbox: isolation.uidPerSandbox,
    network: "shared",
  };
}

export function isolationLogLine(isolation: Isolation): string {
  if (isolation.kind === "none") {
    return "sandbox isolation: NONE (SANDBOX_ISOLATION=none). Agents run as the provider's own user and can read its files, environment and other sandboxes; use this only for single-user development.";
  }
  const who = isolation.uidPerSandbox ? "one uid per sandbox" : "the provider's uid (not root: no uid per sandbox)";
  return `sandbox isolation: bubblewrap ${isolation.version} (user, mount, PID, IPC, UTS namespaces; ${who}; per-sandbox limits)`;
}
