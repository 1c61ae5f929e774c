/**
 * One-off shell commands in a sandbox (`POST .../exec`), streamed as NDJSON lines. Used by the
 * routes. The command runs under `bash -lc` in the sandbox's jail, in its own process group, watched
 * by the resource monitor; a timeout, a limit or a client that goes away kills the whole group; the
 * last line is always the exit line (with the limit's code when one ended it).
 */
import { spawn } from "node:child_process";
import type { ServerResponse } from "node:http";
import { baseEnv, type JailContext, killGroup } from "./agent-process.ts";
import { startNdjson } from "./http.ts";
import { fd3, feedArgs, jailPlan, viewOf } from "./jail.ts";
import type { LimitBreach, ResourceMonitor } from "./monitor.ts";
import type { ExecInput } from "./validate.ts";

export function runExec(
  res: ServerResponse,
  jail: JailContext & { sandboxId: string; monitor: ResourceMonitor; diskDirs: string[] },
  input: ExecInput,
): void {
  startNdjson(res);
  const view = viewOf(jail.isolation, jail.sandbox.paths, "");
  const plan = jailPlan(jail.isolation, jail.sandbox, jail.limits, {
    command: "bash",
    args: ["-lc", input.command],
    env: baseEnv(jail.isolation, view),
  });
  const child = spawn(plan.file, plan.args, {
    ...plan.options,
    detached: true,
    stdio: ["ignore", "pipe", "pipe", fd3(plan)],
  });
  feedArgs(child, plan);
  let timedOut = false;
  let ended = false;
  let breach: LimitBreach | null = null;
  const line = (value: unknown) => {
    if (!ended) res.write(`${JSON.stringify(value)}\n`);
  };
  const forward = (type: "stdout" | "stderr") => {
    const decoder = new TextDecoder("utf-8");
    return (chunk: Buffer) => {
      const data = decoder.decode(chunk, { stream: true });
      if (data !== "") line({ type, data });
    };
  };
  child.stdout?.on("data", forward("stdout"));
  child.stderr?.on("data", forward("stderr"));
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, input.timeoutMs);
  const unwatch =
    child.pid === undefined
      ? () => {}
      : jail.monitor.watch({
          sandboxId: jail.sandboxId,
          pid: child.pid,
          limits: jail.limits,
          dirs: jail.diskDirs,
          onBreach(b) {
            breach = b;
            killGroup(child.pid);
          },
        });
  let exitCode: number | null = null;
  child.on("exit", (code) => {
    exitCode = code;
    // Background children must not outlive the command or hold its pipes open.
    killGroup(child.pid);
  });
  const finish = (error?: Error) => {
    if (ended) return;
    clearTimeout(timer);
    unwatch();
    if (error) line({ type: "stderr", data: `failed to start: ${error.message}\n` });
    const limit = breach as LimitBreach | null;
    if (limit) line({ type: "stderr", data: `stopped: the sandbox ${limit.message}\n` });
    line({
      type: "exit",
      exitCode,
      timedOut,
      ...(limit ? { error: { code: limit.code, message: limit.message } } : {}),
    });
    ended = true;
    res.end();
  };
  child.on("error", finish);
  child.on("close", () => finish());
  res.on("close", () => {
    if (!ended) killGroup(child.pid);
  });
}
