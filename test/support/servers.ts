/**
 * Starts the scripted model server and the reference sandbox provider in-process, on ephemeral
 * ports, with a temp sandbox root and a random token. Used by the sandbox tests and by the Workers
 * tests' globalSetup; `close()` stops both and removes the temp root.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startSandboxServer } from "../../sandbox/src/server.ts";
import { startModelServer } from "../model-server/server.ts";

export type TestServers = {
  modelUrl: string;
  sandboxUrl: string;
  sandboxToken: string;
  sandboxRoot: string;
  close(): Promise<void>;
};

export type TestServerOptions = { heartbeatMs?: number; cancelGraceMs?: number; maxRetries?: number };

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export function claudeBin(): string {
  return process.env.CLAUDE_BIN ?? join(repoRoot, "node_modules", ".bin", "claude");
}

export async function startTestServers(opts: TestServerOptions = {}): Promise<TestServers> {
  const model = await startModelServer();
  const sandboxRoot = mkdtempSync(join(tmpdir(), "sandbox-test-"));
  const sandboxToken = randomBytes(24).toString("hex");
  const sandbox = await startSandboxServer({
    token: sandboxToken,
    root: sandboxRoot,
    port: 0,
    claudeBin: claudeBin(),
    anthropicBaseUrl: model.url,
    anthropicApiKey: "test-key",
    maxRetries: opts.maxRetries ?? 0,
    cancelGraceMs: opts.cancelGraceMs ?? 2000,
    heartbeatMs: opts.heartbeatMs ?? 10_000,
  });
  return {
    modelUrl: model.url,
    sandboxUrl: sandbox.url,
    sandboxToken,
    sandboxRoot,
    async close() {
      await sandbox.close();
      await model.close();
      rmSync(sandboxRoot, { recursive: true, force: true });
    },
  };
}
