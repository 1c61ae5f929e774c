/**
 * The model-API relay on its own and through the provider. A stand-in upstream sends fixed bytes in
 * odd chunks (the scripted model server's answers differ per request, so they cannot be compared
 * byte for byte) and records what it was sent. Proves: tokens are checked and die when revoked
 * (cutting answers in flight), only the Messages API is forwarded, the real key replaces the token,
 * answers stream back unchanged, usage is counted from them; and, through the provider, a run with
 * no key at all is refused while a user's key is used for its run only.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelRelay } from "../../sandbox/src/relay.ts";
import { startTestServers, type TestServers } from "../support/servers.ts";
import { bashTurns } from "./agent-script.ts";
import { exitOf, makeClient, uid } from "./client.ts";

const SSE_BODY = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"m1","usage":{"input_tokens":12,"output_tokens":1,"cache_creation_input_tokens":3,"cache_read_input_tokens":4}}}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"h\u00e9llo"}}\n\n',
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
].join("");

type Seen = { path: string; headers: IncomingHttpHeaders; body: string };

let upstream: Server;
let upstreamUrl: string;
const seen: Seen[] = [];
/** Lets a test hold the upstream's answer open: resolved to release it. */
let hold: Promise<void> | null = null;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(parts).toString("utf8");
      seen.push({ path: req.url ?? "", headers: req.headers, body });
      if (body.includes('"json"')) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ id: "m2", usage: { input_tokens: 5, output_tokens: 6 } }));
        return;
      }
      if (body.includes('"fail"')) {
        res.writeHead(429, { "content-type": "application/json", "retry-after": "7" });
        res.end('{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}');
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "request-id": "req_fixed" });
      // The first event whole (a test may hold the answer there), the rest in odd chunks that split
      // lines and a multi-byte character.
      const bytes = Buffer.from(SSE_BODY, "utf8");
      const first = bytes.indexOf("\n\n") + 2;
      res.write(bytes.subarray(0, first));
      if (hold) await hold;
      for (let i = first; i < bytes.length; i += 37) {
        res.write(bytes.subarray(i, i + 37));
        await new Promise((r) => setTimeout(r, 1));
      }
      res.end();
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/prefix`;
});
afterAll(async () => {
  await new Promise<void>((r) => upstream.close(() => r()));
});

async function post(relay: ModelRelay, token: string, body: unknown, path = "/v1/messages?beta=true") {
  return fetch(`${relay.url}${path}`, {
    method: "POST",
    headers: { "x-api-key": token, "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify(body),
  });
}

describe("the relay", () => {
  it("refuses unknown tokens and every path but the Messages API", async () => {
    const relay = await ModelRelay.start({ upstream: upstreamUrl, serviceKey: "service-key-1" });
    try {
      const before = seen.length;
      const bad = await post(relay, "run-guessed", {});
      expect(bad.status).toBe(401);
      expect(await bad.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });
      const grant = relay.grant(null);
      if (!grant) throw new Error("no grant");
      const models = await fetch(`${relay.url}/v1/models`, { headers: { "x-api-key": grant.token } });
      expect(models.status).toBe(404);
      expect((await post(relay, grant.token, {}, "/v1/complete")).status).toBe(404);
      expect(seen.length).toBe(before);
    } finally {
      await relay.close();
    }
  });

  it("swaps the token for the real key and streams the answer back byte for byte, counting its tokens", async () => {
    const relay = await ModelRelay.start({ upstream: upstreamUrl, serviceKey: "service-key-1" });
    try {
      const user = relay.grant("user-key-abcdefgh");
      const service = relay.grant(null);
      if (!user || !service) throw new Error("no grant");
      const res = await post(relay, user.token, { stream: true });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/event-stream");
      expect(res.headers.get("request-id")).toBe("req_fixed");
      expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(SSE_BODY, "utf8"))).toBe(true);
      const sent = seen.at(-1);
      expect(sent?.path).toBe("/prefix/v1/messages?beta=true");
      expect(sent?.headers["x-api-key"]).toBe("user-key-abcdefgh");
      expect(sent?.headers.authorization).toBeUndefined();
      expect(sent?.headers["anthropic-version"]).toBe("2023-06-01");
      expect(sent?.headers["accept-encoding"]).toBe("identity");
      expect(user.usage).toEqual({
        requests: 1,
        inputTokens: 12,
        outputTokens: 7,
        cacheCreationInputTokens: 3,
        cacheReadInputTokens: 4,
      });

      // A JSON answer counts too; an error passes through unchanged and counts nothing.
      await (await post(relay, service.token, { json: true })).text();
      expect(seen.at(-1)?.headers["x-api-key"]).toBe("service-key-1");
      const failed = await post(relay, service.token, { fail: true });
      expect(failed.status).toBe(429);
      expect(failed.headers.get("retry-after")).toBe("7");
      expect(await failed.text()).toBe('{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}');
      expect(service.usage).toEqual({
        requests: 1,
        inputTokens: 5,
        outputTokens: 6,
        cacheCreationInputTokens: 0,
        cacheReadInputTokens: 0,
      });
    } finally {
      await relay.close();
    }
  });

  it("revoking a token cuts its answer in flight, keeps the usage seen so far, and refuses it after", async () => {
    const relay = await ModelRelay.start({ upstream: upstreamUrl, serviceKey: "service-key-1" });
    let release = () => {};
    hold = new Promise((r) => {
      release = r;
    });
    try {
      const grant = relay.grant(null);
      if (!grant) throw new Error("no grant");
      const res = await post(relay, grant.token, { stream: true });
      const reader = res.body?.getReader();
      await reader?.read();
      relay.revoke(grant.token);
      await expect(
        (async () => {
          for (;;) if ((await reader?.read())?.done) return "ended cleanly";
        })(),
      ).rejects.toThrow();
      expect(grant.usage).toMatchObject({ requests: 1, inputTokens: 12, outputTokens: 1 });
      expect((await post(relay, grant.token, {})).status).toBe(401);
    } finally {
      release();
      hold = null;
      await relay.close();
    }
  });

  it("has no grant without any key, and says the model API is unreachable when it is", async () => {
    const none = await ModelRelay.start({ upstream: upstreamUrl, serviceKey: null });
    expect(none.hasServiceKey).toBe(false);
    expect(none.grant(null)).toBeNull();
    await none.close();
    const dead = await ModelRelay.start({ upstream: "http://127.0.0.1:9", serviceKey: "k" });
    try {
      const grant = dead.grant(null);
      const res = await post(dead, grant?.token ?? "", {});
      expect(res.status).toBe(502);
      expect(await res.json()).toMatchObject({ error: { type: "api_error" } });
    } finally {
      await dead.close();
    }
  });
});

describe("model keys through the provider", () => {
  let servers: TestServers;

  beforeAll(async () => {
    servers = await startTestServers({ serviceKey: null });
  });
  afterAll(async () => {
    await servers?.close();
  });

  it("without a service key: runs need the user's key, which the model then sees", async () => {
    const api = makeClient(servers.sandboxUrl, servers.sandboxToken, servers.modelUrl);
    const caps = await api.call("GET", "/v1/capabilities");
    expect(caps.json.capabilities).toMatchObject({ userModelKey: true, serviceModelKey: false, usage: true });
    const id = uid("keys");
    await api.call("PUT", `/v1/sandboxes/${id}`, {});
    const script = uid("mine");
    await api.script(script, bashTurns([], "answered with your key"));
    const body = { prompt: `[script:${script}]`, model: "m", permissionMode: "default" };

    const missing = await api.call("POST", `/v1/sandboxes/${id}/runs`, { ...body, idempotencyKey: uid("k") });
    expect(missing.status).toBe(400);
    expect(missing.json.error.code).toBe("model_key_missing");

    for (const bad of ["short", "has a space in it", 42, "x".repeat(1001)]) {
      const res = await api.call("POST", `/v1/sandboxes/${id}/runs`, {
        ...body,
        idempotencyKey: uid("k"),
        modelKey: bad,
      });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("invalid_request");
      if (typeof bad === "string") expect(res.text).not.toContain(bad);
    }

    const userKey = `sk-ant-${randomBytes(12).toString("hex")}`;
    const ok = await api.call("POST", `/v1/sandboxes/${id}/runs`, {
      ...body,
      idempotencyKey: uid("k"),
      modelKey: userKey,
    });
    expect(ok.status).toBe(201);
    const recs = await api.records(id, ok.json.runId);
    expect(exitOf(recs)).toMatchObject({ exitCode: 0, usage: { requests: 1 } });
    expect((await api.modelRequests(script)).requests.map((r) => r.apiKey)).toEqual([userKey]);
  });
});
