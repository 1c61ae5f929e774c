/**
 * The sandbox provider's HTTP surface without agent runs: auth, capabilities, sandbox lifecycle,
 * error shapes, exec streaming and timeouts, and workspace confinement of the files routes.
 */
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../sandbox/src/limits.ts";
import { startTestServers, type TestServers, testIsolation } from "../support/servers.ts";
import { type Client, makeClient, uid } from "./client.ts";
import { hostProcessWith } from "./host.ts";

let servers: TestServers;
let api: Client;

beforeAll(async () => {
  servers = await startTestServers();
  api = makeClient(servers.sandboxUrl, servers.sandboxToken, servers.modelUrl);
});
afterAll(async () => {
  await servers?.close();
});

async function newSandbox(): Promise<string> {
  const id = uid("sbx");
  const res = await api.call("PUT", `/v1/sandboxes/${id}`, {});
  expect(res.status).toBe(201);
  return id;
}

function execLines(text: string): Array<{ type: string; data?: string; exitCode?: number | null; timedOut?: boolean }> {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l));
}

describe("auth", () => {
  it("rejects a missing or wrong token with 401 unauthorized, on any path", async () => {
    for (const path of ["/v1/capabilities", "/v1/sandboxes/x", "/nope"]) {
      const none = await fetch(`${servers.sandboxUrl}${path}`);
      expect(none.status).toBe(401);
      expect(await none.json()).toMatchObject({ error: { code: "unauthorized" } });
      const wrong = await fetch(`${servers.sandboxUrl}${path}`, {
        headers: { authorization: `Bearer ${servers.sandboxToken}x` },
      });
      expect(wrong.status).toBe(401);
      const basic = await fetch(`${servers.sandboxUrl}${path}`, {
        headers: { authorization: `Basic ${servers.sandboxToken}` },
      });
      expect(basic.status).toBe(401);
    }
  });

  it("serves capabilities with the right token, naming its isolation boundary and limits", async () => {
    const res = await api.call("GET", "/v1/capabilities");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      name: "reference",
      version: "1",
      capabilities: {
        agent: true,
        permissions: true,
        exec: true,
        files: true,
        resume: true,
        userModelKey: true,
        serviceModelKey: true,
        usage: true,
      },
      isolation:
        testIsolation() === "none"
          ? { kind: "none" }
          : {
              kind: "bubblewrap",
              version: expect.stringMatching(/^\d+\.\d+/),
              namespaces: ["user", "mount", "pid", "ipc", "uts", "cgroup"],
              uidPerSandbox: process.getuid?.() === 0,
              network: "shared",
            },
      limits: DEFAULT_LIMITS,
    });
  });
});

