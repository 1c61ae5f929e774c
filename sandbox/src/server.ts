/**
 * The reference sandbox provider as an in-process HTTP server: `startSandboxServer(opts)`. Used by
 * main.ts, the tests and the dev start script. It checks its isolation boundary before it listens
 * (and refuses to start without one unless told `isolation: "none"`), starts the model relay, and
 * authenticates every request before routing; every failure becomes a JSON error with a stable
 * code, and nothing a client or a sandbox does can crash it.
 */
import { realpathSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { agentBinForSandboxes } from "./agent-bin.ts";
import { makeAuthCheck } from "./auth.ts";
import { ApiError, sendError } from "./http.ts";
import { IdleReaper } from "./idle.ts";
import { describeIsolation, type IsolationMode, isolationLogLine, setUpIsolation } from "./isolation.ts";
import { DEFAULT_LIMITS, type SandboxLimits } from "./limits.ts";
import { ResourceMonitor } from "./monitor.ts";
import { killUid } from "./proc-table.ts";
import { ModelRelay } from "./relay.ts";
import { buildRoutes, matchRoute } from "./routes.ts";
import { RunManager } from "./runs.ts";
import { SandboxStore, type UidRange } from "./sandboxes.ts";

export type SandboxServerOptions = {
  token: string;
  root: string;
  port?: number;
  host?: string;
  claudeBin: string;
  /** The Messages API the relay forwards to (default https://api.anthropic.com). */
  anthropicBaseUrl?: string;
  /** The service's model key, used by runs whose request brings none. */
  anthropicApiKey?: string;
  /** CLAUDE_CODE_MAX_RETRIES for agent runs (default 1). */
  maxRetries?: number;
  /** Grace between the interrupt request and killing the run's process group (default 2000). */
  cancelGraceMs?: number;
  /** Silence after which the events stream sends a heartbeat line (default 10000). */
  heartbeatMs?: number;
  /** "bubblewrap" (default) or "none" (development only: no boundary at all). */
  isolation?: IsolationMode;
  /** The bwrap binary (default: found on PATH). */
  bwrap?: string;
  /** Host uids for sandboxes when the provider runs as root (default 600000, 100000 of them). */
  uids?: UidRange;
  limits?: SandboxLimits;
  /** Resource monitor period (default 500) and the least time between disk walks (default 2000). */
  monitorMs?: number;
  diskMonitorMs?: number;
  /** Stop a sandbox idle this long (default 15 min; 0 never), delete one idle this long (default 0: never). */
  idleStopMs?: number;
  idleDeleteMs?: number;
  /** Where the model relay listens; sandboxes share the host's network, so loopback reaches it. */
  relayHost?: string;
  relayPort?: number;
  log?: (message: string) => void;
};

export type SandboxServer = {
  url: string;
  port: number;
  /** The boundary in force, as `GET /v1/capabilities` reports it. */
  isolation: { kind: string; [key: string]: unknown };
  relayUrl: string;
  idle: IdleReaper;
  close(): Promise<void>;
};

export const DEFAULT_UIDS: UidRange = { base: 600_000, count: 100_000 };

export async function startSandboxServer(opts: SandboxServerOptions): Promise<SandboxServer> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const authorized = makeAuthCheck(opts.token);
  const mode = opts.isolation ?? "bubblewrap";
  const isRoot = process.getuid?.() === 0;
  const uids = mode === "bubblewrap" && isRoot ? (opts.uids ?? DEFAULT_UIDS) : null;
  let claudeBin = opts.claudeBin;
  try {
    claudeBin = agentBinForSandboxes(realpathSync(claudeBin), opts.root, uids !== null);
  } catch {
    // Left as given: a run then fails to start with a clear stderr record.
  }
  const isolation = await setUpIsolation({ mode, root: opts.root, agentBin: claudeBin, uids, bwrap: opts.bwrap });
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const store = new SandboxStore(opts.root, uids);
  const relay = await ModelRelay.start({
    upstream: opts.anthropicBaseUrl ?? "https://api.anthropic.com",
    serviceKey: opts.anthropicApiKey ?? null,
    host: opts.relayHost,
    port: opts.relayPort,
    log,
  });
  const monitor = new ResourceMonitor({
    intervalMs: opts.monitorMs ?? 500,
    diskIntervalMs: opts.diskMonitorMs ?? 2000,
  });
  const runs = new RunManager(store, {
    claudeBin,
    maxRetries: opts.maxRetries ?? 1,
    cancelGraceMs: opts.cancelGraceMs ?? 2000,
    isolation,
    limits,
    relay,
    monitor,
  });
  runs.recover();

  /** Kills whatever a sandbox still runs and releases its run state; its files stay. */
  const stopSandbox = async (id: string) => {
    await runs.stopAll(id);
    const uid = store.uidOf(id);
    if (uid !== null) killUid(uid);
    runs.forget(id);
  };
  const idle = new IdleReaper(
    { stopAfterMs: opts.idleStopMs ?? 15 * 60_000, deleteAfterMs: opts.idleDeleteMs ?? 0 },
    {
      ids: () => store.ids(),
      busy: (id) => monitor.busy(id) || runs.hasLive(id),
      isStopped: (id) => store.get(id)?.status === "stopped",
      stop: async (id) => {
        await stopSandbox(id);
        store.setStopped(id, true);
      },
      remove: async (id) => {
        await stopSandbox(id);
        monitor.forget(id);
        await store.remove(id);
      },
      log,
    },
  );
  const describedIsolation = describeIsolation(isolation);
  const routes = buildRoutes({
    store,
    runs,
    monitor,
    jail: { isolation, limits },
    heartbeatMs: opts.heartbeatMs ?? 10_000,
    capabilities: {
      name: "reference",
      version: "1",
      capabilities: {
        agent: true,
        permissions: true,
        exec: true,
        files: true,
        resume: true,
        userModelKey: true,
        serviceModelKey: relay.hasServiceKey,
        usage: true,
      },
      isolation: describedIsolation,
      limits,
    },
    touch: (id) => {
      idle.touch(id);
      store.setStopped(id, false);
    },
    stopSandbox,
    forget: (id) => {
      idle.forget(id);
      monitor.forget(id);
    },
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!authorized(req)) throw new ApiError(401, "unauthorized", "missing or wrong bearer token");
    const url = new URL(req.url ?? "/", "http://sandbox.invalid");
    const { handler, params } = matchRoute(routes, req.method ?? "GET", url.pathname);
    await handler(req, res, params, url);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // Only the method and path are logged: a request body may carry a user's model key.
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
  log(isolationLogLine(isolation));
  const port = (server.address() as AddressInfo).port;
  const host = opts.host && opts.host !== "0.0.0.0" && opts.host !== "::" ? opts.host : "127.0.0.1";
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    isolation: describedIsolation,
    relayUrl: relay.url,
    idle,
    async close() {
      idle.close();
      await runs.stopEverything();
      monitor.close();
      await relay.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
