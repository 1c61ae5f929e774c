/**
 * Starts the scripted model server and the reference sandbox provider in-process, on ephemeral
 * ports, with a temp sandbox root and a random token. Used by the sandbox tests and by the Workers
 * tests' globalSetup; `close()` stops both and removes the temp root. The provider runs isolated
 * (bubblewrap) unless SANDBOX_ISOLATION=none; each test provider takes its own block of sandbox uids
 * so providers of parallel test files never share one.
 */
import { randomBytes, randomInt } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { IsolationMode } from "../../sandbox/src/isolation.ts";
import type { SandboxLimits } from "../../sandbox/src/limits.ts";
import { type SandboxServer, startSandboxServer } from "../../sandbox/src/server.ts";
import { startModelServer } from "../model-server/server.ts";

export type TestServers = {
  modelUrl: string;
  sandboxUrl: string;
  sandboxToken: string;
  sandboxRoot: string;
  sandbox: SandboxServer;
  close(): Promise<void>;
};

export type TestServerOptions = {
  heartbeatMs?: number;
  cancelGraceMs?: number;
  maxRetries?: number;
  limits?: SandboxLimits;
  monitorMs?: number;
  diskMonitorMs?: number;
  idleStopMs?: number;
  idleDeleteMs?: number;
  /** The service's model key (default "test-key"); null starts the provider without one. */
  serviceKey?: string | null;
};

/** The isolation the test providers run with: bubblewrap unless SANDBOX_ISOLATION=none. */
export function testIsolation(): IsolationMode {
  return process.env.SANDBOX_ISOLATION === "none" ? "none" : "bubblewrap";
}

/** A block of 1,000 uids of its own for each test provider. */
export function testUids(): { base: number; count: number } {
  return { base: 700_000 + randomInt(0, 5_000) * 1_000, count: 1_000 };
}

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
    ...(opts.serviceKey === null ? {} : { anthropicApiKey: opts.serviceKey ?? "test-key" }),
    maxRetries: opts.maxRetries ?? 0,
    cancelGraceMs: opts.cancelGraceMs ?? 2000,
    heartbeatMs: opts.heartbeatMs ?? 10_000,
    isolation: testIsolation(),
    uids: testUids(),
    limits: opts.limits,
    monitorMs: opts.monitorMs,
    diskMonitorMs: opts.diskMonitorMs,
    idleStopMs: opts.idleStopMs,
    idleDeleteMs: opts.idleDeleteMs,
    log: () => {},
  });
  return {
    modelUrl: model.url,
    sandboxUrl: sandbox.url,
    sandboxToken,
    sandboxRoot,
    sandbox,
    async close() {
      await sandbox.close();
      await model.close();
      rmSync(sandboxRoot, { recursive: true, force: true });
    },
  };
}
