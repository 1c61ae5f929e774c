/**
 * The provider's HTTP routes (PROTOCOL.md), matched by method and path pattern. Used by server.ts
 * after authentication. Handlers validate input, call the sandbox store, run manager, files or
 * exec modules, and either respond or throw `ApiError`; they never touch process-wide state. Every
 * route that names an existing sandbox counts as a use of it (it wakes a stopped one).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JailContext } from "./agent-process.ts";
import { streamEvents } from "./events.ts";
import { runExec } from "./exec.ts";
import { listDir, MAX_FILE_BYTES, readWorkspaceFile, resolveInWorkspace, writeWorkspaceFile } from "./files.ts";
import { ApiError, readBody, readJsonObject, sendEmpty, sendJson } from "./http.ts";
import type { ResourceMonitor } from "./monitor.ts";
import type { RunManager } from "./runs.ts";
import type { SandboxStore } from "./sandboxes.ts";
import { checkId, parseAfter, parseExec, parseInput, parseStartRun } from "./validate.ts";

export type RouteContext = {
  store: SandboxStore;
  runs: RunManager;
  monitor: ResourceMonitor;
  jail: Omit<JailContext, "sandbox">;
  heartbeatMs: number;
  /** The `GET /v1/capabilities` body. */
  capabilities: Record<string, unknown>;
  touch(sandboxId: string): void;
  /** Kills everything the sandbox still runs. */
  stopSandbox(sandboxId: string): Promise<void>;
  /** Drops what is remembered about a deleted sandbox. */
  forget(sandboxId: string): void;
};

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], url: URL) => Promise<void> | void;

type Route = { method: string; pattern: RegExp; handler: Handler };

const SEG = "([^/]+)";

