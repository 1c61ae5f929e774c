/**
 * The HTTP sandbox provider client against a scripted node:http server (and, for exact chunk
 * boundaries, an injected fetch): status and error mapping, body validation, timeouts, and the
 * NDJSON record stream (split lines, split UTF-8, offset gaps, long-lived streams).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHttpProvider } from "../../worker/sandbox/http-provider";
import { ProviderError, type ProviderRecord, type SandboxProvider } from "../../worker/sandbox/provider";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const TOKEN = "secret-token";
let server: Server;
let baseUrl: string;
let handler: Handler;
let seen: Array<{ method: string; url: string; auth: string | undefined; body: string }>;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", auth: req.headers.authorization, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
  handler = (_req, res) => sendJson(res, 500, { error: { code: "unscripted", message: "no handler" } });
});

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function provider(timeoutMs = 2000): SandboxProvider {
  return createHttpProvider({ baseUrl, token: TOKEN, timeoutMs });
}

async function caught(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ProviderError) return err;
    throw err;
  }
  throw new Error("expected a ProviderError");
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function collectUntilError<T>(iterable: AsyncIterable<T>): Promise<{ items: T[]; error: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of iterable) items.push(item);
  } catch (error) {
    return { items, error };
  }
  return { items, error: undefined };
}

/** A fetch whose response body is exactly these byte chunks, one per read. */
function chunkedFetch(chunks: Uint8Array[], status = 200): typeof fetch {
  return async () =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(chunk);
          controller.close();
        },
      }),
      { status, headers: { "content-type": "application/x-ndjson" } },
    );
}

const sandbox = { id: "chat1", status: "ready", createdAt: "2026-01-01T00:00:00.000Z" };

