/**
 * One-off shell commands in a sandbox's workspace (`POST .../exec`), streamed as NDJSON lines.
 * Used by the routes. The command runs under `bash -lc` in its own process group; a timeout or a
 * client that goes away kills the whole group; the last line is always the exit line.
 */
import { spawn } from "node:child_process";
import type { ServerResponse } from "node:http";
import { baseEnv, killGroup } from "./agent-process.ts";
import { startNdjson } from "./http.ts";
import type { ExecInput } from "./validate.ts";

export function runExec(res: ServerResponse, dirs: { workspace: string; home: string }, input: ExecInput): void {
  startNdjson(res);
  const child = spawn("bash", ["-lc", input.command], {
    cwd: dirs.workspace,
    env: baseEnv(dirs.home),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let timedOut = false;
  let ended = false;
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
  child.stdout.on("data", forward("stdout"));
  child.stderr.on("data", forward("stderr"));
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, input.timeoutMs);
  let exitCode: number | null = null;
  child.on("exit", (code) => {
    exitCode = code;
    // Background children must not outlive the command or hold its pipes open.
    killGroup(child.pid);
  });
  const finish = (error?: Error) => {
    if (ended) return;
    clearTimeout(timer);
    if (error) line({ type: "stderr", data: `failed to start: ${error.message}\n` });
    line({ type: "exit", exitCode, timedOut });
    ended = true;
    res.end();
  };
  child.on("error", finish);
  child.on("close", () => finish());
  res.on("close", () => {
    if (!ended) killGroup(child.pid);
  });
}
