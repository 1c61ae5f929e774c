/**
 * The provider's own guards beyond the attack suite: CPU time per run and per exec ends them with
 * `cpu_limit`; idle sandboxes stop (and wake on use) and, when configured, are deleted; the provider
 * refuses to start when it cannot isolate, unless told SANDBOX_ISOLATION=none, and reports which
 * boundary it runs in its log and capabilities.
 */
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IsolationUnavailable } from "../../sandbox/src/isolation.ts";
import { DEFAULT_LIMITS } from "../../sandbox/src/limits.ts";
import { startSandboxServer } from "../../sandbox/src/server.ts";
import { claudeBin, startTestServers, type TestServers, testIsolation, testUids } from "../support/servers.ts";
import { bashTurns, toolOutputs } from "./agent-script.ts";
import { type Client, exitOf, makeClient, uid } from "./client.ts";
import { runProviderToExit } from "./provider-process.ts";

const isolated = testIsolation() === "bubblewrap";

let servers: TestServers;
let api: Client;

beforeAll(async () => {
  servers = await startTestServers({
    limits: { ...DEFAULT_LIMITS, maxRunCpuSeconds: 4 },
    monitorMs: 200,
    idleStopMs: 1500,
    idleDeleteMs: 0,
  });
  api = makeClient(servers.sandboxUrl, servers.sandboxToken, servers.modelUrl);
});
afterAll(async () => {
  await servers?.close();
});

async function newSandbox(): Promise<string> {
  const id = uid("lim");
  expect((await api.call("PUT", `/v1/sandboxes/${id}`, {})).status).toBe(201);
  return id;
}

describe("CPU time", () => {
  it("a run that spins past its CPU time fails with cpu_limit; the sandbox runs again afterwards", async () => {
    const id = await newSandbox();
    const script = uid("spin");
    await api.script(script, bashTurns(["while :; do :; done; echo survived"], "never"));
    const run = await api.call("POST", `/v1/sandboxes/${id}/runs`, {
      prompt: `[script:${script}]`,
      model: "m",
      permissionMode: "bypassPermissions",
      idempotencyKey: uid("k"),
    });
    const recs = await api.records(id, run.json.runId);
    expect(exitOf(recs)).toMatchObject({ error: { code: "cpu_limit" }, cancelled: false });
    expect(toolOutputs(recs).some((o) => o.output.includes("survived"))).toBe(false);
    const view = await api.call("GET", `/v1/sandboxes/${id}/runs/${run.json.runId}`);
    expect(view.json).toMatchObject({ status: "exited", error: { code: "cpu_limit" } });
    const again = await api.call("POST", `/v1/sandboxes/${id}/exec`, { command: "echo still-usable" });
    expect(again.text).toContain("still-usable");
  });

  it("an exec that spins past it ends with cpu_limit on its exit line", async () => {
    const id = await newSandbox();
    const res = await api.call("POST", `/v1/sandboxes/${id}/exec`, {
      command: "while :; do :; done",
      timeoutMs: 60_000,
    });
    const last = JSON.parse(res.text.trim().split("\n").at(-1) ?? "{}");
    expect(last).toMatchObject({ type: "exit", timedOut: false, error: { code: "cpu_limit" } });
  });
});