describe("JSON calls", () => {
  it("sends the bearer token and returns validated data", async () => {
    handler = (_req, res) =>
      sendJson(res, 200, {
        name: "reference",
        version: "1",
        capabilities: { agent: true, permissions: true, exec: true, files: true, resume: true },
        extra: "providers may add fields",
      });
    const caps = await provider().capabilities();
    expect(caps).toEqual({
      name: "reference",
      version: "1",
      capabilities: { agent: true, permissions: true, exec: true, files: true, resume: true },
    });
    expect(seen[0]).toMatchObject({ method: "GET", url: "/v1/capabilities", auth: `Bearer ${TOKEN}` });
  });

  it("tells a created sandbox from an existing one", async () => {
    let status = 201;
    handler = (_req, res) => sendJson(res, status, sandbox);
    expect(await provider().ensureSandbox("chat1")).toEqual({ ...sandbox, created: true });
    status = 200;
    expect(await provider().ensureSandbox("chat1")).toEqual({ ...sandbox, created: false });
    expect(seen[0]).toMatchObject({ method: "PUT", url: "/v1/sandboxes/chat1", body: "{}" });
  });

  it("treats deleting an unknown sandbox, and cancelling by key in one, as done", async () => {
    handler = (_req, res) => sendJson(res, 404, { error: { code: "sandbox_not_found", message: "no such sandbox" } });
    await expect(provider().deleteSandbox("gone")).resolves.toBeUndefined();
    await expect(provider().cancelRunByKey("gone", "k1")).resolves.toBeUndefined();
  });

  it("cancels a run by its idempotency key", async () => {
    handler = (_req, res) => sendJson(res, 202, { status: "running" });
    await provider().cancelRunByKey("chat1", "key-1");
    expect(seen[0]).toMatchObject({ method: "POST", url: "/v1/sandboxes/chat1/runs/by-key/key-1/cancel" });
  });

  it("starts a run with the protocol's body and reports idempotent replays", async () => {
    let status = 201;
    handler = (_req, res) => sendJson(res, status, { runId: "run1", sessionId: "s1", status: "running" });
    const input = { prompt: "hi", model: "m", permissionMode: "default" as const, idempotencyKey: "k1" };
    expect(await provider().startRun("chat1", input)).toEqual({ runId: "run1", sessionId: "s1", created: true });
    status = 200;
    expect(await provider().startRun("chat1", { ...input, sessionId: "s1" })).toEqual({
      runId: "run1",
      sessionId: "s1",
      created: false,
    });
    expect(seen[0]?.url).toBe("/v1/sandboxes/chat1/runs");
    expect(JSON.parse(seen[0]?.body ?? "")).toEqual(input);
    expect(JSON.parse(seen[1]?.body ?? "")).toEqual({ ...input, sessionId: "s1" });
  });

  it("sends the user's model key in the run request only when there is one", async () => {
    handler = (_req, res) => sendJson(res, 201, { runId: "run1", sessionId: "s1", status: "running" });
    const input = { prompt: "hi", model: "m", permissionMode: "default" as const, idempotencyKey: "k1" };
    await provider().startRun("chat1", { ...input, modelKey: "sk-ant-user-key-1234" });
    await provider().startRun("chat1", input);
    expect(JSON.parse(seen[0]?.body ?? "")).toEqual({ ...input, modelKey: "sk-ant-user-key-1234" });
    expect(JSON.parse(seen[1]?.body ?? "")).not.toHaveProperty("modelKey");
  });

  it("reads the model-key, usage and isolation capabilities, and passes model_key_missing through", async () => {
    const capabilities = {
      agent: true,
      permissions: true,
      exec: true,
      files: true,
      resume: true,
      userModelKey: true,
      serviceModelKey: false,
      usage: true,
    };
    handler = (_req, res) =>
      sendJson(res, 200, { name: "reference", version: "1", capabilities, isolation: { kind: "bubblewrap", x: 1 } });
    expect(await provider().capabilities()).toEqual({
      name: "reference",
      version: "1",
      capabilities,
      isolation: { kind: "bubblewrap" },
    });
    handler = (_req, res) => sendJson(res, 400, { error: { code: "model_key_missing", message: "no model key" } });
    const input = { prompt: "hi", model: "m", permissionMode: "default" as const, idempotencyKey: "k2" };
    expect(await caught(provider().startRun("chat1", input))).toMatchObject({
      code: "model_key_missing",
      retryable: false,
    });
  });

  it("sends permission answers, cancels, lists files", async () => {
    handler = (req, res) => {
      if (req.url?.endsWith("/input")) return sendJson(res, 202, {});
      if (req.url?.endsWith("/cancel")) return sendJson(res, 202, { status: "exited" });
      sendJson(res, 200, {
        path: "src",
        entries: [{ name: "a.ts", type: "file", size: 3, modifiedAt: "2026-01-01T00:00:00Z" }],
      });
    };
    const p = provider();
    await p.sendPermission("chat1", "run1", { requestId: "r1", decision: "deny", message: "no" });
    expect(await p.cancelRun("chat1", "run1")).toEqual({ status: "exited" });
    expect((await p.listFiles("chat1", "src")).entries).toHaveLength(1);
    expect(seen.map((s) => s.url)).toEqual([
      "/v1/sandboxes/chat1/runs/run1/input",
      "/v1/sandboxes/chat1/runs/run1/cancel",
      "/v1/sandboxes/chat1/files?path=src",
    ]);
    expect(JSON.parse(seen[0]?.body ?? "")).toEqual({
      type: "permission",
      requestId: "r1",
      decision: "deny",
      message: "no",
    });
  });

  it("streams a file download with its size", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": "5" });
      res.end("héllo".slice(0, 4)); // 5 bytes: h, é (2), l, l
    };
    const file = await provider().readFile("chat1", "a.txt");
    expect(file.size).toBe(5);
    expect(await new Response(file.body).text()).toBe("héll");
    expect(seen[0]?.url).toBe("/v1/sandboxes/chat1/files/content?path=a.txt");
  });

  it("rejects a body that is not JSON as provider_protocol", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{not json");
    };
    const err = await caught(provider().capabilities());
    expect(err).toMatchObject({ code: "provider_protocol", status: 200, retryable: false });
  });

  it("rejects a body that does not match the protocol as provider_protocol", async () => {
    handler = (_req, res) => sendJson(res, 202, { status: "bogus" });
    const err = await caught(provider().cancelRun("chat1", "run1"));
    expect(err.code).toBe("provider_protocol");
    expect(err.message).toMatch(/status/);
  });

  it("rejects an unexpected success status as provider_protocol", async () => {
    handler = (_req, res) => sendJson(res, 200, {});
    const err = await caught(provider().sendPermission("chat1", "run1", { requestId: "r", decision: "allow" }));
    expect(err).toMatchObject({ code: "provider_protocol", status: 200 });
  });

  it("maps 401 to provider_unauthorized", async () => {
    handler = (_req, res) => sendJson(res, 401, { error: { code: "unauthorized", message: "bad token" } });
    const err = await caught(provider().capabilities());
    expect(err).toMatchObject({
      code: "provider_unauthorized",
      status: 401,
      retryable: false,
      providerCode: "unauthorized",
    });
  });

  it("maps 5xx to a retryable provider_error, with or without an error body", async () => {
    handler = (_req, res) => sendJson(res, 500, { error: { code: "internal", message: "oops" } });
    expect(await caught(provider().capabilities())).toMatchObject({
      code: "provider_error",
      status: 500,
      retryable: true,
    });
    handler = (_req, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end("<html>bad gateway</html>");
    };
    expect(await caught(provider().capabilities())).toMatchObject({
      code: "provider_error",
      status: 502,
      retryable: true,
    });
  });

  it("passes the provider's own 4xx codes through", async () => {
    for (const [status, code] of [
      [409, "run_in_progress"],
      [409, "not_pending"],
      [404, "run_not_found"],
      [400, "invalid_path"],
      [413, "file_too_large"],
    ] as const) {
      handler = (_req, res) => sendJson(res, status, { error: { code, message: "m" } });
      expect(await caught(provider().cancelRun("chat1", "run1"))).toMatchObject({ code, status, retryable: false });
    }
  });

  it("keeps an unknown 4xx code as providerCode and a non-protocol 4xx as provider_protocol", async () => {
    handler = (_req, res) => sendJson(res, 422, { error: { code: "too_many_sandboxes", message: "limit" } });
    expect(await caught(provider().ensureSandbox("x"))).toMatchObject({
      code: "provider_error",
      status: 422,
      providerCode: "too_many_sandboxes",
      retryable: false,
    });
    handler = (_req, res) => {
      res.writeHead(404, { "content-type": "text/html" });
      res.end("<h1>Not Found</h1>");
    };
    expect(await caught(provider().ensureSandbox("x"))).toMatchObject({ code: "provider_protocol", status: 404 });
  });

  it("times out a call that gets no answer", async () => {
    handler = () => {}; // never answers
    const started = Date.now();
    const err = await caught(provider(150).capabilities());
    expect(err).toMatchObject({ code: "provider_timeout", status: null, retryable: true });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("times out a JSON body that stalls after the headers", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"name":');
    };
    expect(await caught(provider(150).capabilities())).toMatchObject({ code: "provider_timeout" });
  });

  it("rejects with the caller's own reason when the caller aborts", async () => {
    handler = () => {};
    const controller = new AbortController();
    const reason = new Error("run stopped");
    setTimeout(() => controller.abort(reason), 50);
    await expect(provider().capabilities(controller.signal)).rejects.toBe(reason);
  });

  it("maps a closed port to provider_unreachable", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const p = createHttpProvider({ baseUrl: `http://127.0.0.1:${port}`, token: TOKEN, timeoutMs: 2000 });
    expect(await caught(p.capabilities())).toMatchObject({
      code: "provider_unreachable",
      status: null,
      retryable: true,
    });
  });
});

