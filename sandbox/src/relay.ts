/**
 * The model-API relay: the only way an agent reaches the model. Each run gets an opaque token (its
 * CLI's "API key", with this relay as its base URL); the relay accepts the token only while the run
 * lives, swaps it for the real key (the user's own from the run request, else the service's), and
 * streams the answer back byte for byte while counting its tokens. Used by the run manager. No key
 * or token is ever logged or written anywhere; revoking a token also cuts its requests in flight.
 */
import { randomBytes } from "node:crypto";
import {
  type ClientRequest,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { emptyUsage, type Usage, usageCounter } from "./usage.ts";

export type RelayOptions = {
  /** The Messages API base URL, e.g. https://api.anthropic.com (a path prefix is kept). */
  upstream: string;
  /** The service's own key, used for runs whose request carries none. */
  serviceKey: string | null;
  host?: string;
  port?: number;
  log?: (message: string) => void;
};

export type RelayGrant = { token: string; usage: Usage };

/** One forwarded request: `settle` adds whatever usage its answer reported so far, once. */
type Inflight = { up: ClientRequest; res: ServerResponse; settle: () => void };

type Grant = { key: string; usage: Usage; inflight: Set<Inflight> };

/** Paths the agent may call: the Messages API and its token counter. */
const ALLOWED = new Set(["/v1/messages", "/v1/messages/count_tokens"]);

/** Request headers not forwarded: hop-by-hop, our own credentials, and compression (usage is read in the clear). */
const DROP_REQUEST = new Set([
  "host",
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "x-api-key",
  "authorization",
  "accept-encoding",
  "cookie",
]);
const DROP_RESPONSE = new Set(["connection", "keep-alive", "transfer-encoding", "trailer", "upgrade"]);

const MAX_REQUEST_BYTES = 64 * 1024 * 1024;

function apiError(res: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ type: "error", error: { type, message } });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function tokenOf(headers: IncomingHttpHeaders): string | null {
  const key = headers["x-api-key"];
  if (typeof key === "string" && key !== "") return key;
  const auth = headers.authorization;
  const match = typeof auth === "string" ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
  return match?.[1] ?? null;
}

export class ModelRelay {
  readonly url: string;
  private readonly grants = new Map<string, Grant>();
  private readonly options: RelayOptions;
  private readonly server: ReturnType<typeof createServer>;
  private readonly sockets = new Set<Socket>();

  private constructor(options: RelayOptions, server: ReturnType<typeof createServer>, url: string) {
    this.options = options;
    this.server = server;
    this.url = url;
    server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  static async start(options: RelayOptions): Promise<ModelRelay> {
    const upstream = new URL(options.upstream);
    if (upstream.protocol !== "http:" && upstream.protocol !== "https:") {
      throw new Error(`the model API URL must be http or https: ${options.upstream}`);
    }
    let relay: ModelRelay | null = null;
    const server = createServer((req, res) => relay?.handle(req, res));
    const host = options.host ?? "127.0.0.1";
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    relay = new ModelRelay(options, server, `http://${host.includes(":") ? `[${host}]` : host}:${port}`);
    return relay;
  }

  get hasServiceKey(): boolean {
    return this.options.serviceKey !== null && this.options.serviceKey !== "";
  }

  /** A token for one run, bound to `userKey` or else the service key; null when there is no key at all. */
  grant(userKey: string | null): RelayGrant | null {
    const key = userKey ?? this.options.serviceKey;
    if (!key) return null;
    const token = `run-${randomBytes(32).toString("base64url")}`;
    const usage = emptyUsage();
    this.grants.set(token, { key, usage, inflight: new Set() });
    return { token, usage };
  }

  /** Ends a token: later requests with it are refused and its requests in flight are cut. */
  revoke(token: string): void {
    const grant = this.grants.get(token);
    if (!grant) return;
    this.grants.delete(token);
    for (const { up, res, settle } of grant.inflight) {
      settle();
      up.destroy();
      res.destroy();
    }
    grant.inflight.clear();
  }

  async close(): Promise<void> {
    for (const token of [...this.grants.keys()]) this.revoke(token);
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const token = tokenOf(req.headers);
    const grant = token ? this.grants.get(token) : undefined;
    if (!grant) {
      req.resume();
      apiError(res, 401, "authentication_error", "invalid or expired run token");
      return;
    }
    const url = new URL(req.url ?? "/", "http://relay.invalid");
    if (req.method !== "POST" || !ALLOWED.has(url.pathname)) {
      req.resume();
      apiError(res, 404, "not_found_error", `the model relay does not forward ${req.method} ${url.pathname}`);
      return;
    }
    this.forward(req, res, url, grant);
  }

  private forward(req: IncomingMessage, res: ServerResponse, url: URL, grant: Grant): void {
    const upstream = new URL(this.options.upstream);
    const target = new URL(upstream.pathname.replace(/\/+$/, "") + url.pathname + url.search, upstream);
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !DROP_REQUEST.has(name)) headers[name] = value;
    }
    headers["x-api-key"] = grant.key;
    headers["accept-encoding"] = "identity";
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const up = send(target, { method: "POST", headers });
    let counter: { push(chunk: Buffer): void; end(): void } | null = null;
    const entry: Inflight = {
      up,
      res,
      settle: () => {
        counter?.end();
        counter = null;
      },
    };
    grant.inflight.add(entry);
    const done = () => {
      entry.settle();
      grant.inflight.delete(entry);
    };
    let sent = 0;
    req.on("data", (chunk: Buffer) => {
      sent += chunk.length;
      if (sent > MAX_REQUEST_BYTES) {
        up.destroy();
        if (!res.headersSent) apiError(res, 413, "request_too_large", "request body too large");
        req.destroy();
      }
    });
    req.pipe(up);
    req.on("aborted", () => up.destroy());
    res.on("close", () => {
      if (!res.writableFinished) up.destroy();
      done();
    });
    up.on("error", (err) => {
      done();
      if (!res.headersSent) {
        this.options.log?.(`model relay: ${url.pathname} upstream failed: ${err.message}`);
        apiError(res, 502, "api_error", "the model API cannot be reached");
      } else res.destroy();
    });
    up.on("response", (upRes) => {
      const status = upRes.statusCode ?? 502;
      const out: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(upRes.headers)) {
        if (value !== undefined && !DROP_RESPONSE.has(name)) out[name] = value;
      }
      res.writeHead(status, out);
      if (status >= 200 && status < 300 && url.pathname === "/v1/messages") {
        grant.usage.requests += 1;
        counter = usageCounter(String(upRes.headers["content-type"] ?? ""), grant.usage);
      }
      upRes.on("data", (chunk: Buffer) => {
        counter?.push(chunk);
        res.write(chunk);
      });
      upRes.on("end", () => {
        done();
        res.end();
      });
      upRes.on("close", () => {
        if (!upRes.complete) res.destroy();
        done();
      });
    });
  }
}