describe("idle sandboxes", () => {
  it("stop after the idle time, keep their files, and wake on the next use", async () => {
    const id = await newSandbox();
    await api.call("POST", `/v1/sandboxes/${id}/exec`, { command: "echo kept > kept.txt" });
    let status = "ready";
    for (let i = 0; i < 100 && status !== "stopped"; i++) {
      await servers.sandbox.idle.sweep();
      status = (await api.call("GET", `/v1/sandboxes/${id}`)).json.status;
      if (status !== "stopped") await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe("stopped");
    const read = await api.call("GET", `/v1/sandboxes/${id}/files/content?path=kept.txt`);
    expect(read.text).toBe("kept\n");
    expect((await api.call("GET", `/v1/sandboxes/${id}`)).json.status).toBe("ready");
  });

  it("are deleted after the delete time when one is set, and can be made anew", async () => {
    const local = await startTestServers({ idleStopMs: 200, idleDeleteMs: 600 });
    try {
      const client = makeClient(local.sandboxUrl, local.sandboxToken, local.modelUrl);
      const id = uid("gone");
      await client.call("PUT", `/v1/sandboxes/${id}`, {});
      await client.call("POST", `/v1/sandboxes/${id}/exec`, { command: "head -c 100000 /dev/zero > data.bin" });
      let status = 200;
      for (let i = 0; i < 100 && status === 200; i++) {
        await local.sandbox.idle.sweep();
        status = (await client.call("GET", `/v1/sandboxes/${id}`)).status;
        if (status === 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(404);
      expect(existsSync(join(local.sandboxRoot, id))).toBe(false);
      expect((await client.call("PUT", `/v1/sandboxes/${id}`, {})).status).toBe(201);
      expect((await client.call("GET", `/v1/sandboxes/${id}/files?path=`)).json.entries).toEqual([]);
    } finally {
      await local.close();
    }
  });
});

describe("start-up", () => {
  const root = () => mkdtempSync(join(tmpdir(), "sandbox-start-"));

  it("refuses to start without a working boundary", async () => {
    const dir = root();
    try {
      await expect(
        startSandboxServer({
          token: "t",
          root: dir,
          claudeBin: claudeBin(),
          isolation: "bubblewrap",
          bwrap: "/nonexistent/bwrap",
          uids: testUids(),
          log: () => {},
        }),
      ).rejects.toBeInstanceOf(IsolationUnavailable);
      const run = await runProviderToExit({
        SANDBOX_TOKEN: randomBytes(8).toString("hex"),
        SANDBOX_ROOT: dir,
        SANDBOX_BWRAP: "/nonexistent/bwrap",
        CLAUDE_BIN: claudeBin(),
      });
      expect(run.code).toBe(1);
      expect(run.output).toContain("refusing to start");
      expect(run.output).toContain("SANDBOX_ISOLATION=none");
      expect(run.output).not.toContain("listening");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs without a boundary only when told SANDBOX_ISOLATION=none, and says so", async () => {
    const dir = root();
    const lines: string[] = [];
    const server = await startSandboxServer({
      token: "t",
      root: dir,
      claudeBin: claudeBin(),
      isolation: "none",
      bwrap: "/nonexistent/bwrap",
      log: (m) => lines.push(m),
    });
    try {
      const caps = await fetch(`${server.url}/v1/capabilities`, { headers: { authorization: "Bearer t" } });
      expect(((await caps.json()) as { isolation: unknown }).isolation).toEqual({ kind: "none" });
      expect(lines.join("\n")).toContain("sandbox isolation: NONE");
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!isolated || process.getuid?.() !== 0)(
    "adopts sandboxes made without a uid: their files become the new uid's, symlinks are not followed",
    async () => {
      const dir = root();
      const outside = join(dir, "provider-file.txt");
      writeFileSync(outside, "the provider's");
      try {
        const plain = await startSandboxServer({ token: "t", root: dir, claudeBin: claudeBin(), isolation: "none" });
        const headers = { authorization: "Bearer t" };
        await fetch(`${plain.url}/v1/sandboxes/old`, { method: "PUT", headers, body: "{}" });
        await plain.close();
        const ws = join(dir, "old", "workspace");
        mkdirSync(join(ws, "src"));
        writeFileSync(join(ws, "src", "a.txt"), "mine");
        symlinkSync(outside, join(ws, "escape"));

        const uids = testUids();
        const isolatedServer = await startSandboxServer({ token: "t", root: dir, claudeBin: claudeBin(), uids });
        try {
          const uid = JSON.parse(readFileSync(join(dir, "old", "sandbox.json"), "utf8")).uid;
          expect(uid).toBeGreaterThan(uids.base);
          expect(statSync(join(ws, "src", "a.txt")).uid).toBe(uid);
          expect(lstatSync(join(ws, "escape")).uid).toBe(uid);
          expect(statSync(outside).uid).toBe(0);
          expect(statSync(ws).mode & 0o777).toBe(0o700);
          const res = await fetch(`${isolatedServer.url}/v1/sandboxes/old/exec`, {
            method: "POST",
            headers,
            body: JSON.stringify({ command: "id -u; cat src/a.txt; echo more >> src/a.txt && echo appended" }),
          });
          const text = await res.text();
          expect(text).toContain(`${uid}\\n`);
          expect(text).toContain("appended");
        } finally {
          await isolatedServer.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it.skipIf(!isolated || process.getuid?.() !== 0)(
    "runs an agent CLI that lives under a private directory (a 0700 checkout): it stages the binary where sandboxes reach it",
    async () => {
      const dir = root();
      const checkout = mkdtempSync(join(tmpdir(), "private-checkout-"));
      chmodSync(checkout, 0o700);
      const cli = join(checkout, "claude");
      linkSync(realpathSync(claudeBin()), cli);
      try {
        const server = await startSandboxServer({ token: "t", root: dir, claudeBin: cli, uids: testUids() });
        try {
          const headers = { authorization: "Bearer t" };
          await fetch(`${server.url}/v1/sandboxes/p`, { method: "PUT", headers, body: "{}" });
          const res = await fetch(`${server.url}/v1/sandboxes/p/exec`, {
            method: "POST",
            headers,
            body: JSON.stringify({ command: "id -u" }),
          });
          expect(await res.text()).toContain('"exitCode":0');
          const staged = join(dir, ".agent", "claude");
          expect(statSync(staged).ino).toBe(statSync(cli).ino); // a hard link, not a 380 MB copy
          expect(statSync(staged).mode & 0o777).toBe(0o755);
        } finally {
          await server.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
        rmSync(checkout, { recursive: true, force: true });
      }
    },
  );

  it.skipIf(!isolated)("logs the boundary it runs in", async () => {
    const dir = root();
    const lines: string[] = [];
    const server = await startSandboxServer({
      token: "t",
      root: dir,
      claudeBin: claudeBin(),
      uids: testUids(),
      log: (m) => lines.push(m),
    });
    try {
      expect(lines.join("\n")).toMatch(/sandbox isolation: bubblewrap \d/);
      expect(server.isolation).toMatchObject({ kind: "bubblewrap", uidPerSandbox: process.getuid?.() === 0 });
      // The probe sandbox is gone again.
      expect(readFileSync("/proc/self/mounts", "utf8")).not.toContain(dir);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