describe("readRunEvents", () => {
  const agent = (offset: number, data: Record<string, unknown> = { type: "assistant" }) =>
    JSON.stringify({ offset, type: "agent", data });
  const exit = (offset: number) =>
    JSON.stringify({ offset, type: "exit", exitCode: 0, signal: null, cancelled: false });

  it("reads records from the given offset until the exit record", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.write(`${agent(3)}\n${JSON.stringify({ type: "heartbeat", at: 1 })}\n`);
      res.write(`${JSON.stringify({ offset: 4, type: "stderr", text: "warn" })}\n${exit(5)}\n`);
      // The connection stays open; the reader stops at `exit` anyway.
    };
    const records = await collect(provider().readRunEvents("chat1", "run1", 2));
    expect(records).toEqual([
      { offset: 3, type: "agent", data: { type: "assistant" } },
      { type: "heartbeat", at: 1 },
      { offset: 4, type: "stderr", text: "warn" },
      { offset: 5, type: "exit", exitCode: 0, signal: null, cancelled: false },
    ] satisfies ProviderRecord[]);
    expect(seen[0]?.url).toBe("/v1/sandboxes/chat1/runs/run1/events?after=2");
  });

  it("reads the usage and the limit error of an exit record", async () => {
    const usage = {
      requests: 2,
      inputTokens: 20,
      outputTokens: 9,
      cacheCreationInputTokens: 0,
      cacheReadInputTokens: 4,
    };
    const error = { code: "memory_limit", message: "used more than 512 MiB of memory" };
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.end(
        `${JSON.stringify({ offset: 1, type: "exit", exitCode: null, signal: "SIGKILL", cancelled: false, usage, error })}\n`,
      );
    };
    expect(await collect(provider().readRunEvents("chat1", "run1", 0))).toEqual([
      { offset: 1, type: "exit", exitCode: null, signal: "SIGKILL", cancelled: false, usage, error },
    ]);
  });

  it("reassembles lines and multi-byte characters split across chunks", async () => {
    const text = `${agent(1, { type: "assistant", text: "héllo 👋 wörld" })}\r\n\n${exit(2)}`; // no final newline
    const bytes = new TextEncoder().encode(text);
    // Cut inside "é" (2 bytes) and inside "👋" (4 bytes), plus a cut at every 7th byte elsewhere.
    const eAt = bytes.indexOf(0xc3) + 1;
    const emojiAt = bytes.indexOf(0xf0) + 2;
    const cuts = new Set([eAt, emojiAt]);
    for (let i = 7; i < bytes.length; i += 7) cuts.add(i);
    const sorted = [...cuts].sort((a, b) => a - b);
    const chunks: Uint8Array[] = [];
    let start = 0;
    for (const cut of sorted) {
      chunks.push(bytes.slice(start, cut));
      start = cut;
    }
    chunks.push(bytes.slice(start));
    const p = createHttpProvider({ baseUrl, token: TOKEN, fetch: chunkedFetch(chunks) });
    const records = await collect(p.readRunEvents("chat1", "run1", 0));
    expect(records).toEqual([
      { offset: 1, type: "agent", data: { type: "assistant", text: "héllo 👋 wörld" } },
      { offset: 2, type: "exit", exitCode: 0, signal: null, cancelled: false },
    ]);
  });

  it("reassembles split lines over a real connection", async () => {
    const line = agent(1, { type: "assistant", text: "ünïcødé 🎉".repeat(50) });
    const bytes = Buffer.from(`${line}\n${exit(2)}\n`);
    handler = async (_req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      for (let i = 0; i < bytes.length; i += 13) {
        res.write(bytes.subarray(i, i + 13));
        await new Promise((r) => setImmediate(r));
      }
      res.end();
    };
    const records = await collect(provider().readRunEvents("chat1", "run1", 0));
    expect(records.map((r) => r.type)).toEqual(["agent", "exit"]);
    expect(records[0]).toMatchObject({ data: { text: "ünïcødé 🎉".repeat(50) } });
  });

  it("ends when the body ends, also without an exit record (the caller reconnects)", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.end(`${agent(1)}\n${agent(2)}\n`);
    };
    expect(
      (await collect(provider().readRunEvents("chat1", "run1", 0))).map((r) => (r as { offset: number }).offset),
    ).toEqual([1, 2]);
  });

  it("rejects an offset gap as provider_protocol after yielding what came before", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.end(`${agent(1)}\n${agent(2)}\n${agent(4)}\n`);
    };
    const { items, error } = await collectUntilError(provider().readRunEvents("chat1", "run1", 0));
    expect(items).toHaveLength(2);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: "provider_protocol" });
    expect((error as Error).message).toMatch(/offset 4 does not follow 2/);
  });

  it("rejects a first record that does not follow the requested offset, and repeated offsets", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.end(`${agent(5)}\n`);
    };
    expect((await collectUntilError(provider().readRunEvents("chat1", "run1", 3))).error).toMatchObject({
      code: "provider_protocol",
    });
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.end(`${agent(1)}\n${agent(1)}\n`);
    };
    expect((await collectUntilError(provider().readRunEvents("chat1", "run1", 0))).error).toMatchObject({
      code: "provider_protocol",
    });
  });

  it("rejects a malformed line and an unknown record shape as provider_protocol", async () => {
    for (const bad of [
      "{broken",
      JSON.stringify({ offset: 1, type: "agent", data: "not an object" }),
      JSON.stringify({ type: "mystery" }),
    ]) {
      handler = (_req, res) => {
        res.writeHead(200, { "content-type": "application/x-ndjson" });
        res.end(`${bad}\n`);
      };
      const { items, error } = await collectUntilError(provider().readRunEvents("chat1", "run1", 0));
      expect(items).toEqual([]);
      expect(error).toMatchObject({ code: "provider_protocol" });
    }
  });

  it("rejects invalid UTF-8 as provider_protocol", async () => {
    const p = createHttpProvider({
      baseUrl,
      token: TOKEN,
      fetch: chunkedFetch([new Uint8Array([0x7b, 0xff, 0xfe, 0x7d, 0x0a])]),
    });
    expect((await collectUntilError(p.readRunEvents("chat1", "run1", 0))).error).toMatchObject({
      code: "provider_protocol",
    });
  });

  it("bounds only the wait for headers: a quiet stream outlives the call timeout", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.write(`${agent(1)}\n`);
      setTimeout(() => res.end(`${exit(2)}\n`), 400);
    };
    const records = await collect(provider(100).readRunEvents("chat1", "run1", 0));
    expect(records.map((r) => r.type)).toEqual(["agent", "exit"]);
  });

  it("times out when the headers do not come", async () => {
    handler = () => {};
    expect((await collectUntilError(provider(150).readRunEvents("chat1", "run1", 0))).error).toMatchObject({
      code: "provider_timeout",
    });
  });

  it("throws the provider's error code before any record", async () => {
    handler = (_req, res) => sendJson(res, 404, { error: { code: "run_not_found", message: "no run" } });
    expect((await collectUntilError(provider().readRunEvents("chat1", "nope", 0))).error).toMatchObject({
      code: "run_not_found",
      status: 404,
    });
  });

  it("maps a connection cut mid-stream to provider_unreachable", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.write(`${agent(1)}\n{"offset":2,"ty`);
      setTimeout(() => res.socket?.destroy(), 50);
    };
    const { items, error } = await collectUntilError(provider().readRunEvents("chat1", "run1", 0));
    expect(items).toHaveLength(1);
    expect(error).toMatchObject({ code: "provider_unreachable", retryable: true });
  });

  it("stops reading when the caller aborts, with the caller's reason", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.write(`${agent(1)}\n`);
    };
    const controller = new AbortController();
    const reason = new Error("silence limit");
    const items: ProviderRecord[] = [];
    const reading = (async () => {
      for await (const record of provider().readRunEvents("chat1", "run1", 0, controller.signal)) {
        items.push(record);
        controller.abort(reason);
      }
    })();
    await expect(reading).rejects.toBe(reason);
    expect(items).toHaveLength(1);
  });

  it("lets the consumer stop early without leaking the connection", async () => {
    let closed = false;
    handler = (req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.write(`${agent(1)}\n${agent(2)}\n`);
      req.socket.on("close", () => {
        closed = true;
      });
    };
    for await (const record of provider().readRunEvents("chat1", "run1", 0)) {
      expect(record).toMatchObject({ offset: 1 });
      break;
    }
    await expect.poll(() => closed, { timeout: 2000 }).toBe(true);
  });
});
