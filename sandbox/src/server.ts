/**
 * The reference sandbox provider as an in-process HTTP server: `startSandboxServer(opts)`. Used by
 * main.ts, the tests and the dev start script. Every request is authenticated before routing, and
 * every failure becomes a JSON error with a stable code; nothing a client sends can crash it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { makeAuthCheck } from "./auth.ts";
import { ApiError, sendError } from "./http.ts";
import { buildRoutes, matchRoute } from "./routes.ts";
import { RunManager } from "./runs.ts";
import { SandboxStore } from "./sandboxes.ts";

export type SandboxServerOptions = {
  token: string;
  root: string;
  port?: number;
  host?: string;
  claudeBin: string;
  anthropicBaseUrl?: string;
  anthropicApiKey?: string;
  /** CLAUDE_CODE_MAX_RETRIES for agent runs (default 1). */
  maxRetries?: number;
  /** Grace between the interrupt request and killing the run's process group (default 2000). */
  cancelGraceMs?: number;
  /** Silence after which the events stream sends a heartbeat line (default 10000). */
  heartbeatMs?: number;
  log?: (message: string) => void;
};

export type SandboxServer = { url: string; port: number; close(): Promise<void> };

export async function startSandboxServer(opts: SandboxServerOptions): Promise<SandboxServer> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const authorized = makeAuthCheck(opts.token);
  const store = new SandboxStore(opts.root);
  const runs = new RunManager(store, {
    claudeBin: opts.claudeBin,
    anthropicBaseUrl: opts.anthropicBaseUrl,
    anthropicApiKey: opts.anthropicApiKey,
    maxRetries: opts.maxRetries ?? 1,
    cancelGraceMs: opts.cancelGraceMs ?? 2000,
  });
  runs.recover();
  const routes = buildRoutes({ store, runs, heartbeatMs: opts.heartbeatMs ?? 10_000 });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!authorized(req)) throw new ApiError(401, "unauthorized", "missing or wrong bearer token");
    const url = new URL(req.url ?? "/", "http://sandbox.invalid");
    const { handler, params } = matchRoute(routes, req.method ?? "GET", url.pathname);
    await handler(req, res, params, url);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!(err instanceof ApiError))
        log(
          `sandbox: ${req.method} ${req.url} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Leave the unread rest of a rejected body alone and close, so it is not parsed as a request.
      if (!req.complete) res.setHeader("connection", "close");
      if (err instanceof ApiError) sendError(res, err.status, err.code, err.message);
      else sendError(res, 500, "internal", "internal error");
    });
  });
  const sockets = new Set<Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("clientError", (_err, socket) => {
    if (socket.writable)
      socket.end(
        'HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":{"code":"invalid_request","message":"malformed HTTP request"}}',
      );
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host && opts.host !== "0.0.0.0" && opts.host !== "::" ? opts.host : "127.0.0.1";
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    async close() {
      await runs.stopEverything();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