export function buildRoutes(ctx: RouteContext): Route[] {
  const { store, runs } = ctx;

  const decode = (raw: string, what: string) => {
    try {
      return checkId(decodeURIComponent(raw), what);
    } catch {
      throw new ApiError(400, "invalid_id", `${what} must match ^[A-Za-z0-9_-]{1,100}$`);
    }
  };
  /** The named sandbox; using it (`wake`, all but a plain GET) restarts its idle clock. */
  const sandboxOf = (rawId: string, wake = true) => {
    const id = decode(rawId, "sandboxId");
    if (!store.get(id)) throw new ApiError(404, "sandbox_not_found", `no sandbox ${id}`);
    if (wake) ctx.touch(id);
    const sandbox = store.get(id);
    if (!sandbox) throw new ApiError(404, "sandbox_not_found", `no sandbox ${id}`);
    return { id, sandbox, paths: store.paths(id) };
  };
  const runIdOf = (raw: string) => decode(raw, "runId");
  const pathOf = (url: URL) => url.searchParams.get("path") ?? "";

  const route = (method: string, path: string, handler: Handler): Route => ({
    method,
    pattern: new RegExp(`^${path.replaceAll(":id", SEG)}$`),
    handler,
  });

  return [
    route("GET", "/v1/capabilities", (_req, res) => {
      sendJson(res, 200, ctx.capabilities);
    }),

    route("PUT", "/v1/sandboxes/:id", async (req, res, [raw = ""]) => {
      const id = decode(raw, "sandboxId");
      await readJsonObject(req);
      const { created } = store.create(id);
      ctx.touch(id);
      sendJson(res, created ? 201 : 200, store.get(id));
    }),
    route("GET", "/v1/sandboxes/:id", (_req, res, [raw = ""]) => {
      sendJson(res, 200, sandboxOf(raw, false).sandbox);
    }),
    route("DELETE", "/v1/sandboxes/:id", async (_req, res, [raw = ""]) => {
      const { id } = sandboxOf(raw);
      await ctx.stopSandbox(id);
      ctx.forget(id);
      await store.remove(id);
      sendEmpty(res, 204);
    }),

    route("POST", "/v1/sandboxes/:id/runs", async (req, res, [raw = ""]) => {
      const { id } = sandboxOf(raw);
      const input = parseStartRun(await readJsonObject(req));
      const { created, body } = runs.start(id, input);
      sendJson(res, created ? 201 : 200, body);
    }),
    route("GET", "/v1/sandboxes/:id/runs/:id", (_req, res, [raw = "", run = ""]) => {
      const { id } = sandboxOf(raw);
      sendJson(res, 200, runs.view(id, runIdOf(run)));
    }),
    route("GET", "/v1/sandboxes/:id/runs/:id/events", (req, res, [raw = "", run = ""], url) => {
      const { id } = sandboxOf(raw);
      const after = parseAfter(url.searchParams.get("after"));
      streamEvents(req, res, runs.logOf(id, runIdOf(run)), after, ctx.heartbeatMs);
    }),
    route("POST", "/v1/sandboxes/:id/runs/:id/input", async (req, res, [raw = "", run = ""]) => {
      const { id } = sandboxOf(raw);
      const runId = runIdOf(run);
      runs.get(id, runId);
      runs.input(id, runId, parseInput(await readJsonObject(req)));
      sendJson(res, 202, {});
    }),
    route("POST", "/v1/sandboxes/:id/runs/:id/cancel", (_req, res, [raw = "", run = ""]) => {
      const { id } = sandboxOf(raw);
      sendJson(res, 202, runs.cancel(id, runIdOf(run)));
    }),
    route("POST", "/v1/sandboxes/:id/runs/by-key/:id/cancel", (_req, res, [raw = "", key = ""]) => {
      const { id } = sandboxOf(raw);
      sendJson(res, 202, runs.cancelByKey(id, decode(key, "idempotencyKey")));
    }),

    route("POST", "/v1/sandboxes/:id/exec", async (req, res, [raw = ""]) => {
      const { id, paths } = sandboxOf(raw);
      const input = parseExec(await readJsonObject(req));
      runExec(
        res,
        {
          ...ctx.jail,
          sandbox: { paths, uid: store.uidOf(id) },
          sandboxId: id,
          monitor: ctx.monitor,
          diskDirs: [paths.workspace, paths.home, paths.tmp],
        },
        input,
      );
    }),

    route("GET", "/v1/sandboxes/:id/files", (_req, res, [raw = ""], url) => {
      const { paths } = sandboxOf(raw);
      const path = pathOf(url);
      sendJson(res, 200, { path, entries: listDir(paths.workspace, path) });
    }),
    route("GET", "/v1/sandboxes/:id/files/content", (_req, res, [raw = ""], url) => {
      const { paths } = sandboxOf(raw);
      const content = readWorkspaceFile(paths.workspace, pathOf(url));
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": content.length });
      res.end(content);
    }),
    route("PUT", "/v1/sandboxes/:id/files/content", async (req, res, [raw = ""], url) => {
      const { id, paths } = sandboxOf(raw);
      const path = pathOf(url);
      // Check the path before accepting up to 10 MiB of body for it.
      resolveInWorkspace(paths.workspace, path);
      const body = await readBody(req, MAX_FILE_BYTES, "file_too_large");
      writeWorkspaceFile(paths.workspace, path, body, store.uidOf(id));
      sendEmpty(res, 204);
    }),
  ];
}

/** Finds the route for a request: the handler with its path params, or the fitting 404/405. */
export function matchRoute(routes: Route[], method: string, pathname: string): { handler: Handler; params: string[] } {
  let pathMatched = false;
  for (const r of routes) {
    const m = r.pattern.exec(pathname);
    if (!m) continue;
    pathMatched = true;
    if (r.method === method) return { handler: r.handler, params: m.slice(1).map((p) => p ?? "") };
  }
  if (pathMatched) throw new ApiError(405, "method_not_allowed", `${method} is not allowed on ${pathname}`);
  throw new ApiError(404, "not_found", `no route for ${pathname}`);
}