describe("sandboxes", () => {
  it("creates idempotently, gets, deletes, then 404s", async () => {
    const id = uid("sbx");
    const first = await api.call("PUT", `/v1/sandboxes/${id}`, {});
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({ id, status: "ready" });
    expect(new Date(first.json.createdAt).toISOString()).toBe(first.json.createdAt);
    const again = await api.call("PUT", `/v1/sandboxes/${id}`, {});
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    expect(existsSync(join(servers.sandboxRoot, id, "workspace"))).toBe(true);
    expect((await api.call("GET", `/v1/sandboxes/${id}`)).json).toEqual(first.json);
    expect((await api.call("DELETE", `/v1/sandboxes/${id}`)).status).toBe(204);
    expect(existsSync(join(servers.sandboxRoot, id))).toBe(false);
    for (const [method, path] of [
      ["GET", `/v1/sandboxes/${id}`],
      ["DELETE", `/v1/sandboxes/${id}`],
      ["GET", `/v1/sandboxes/${id}/files`],
      ["POST", `/v1/sandboxes/${id}/exec`],
    ] as const) {
      const res = await api.call(method, path, method === "POST" ? { command: "true" } : undefined);
      expect(res.status).toBe(404);
      expect(res.json).toMatchObject({ error: { code: "sandbox_not_found" } });
    }
  });

  it("concurrent creates of one id make one sandbox", async () => {
    const id = uid("sbx");
    const results = await Promise.all([1, 2, 3, 4].map(() => api.call("PUT", `/v1/sandboxes/${id}`, {})));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.json.createdAt)).size).toBe(1);
  });

  it("rejects bad ids, malformed JSON and unknown routes with JSON errors", async () => {
    const bad = await api.call("PUT", "/v1/sandboxes/has.dot", {});
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { code: "invalid_id" } });
    expect((await api.call("PUT", `/v1/sandboxes/${"a".repeat(101)}`, {})).json.error.code).toBe("invalid_id");
    expect((await api.call("GET", "/v1/sandboxes/%E0%A4%A")).json.error.code).toBe("invalid_id");
    const malformed = await api.call("PUT", `/v1/sandboxes/${uid("sbx")}`, "{not json");
    expect(malformed.status).toBe(400);
    expect(malformed.json).toMatchObject({ error: { code: "invalid_request" } });
    expect((await api.call("PUT", `/v1/sandboxes/${uid("sbx")}`, "[1]")).json.error.code).toBe("invalid_request");
    const unknown = await api.call("GET", "/v1/nothing");
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ error: { code: "not_found" } });
    const method = await api.call("PATCH", "/v1/capabilities");
    expect(method.status).toBe(405);
    expect(method.json.error.code).toBe("method_not_allowed");
  });

  it("validates run bodies and ids", async () => {
    const id = await newSandbox();
    const good = { prompt: "hi", model: "m", permissionMode: "default", idempotencyKey: "k" };
    for (const body of [
      "{oops",
      "null",
      { ...good, prompt: "" },
      { ...good, prompt: "x".repeat(200_001) },
      { ...good, model: 3 },
      { ...good, permissionMode: "yolo" },
      { ...good, sessionId: "not-a-uuid" },
      { ...good, idempotencyKey: "" },
      { ...good, idempotencyKey: "k".repeat(101) },
    ]) {
      const res = await api.call("POST", `/v1/sandboxes/${id}/runs`, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.json.error.code).toBe("invalid_request");
    }
    expect((await api.call("POST", `/v1/sandboxes/${uid("none")}/runs`, good)).json.error.code).toBe(
      "sandbox_not_found",
    );
    const missingRun = await api.call("GET", `/v1/sandboxes/${id}/runs/run_nope`);
    expect(missingRun.status).toBe(404);
    expect(missingRun.json.error.code).toBe("run_not_found");
    for (const path of ["events", "input", "cancel"]) {
      const method = path === "events" ? "GET" : "POST";
      const body = path === "input" ? { type: "permission", requestId: "r", decision: "allow" } : undefined;
      const res = await api.call(method, `/v1/sandboxes/${id}/runs/run_nope/${path}`, body);
      expect(res.status).toBe(404);
      expect(res.json.error.code).toBe("run_not_found");
    }
  });
});

