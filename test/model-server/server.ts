/**
 * A scripted stand-in for the Anthropic Messages API (streaming SSE) that the real Claude Code CLI
 * talks to offline. Tests register scripts with `POST /__scripts` and reference them with a
 * `[script:<id>]` marker in the prompt; unmarked requests get the labelled offline demo model.
 * Turn choice is stateless (counted from the request's messages), so retries and resumes are stable.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { assistantsAfter, findMarker, lastUserText, readMessages, textBlocks } from "./conversation.ts";
import { demoTurn } from "./demo.ts";
import { errorBody, replyMessage, replyUsage, streamTurn, type Turn } from "./sse.ts";

export type { Turn } from "./sse.ts";

export type RecordedRequest = {
  model: string;
  lastUserText: string;
  messages: number;
  roles: string[];
  /** Every text block of the conversation, in order: what the model was shown. */
  transcript: string[];
  turn: number;
  at: number;
  /** The credential the request carried (`x-api-key`, else a bearer token): what the relay swapped in. */
  apiKey: string | null;
  /** The usage this server streamed back for a complete reply (null for errors, stalls and drops). */
  usage: { input: number; output: number } | null;
};

export type ModelServerOptions = { port?: number; host?: string; log?: (line: string) => void };

export type ModelServer = { url: string; port: number; close(): Promise<void> };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function apiKeyOf(req: IncomingMessage): string | null {
  const key = req.headers["x-api-key"];
  if (typeof key === "string") return key;
  const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
  return auth?.[1] ?? null;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isTurn(v: unknown): v is Turn {
  if (!isRecord(v)) return false;
  if (Array.isArray(v.blocks)) return true;
  if (isRecord(v.error)) return typeof v.error.status === "number";
  return typeof v.stallMs === "number" || typeof v.dropAfterChunks === "number";
}

export async function startModelServer(opts: ModelServerOptions = {}): Promise<ModelServer> {
  const scripts = new Map<string, Turn[]>();
  const requests = new Map<string, RecordedRequest[]>();
  const log = opts.log ?? (() => {});
  const sockets = new Set<import("node:net").Socket>();

  async function messagesEndpoint(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parse(await readBody(req));
    if (!isRecord(body)) {
      json(res, 400, parse(errorBody("invalid_request_error", "body must be a JSON object")));
      return;
    }
    const model = typeof body.model === "string" ? body.model : "";
    if (model.startsWith("invalid")) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(errorBody("not_found_error", `model: ${model}`));
      return;
    }
    const messages = readMessages(body);
    const marker = findMarker(messages);
    let turn: Turn;
    if (marker) {
      const index = assistantsAfter(messages, marker.messageIndex);
      turn = scripts.get(marker.scriptId)?.[index] ?? {
        blocks: [{ type: "text", text: `script ${marker.scriptId} has no more turns` }],
      };
      const list = requests.get(marker.scriptId) ?? [];
      list.push({
        model,
        lastUserText: lastUserText(messages)?.text ?? "",
        messages: messages.length,
        roles: messages.map((m) => m.role),
        transcript: messages.flatMap((m) => textBlocks(m)),
        turn: index,
        at: Date.now(),
        apiKey: apiKeyOf(req),
        usage: "blocks" in turn && !("dropAfterChunks" in turn) ? replyUsage(turn) : null,
      });
      requests.set(marker.scriptId, list);
    } else {
      turn = demoTurn(messages);
    }
    if (body.stream !== true && !("error" in turn) && "blocks" in turn && !("dropAfterChunks" in turn)) {
      json(res, 200, replyMessage(model, turn));
      return;
    }
    await streamTurn(res, model, turn);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method === "POST" && url.pathname === "/v1/messages") return messagesEndpoint(req, res);
    if (req.method === "POST" && url.pathname === "/__scripts") {
      const body = parse(await readBody(req));
      if (!isRecord(body) || typeof body.id !== "string" || !Array.isArray(body.turns) || !body.turns.every(isTurn)) {
        json(res, 400, { error: "expected { id: string, turns: Turn[] }" });
        return;
      }
      scripts.set(body.id, body.turns);
      json(res, 201, { id: body.id, turns: body.turns.length });
      return;
    }
    if (req.method === "GET" && url.pathname === "/__requests") {
      const list = requests.get(url.searchParams.get("script") ?? "") ?? [];
      json(res, 200, { count: list.length, requests: list });
      return;
    }
    if (req.method === "GET" && url.pathname === "/health") {
      json(res, 200, { ok: true });
      return;
    }
    // Anything else the CLI might probe (count_tokens, metrics, ...) gets a harmless answer.
    log(`model-server: unhandled ${req.method} ${req.url}`);
    await readBody(req).catch(() => "");
    if (url.pathname === "/v1/messages/count_tokens") json(res, 200, { input_tokens: 10 });
    else json(res, 200, {});
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`model-server: error ${String(err)}`);
      if (!res.headersSent) json(res, 500, parse(errorBody("api_error", "internal error")));
      else res.destroy();
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
