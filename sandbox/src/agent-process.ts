/**
 * Starting the Claude Code CLI for one run: its argument list, its environment (model credentials
 * from the provider's config, never from a request; nothing else of the provider's env leaks in)
 * and the spawn itself, detached in its own process group so a cancel can kill every descendant.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import type { PermissionMode } from "./validate.ts";

export type AgentConfig = {
  claudeBin: string;
  anthropicBaseUrl: string | undefined;
  anthropicApiKey: string | undefined;
  maxRetries: number;
};

export type AgentLaunch = {
  prompt: string;
  model: string;
  permissionMode: PermissionMode;
  session: { kind: "new" | "resume"; id: string };
  workspace: string;
  home: string;
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

/** The environment shared by agent runs and exec commands: a clean base with the sandbox's HOME. */
export function baseEnv(home: string): Record<string, string> {
  const env: Record<string, string> = { HOME: home, SHELL: "/bin/bash", LANG: process.env.LANG ?? "C.UTF-8" };
  for (const key of ["PATH", "TZ", "LC_ALL", "TMPDIR"]) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  env.PATH ??= "/usr/local/bin:/usr/bin:/bin";
  return env;
}

export function agentEnv(config: AgentConfig, home: string): Record<string, string> {
  const env = baseEnv(home);
  if (config.anthropicBaseUrl) env.ANTHROPIC_BASE_URL = config.anthropicBaseUrl;
  if (config.anthropicApiKey) env.ANTHROPIC_API_KEY = config.anthropicApiKey;
  env.DISABLE_TELEMETRY = "1";
  env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1";
  env.DISABLE_AUTOUPDATER = "1";
  env.CLAUDE_CODE_MAX_RETRIES = String(config.maxRetries);
  // Lets bypassPermissions work when the provider runs as root (as in its container).
  env.IS_SANDBOX = "1";
  return env;
}

export function spawnAgent(config: AgentConfig, launch: AgentLaunch): ChildProcessWithoutNullStreams {
  return spawn(config.claudeBin, agentArgs(launch), {
    cwd: launch.workspace,
    env: agentEnv(config, launch.home),
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
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
