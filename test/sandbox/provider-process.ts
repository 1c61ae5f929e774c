/**
 * Runs the reference provider as its own process (`node sandbox/src/main.ts`), configured through
 * its environment exactly as deployed, for the isolation tests: they attack what a real deployment
 * holds (the provider's environment, its state directory, its log) and grep its output afterwards.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export type ProviderProcess = {
  url: string;
  root: string;
  pid: number;
  /** Everything the provider printed so far (stdout and stderr). */
  output(): string;
  close(): Promise<void>;
};

export async function startProviderProcess(env: Record<string, string>): Promise<ProviderProcess> {
  const root = mkdtempSync(join(tmpdir(), "sandbox-proc-"));
  const child: ChildProcess = spawn(join(repoRoot, "node_modules", ".bin", "node"), ["sandbox/src/main.ts"], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      SANDBOX_PORT: "0",
      SANDBOX_ROOT: root,
      CLAUDE_BIN: join(repoRoot, "node_modules", ".bin", "claude"),
      CLAUDE_CODE_MAX_RETRIES: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`provider did not start:\n${output}`)), 30_000);
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    };
    child.stdout?.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`provider exited (${code}):\n${output}`));
    });
  });
  return {
    url,
    root,
    pid: child.pid ?? -1,
    output: () => output,
    async close() {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(killer);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Runs `node sandbox/src/main.ts` to its end (for configurations it must refuse). */
export function runProviderToExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(join(repoRoot, "node_modules", ".bin", "node"), ["sandbox/src/main.ts"], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", SANDBOX_PORT: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => {
      output += c.toString("utf8");
    });
    child.stderr.on("data", (c: Buffer) => {
      output += c.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolveRun({ code, output });
    });
  });
}
