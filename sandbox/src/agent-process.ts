/**
 * Starting the Claude Code CLI for one run inside its sandbox's jail: its argument list, its
 * environment (exactly what the run needs: no provider variable leaks in, and the only model
 * credential is the run's relay token) and the spawn itself, detached in its own process group so a
 * cancel can kill every descendant.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { fd3, feedArgs, type Isolation, jailPlan, type SandboxIdentity, type SandboxView, viewOf } from "./jail.ts";
import type { SandboxLimits } from "./limits.ts";
import type { PermissionMode } from "./validate.ts";

export type AgentConfig = {
  /** Host path of the CLI binary (a self-contained executable: it is bound alone into the jail). */
  claudeBin: string;
  maxRetries: number;
};

/** What a sandboxed process is started with: the boundary, the sandbox and its limits. */
export type JailContext = { isolation: Isolation; sandbox: SandboxIdentity; limits: SandboxLimits };

export type AgentLaunch = {
  model: string;
  permissionMode: PermissionMode;
  session: { kind: "new" | "resume"; id: string };
  /** The model relay and this run's token for it: the CLI's base URL and API key. */
  relayUrl: string;
  relayToken: string;
};

export function agentArgs(launch: AgentLaunch): string[] {
  return [
    "-p",
    "--output-format",
    "stream-json",
    "--verbose",
    "--include-partial-messages",
    "--input-format",
    "stream-json",
    "--permission-prompt-tool",
    "stdio",
    "--model",
    launch.model,
    "--permission-mode",
    launch.permissionMode,
    launch.session.kind === "new" ? "--session-id" : "--resume",
    launch.session.id,
  ];
}

const JAIL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The environment shared by agent runs and exec commands. In a jail it is built from nothing; without
 * isolation (development) the provider's PATH is kept so local tools are found.
 */
export function baseEnv(isolation: Isolation, view: SandboxView): Record<string, string> {
  const env: Record<string, string> = {
    HOME: view.home,
    TMPDIR: view.tmp,
    SHELL: "/bin/bash",
    USER: "sandbox",
    LOGNAME: "sandbox",
    LANG: process.env.LANG || "C.UTF-8",
    PATH: isolation.kind === "none" ? process.env.PATH || JAIL_PATH : JAIL_PATH,
  };
  if (process.env.TZ) env.TZ = process.env.TZ;
  return env;
}

export function agentEnv(isolation: Isolation, view: SandboxView, config: AgentConfig, launch: AgentLaunch) {
  return {
    ...baseEnv(isolation, view),
    ANTHROPIC_BASE_URL: launch.relayUrl,
    ANTHROPIC_API_KEY: launch.relayToken,
    DISABLE_TELEMETRY: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
    CLAUDE_CODE_MAX_RETRIES: String(config.maxRetries),
    // Lets bypassPermissions work when the agent runs as root (isolation none, provider as root).
    IS_SANDBOX: "1",
  };
}

export function spawnAgent(
  jail: JailContext,
  config: AgentConfig,
  launch: AgentLaunch,
): ChildProcessWithoutNullStreams {
  const view = viewOf(jail.isolation, jail.sandbox.paths, config.claudeBin);
  const plan = jailPlan(jail.isolation, jail.sandbox, jail.limits, {
    command: view.agentBin,
    args: agentArgs(launch),
    env: agentEnv(jail.isolation, view, config, launch),
    agentBin: config.claudeBin,
  });
  const child = spawn(plan.file, plan.args, {
    ...plan.options,
    detached: true,
    stdio: ["pipe", "pipe", "pipe", fd3(plan)],
  }) as ChildProcessWithoutNullStreams;
  feedArgs(child, plan);
  return child;
}

/** The one stdin line that carries the user's prompt. */
export function userLine(prompt: string): string {
  return `${JSON.stringify({ type: "user", message: { role: "user", content: prompt } })}\n`;
}

/** Sends `signal` to a whole process group; a group that is already gone is fine. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals = "SIGKILL"): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left to kill.
  }
}

/** Splits a byte stream into text lines (without "\n"), keeping a partial line until it ends. */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer): void; end(): void } {
  let pending = "";
  const decoder = new TextDecoder("utf-8");
  return {
    push(chunk) {
      pending += decoder.decode(chunk, { stream: true });
      let nl = pending.indexOf("\n");
      while (nl !== -1) {
        onLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        nl = pending.indexOf("\n");
      }
    },
    end() {
      pending += decoder.decode();
      if (pending !== "") onLine(pending);
      pending = "";
    },
  };
}