describe("exec", () => {
  it("streams stdout and stderr, then the exit line", async () => {
    const id = await newSandbox();
    const res = await api.call("POST", `/v1/sandboxes/${id}/exec`, {
      command: "echo one; echo two >&2; pwd; echo made > exec.txt; exit 7",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    const lines = execLines(res.text);
    const stdout = lines
      .filter((l) => l.type === "stdout")
      .map((l) => l.data)
      .join("");
    const stderr = lines
      .filter((l) => l.type === "stderr")
      .map((l) => l.data)
      .join("");
    // Inside the boundary the workspace is /workspace; without it, the host path.
    const cwd = testIsolation() === "none" ? join(servers.sandboxRoot, id, "workspace") : "/workspace";
    expect(stdout).toBe(`one\n${cwd}\n`);
    expect(stderr).toBe("two\n");
    expect(lines.at(-1)).toEqual({ type: "exit", exitCode: 7, timedOut: false });
    expect(existsSync(join(servers.sandboxRoot, id, "workspace", "exec.txt"))).toBe(true);
  });

  it("streams output as it happens", async () => {
    const id = await newSandbox();
    const res = await fetch(`${servers.sandboxUrl}/v1/sandboxes/${id}/exec`, {
      method: "POST",
      headers: api.headers(),
      body: JSON.stringify({ command: "echo early; sleep 1; echo late" }),
    });
    if (!res.body) throw new Error("no body");
    const reader = res.body.getReader();
    const started = Date.now();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain("early");
    expect(Date.now() - started).toBeLessThan(800);
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toContain("late");
  });

  it("kills the whole process group on timeout", async () => {
    const id = await newSandbox();
    const marker = uid("bg");
    const started = Date.now();
    const res = await api.call("POST", `/v1/sandboxes/${id}/exec`, {
      command: `(sleep 30; echo ${marker}) & echo started; sleep 30`,
      timeoutMs: 500,
    });
    expect(Date.now() - started).toBeLessThan(5000);
    const lines = execLines(res.text);
    expect(lines[0]).toEqual({ type: "stdout", data: "started\n" });
    expect(lines.at(-1)).toEqual({ type: "exit", exitCode: null, timedOut: true });
    // Looked for on the host: a new exec has a PID namespace of its own and could not see it.
    expect(hostProcessWith(marker)).toBe(false);
  });

  it("rejects bad exec bodies", async () => {
    const id = await newSandbox();
    for (const body of [
      {},
      { command: "" },
      { command: "true", timeoutMs: 0 },
      { command: "true", timeoutMs: 600_001 },
      "{x",
    ]) {
      const res = await api.call("POST", `/v1/sandboxes/${id}/exec`, body);
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("invalid_request");
    }
  });
});

describe("files", () => {
  it("writes, lists and reads, creating parent directories", async () => {
    const id = await newSandbox();
    const put = await fetch(`${servers.sandboxUrl}/v1/sandboxes/${id}/files/content?path=src/deep/a.txt`, {
      method: "PUT",
      headers: api.headers(),
      body: "hello\u00e9",
    });
    expect(put.status).toBe(204);
    await fetch(`${servers.sandboxUrl}/v1/sandboxes/${id}/files/content?path=b.bin`, {
      method: "PUT",
      headers: api.headers(),
      body: new Uint8Array([0, 1, 2, 255]),
    });
    const root = await api.call("GET", `/v1/sandboxes/${id}/files?path=`);
    expect(root.status).toBe(200);
    expect(root.json.path).toBe("");
    expect(root.json.entries.map((e: { name: string; type: string }) => [e.name, e.type])).toEqual([
      ["b.bin", "file"],
      ["src", "dir"],
    ]);
    expect(root.json.entries[0]).toMatchObject({ size: 4 });
    expect(typeof root.json.entries[0].modifiedAt).toBe("string");
    const dot = await api.call("GET", `/v1/sandboxes/${id}/files?path=.`);
    expect(dot.json.entries).toHaveLength(2);
    const deep = await api.call("GET", `/v1/sandboxes/${id}/files?path=src/deep`);
    expect(deep.json.entries).toEqual([expect.objectContaining({ name: "a.txt", type: "file", size: 7 })]);
    const read = await fetch(`${servers.sandboxUrl}/v1/sandboxes/${id}/files/content?path=src/deep/a.txt`, {
      headers: api.headers(),
    });
    expect(read.status).toBe(200);
    expect(read.headers.get("content-type")).toBe("application/octet-stream");
    expect(read.headers.get("content-length")).toBe("7");
    expect(await read.text()).toBe("hello\u00e9");
    const bin = await fetch(`${servers.sandboxUrl}/v1/sandboxes/${id}/files/content?path=b.bin`, {
      headers: api.headers(),
    });
    expect([...new Uint8Array(await bin.arrayBuffer())]).toEqual([0, 1, 2, 255]);
  });

  it("answers 404 not_found, not_a_directory and not_a_file", async () => {
    const id = await newSandbox();
    writeFileSync(join(servers.sandboxRoot, id, "workspace", "f.txt"), "x");
    expect((await api.call("GET", `/v1/sandboxes/${id}/files?path=missing`)).json.error.code).toBe("not_found");
    expect((await api.call("GET", `/v1/sandboxes/${id}/files/content?path=missing`)).status).toBe(404);
    const notDir = await api.call("GET", `/v1/sandboxes/${id}/files?path=f.txt`);
    expect(notDir.status).toBe(400);
    expect(notDir.json.error.code).toBe("not_a_directory");
    const notFile = await api.call("GET", `/v1/sandboxes/${id}/files/content?path=`);
    expect(notFile.status).toBe(400);
    expect(notFile.json.error.code).toBe("not_a_file");
    for (const [path, code] of [
      ["", "not_a_file"],
      ["src", "not_a_file"],
      ["f.txt/child.txt", "not_a_directory"],
    ]) {
      mkdirSync(join(servers.sandboxRoot, id, "workspace", "src"), { recursive: true });
      const res = await fetch(
        `${servers.sandboxUrl}/v1/sandboxes/${id}/files/content?path=${encodeURIComponent(path ?? "")}`,
        {
          method: "PUT",
          headers: api.headers(),
          body: "x",
        },
      );
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
  });

  it("refuses every path that leaves the workspace with 400 invalid_path", async () => {
    const id = await newSandbox();
    const workspace = join(servers.sandboxRoot, id, "workspace");
    const outside = join(servers.sandboxRoot, id, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "secret.txt"), "secret");
    symlinkSync(outside, join(workspace, "link-out"));
    symlinkSync("/etc/passwd", join(workspace, "passwd"));
    symlinkSync("/nonexistent/target", join(workspace, "dangling"));
    mkdirSync(join(workspace, "inner"));
    symlinkSync(join(workspace, "inner"), join(workspace, "link-in"));
    const bad = [
      "../x",
      "../outside/secret.txt",
      "a/../../x",
      "/etc/passwd",
      "link-out/secret.txt",
      "link-out",
      "passwd",
      "x\u0000y",
      "dangling",
    ];
    for (const path of bad) {
      const q = encodeURIComponent(path);
      for (const [method, route] of [
        ["GET", "files"],
        ["GET", "files/content"],
        ["PUT", "files/content"],
      ] as const) {
        const res = await fetch(`${servers.sandboxUrl}/v1/sandboxes/${id}/${route}?path=${q}`, {
          method,
          headers: api.headers(),
          body: method === "PUT" ? "pwned" : undefined,
        });
        expect(res.status, `${method} ${route} ${JSON.stringify(path)}`).toBe(400);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_path");
      }
    }
    expect(existsSync(join(servers.sandboxRoot, id, "x"))).toBe(false);
    expect(existsSync("/nonexistent/target")).toBe(false);
    // A symlink that stays inside is fine, and so is a `..` that stays inside.
    const put = await fetch(`${servers.sandboxUrl}/v1/sandboxes/${id}/files/content?path=link-in/ok.txt`, {
      method: "PUT",
      headers: api.headers(),
      body: "ok",
    });
    expect(put.status).toBe(204);
    const read = await fetch(`${servers.sandboxUrl}/v1/sandboxes/${id}/files/content?path=inner/../inner/ok.txt`, {
      headers: api.headers(),
    });
    expect(await read.text()).toBe("ok");
  });

  it("enforces the 10 MiB limit on writes and reads", async () => {
    const id = await newSandbox();
    const big = await fetch(`${servers.sandboxUrl}/v1/sandboxes/${id}/files/content?path=big.bin`, {
      method: "PUT",
      headers: api.headers(),
      body: new Uint8Array(10 * 1024 * 1024 + 1),
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { code: string } }).error.code).toBe("file_too_large");
    writeFileSync(join(servers.sandboxRoot, id, "workspace", "huge.bin"), Buffer.alloc(10 * 1024 * 1024 + 1));
    const read = await api.call("GET", `/v1/sandboxes/${id}/files/content?path=huge.bin`);
    expect(read.status).toBe(413);
    expect(read.json.error.code).toBe("file_too_large");
  });
});
