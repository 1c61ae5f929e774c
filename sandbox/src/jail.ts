/**
 * The isolation boundary around every process a sandbox runs (the agent CLI and exec commands):
 * builds the `prlimit … bwrap … -- command` spawn plan. Used by agent-process.ts and exec.ts.
 * Invariant: under bubblewrap a sandboxed process sees only its own workspace, home and /tmp
 * (writable), read-only system paths and the agent binary, its own PID namespace and /proc, and runs
 * as its sandbox's own uid when the provider is root; its environment is exactly the one given.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { prlimitArgs, type SandboxLimits } from "./limits.ts";
import type { SandboxPaths } from "./sandboxes.ts";

export type Isolation =
  | { kind: "bubblewrap"; bwrap: string; prlimit: string; version: string; uidPerSandbox: boolean }
  | { kind: "none" };

/** Where a sandboxed process finds its directories and the agent binary. */
export type SandboxView = { workspace: string; home: string; tmp: string; agentBin: string };

/** Fixed paths inside the boundary: no provider path (root, sandbox id) is visible to the agent. */
export const INSIDE = {
  workspace: "/workspace",
  home: "/home/sandbox",
  tmp: "/tmp",
  agentBin: "/opt/agent/claude",
} as const;

/** System paths bound read-only when they exist on the host (merged-/usr symlinks are recreated). */
const ROOT_DIRS = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/**
 * The parts of /etc a shell, git, TLS and name resolution need. Not all of /etc: a host's /etc can
 * hold credentials; `passwd` and `group` are the sandbox's own (see SandboxStore).
 */
const ETC_ENTRIES = [
  "alternatives",
  "bash.bashrc",
  "ca-certificates",
  "ca-certificates.conf",
  "debian_version",
  "gai.conf",
  "gitconfig",
  "host.conf",
  "hosts",
  "inputrc",
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "locale.alias",
  "localtime",
  "magic",
  "mime.types",
  "nsswitch.conf",
  "os-release",
  "pki",
  "profile",
  "profile.d",
  "protocols",
  "resolv.conf",
  "services",
  "ssl",
  "terminfo",
  "timezone",
];

/** Size of the sandbox's /dev/shm (memory-backed, so small and fixed). */
const SHM_BYTES = 64 * 1024 * 1024;

export type SandboxIdentity = { paths: SandboxPaths; uid: number | null };

export type JailRequest = {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Host path of the agent CLI to make visible at `INSIDE.agentBin` (runs only). */
  agentBin?: string;
};

export type SpawnPlan = {
  file: string;
  args: string[];
  options: { cwd: string; env: Record<string, string>; uid?: number; gid?: number };
  /**
   * bwrap's own options, NUL-separated, to be written to the child's fd 3 (`--args 3`): bwrap stays
   * the sandbox's pid 1, and its command line would otherwise show host paths to the agent.
   */
  argsFd: Buffer | null;
};

/** The stdio entry for fd 3 of a jailed spawn: a pipe when bwrap reads its options from it. */
export function fd3(plan: SpawnPlan): "pipe" | "ignore" {
  return plan.argsFd ? "pipe" : "ignore";
}

/** Hands bwrap its options on fd 3 of a child spawned with `fd3(plan)`. */
export function feedArgs(child: ChildProcess, plan: SpawnPlan): void {
  const pipe = child.stdio[3];
  if (!plan.argsFd || !pipe || !("end" in pipe)) return;
  pipe.on("error", () => {});
  pipe.end(plan.argsFd);
}

export function viewOf(isolation: Isolation, paths: SandboxPaths, agentBin: string): SandboxView {
  if (isolation.kind === "none") return { workspace: paths.workspace, home: paths.home, tmp: paths.tmp, agentBin };
  return { ...INSIDE };
}

function systemBinds(): string[] {
  const args: string[] = ["--ro-bind", "/usr", "/usr"];
  for (const dir of ROOT_DIRS) {
    const host = `/${dir}`;
    try {
      const stat = lstatSync(host);
      if (stat.isSymbolicLink()) args.push("--symlink", readlinkSync(host), host);
      else if (stat.isDirectory()) args.push("--ro-bind", host, host);
    } catch {
      // Not on this host.
    }
  }
  for (const entry of ETC_ENTRIES) {
    const host = join("/etc", entry);
    if (existsSync(host)) args.push("--ro-bind", host, host);
  }
  return args;
}

/** bwrap options for one sandbox; `agentBin` is bound only when given. */
export function bwrapArgs(paths: SandboxPaths, agentBin: string | undefined): string[] {
  return [
    "--unshare-user",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--disable-userns",
    "--die-with-parent",
    "--new-session",
    "--hostname",
    "sandbox",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--perms",
    "1777",
    "--size",
    String(SHM_BYTES),
    "--tmpfs",
    "/dev/shm",
    "--remount-ro",
    "/dev",
    ...systemBinds(),
    "--ro-bind",
    join(paths.etc, "passwd"),
    "/etc/passwd",
    "--ro-bind",
    join(paths.etc, "group"),
    "/etc/group",
    "--bind",
    paths.workspace,
    INSIDE.workspace,
    "--bind",
    paths.home,
    INSIDE.home,
    "--bind",
    paths.tmp,
    INSIDE.tmp,
    "--symlink",
    "../tmp",
    "/var/tmp",
    ...(agentBin ? ["--ro-bind", agentBin, INSIDE.agentBin] : []),
    "--remount-ro",
    "/",
    "--chdir",
    INSIDE.workspace,
  ];
}

/** How to spawn `request` in the sandbox: bare (isolation none) or inside prlimit + bubblewrap. */
export function jailPlan(
  isolation: Isolation,
  sandbox: SandboxIdentity,
  limits: SandboxLimits,
  request: JailRequest,
): SpawnPlan {
  const { paths, uid } = sandbox;
  if (isolation.kind === "none") {
    return {
      file: request.command,
      args: request.args,
      options: { cwd: paths.workspace, env: request.env },
      argsFd: null,
    };
  }
  const args = [...prlimitArgs(limits), "--", isolation.bwrap, "--args", "3", "--", request.command, ...request.args];
  const argsFd = Buffer.from(`${bwrapArgs(paths, request.agentBin).join("\0")}\0`);
  const ids = uid === null ? {} : { uid, gid: uid };
  return { file: isolation.prlimit, args, options: { cwd: paths.workspace, env: request.env, ...ids }, argsFd };
}
