/**
 * A sandbox provider that answers instantly (the runs scenario's ingest figure): node:http, just
 * what the run engine calls (PUT sandbox, POST run, GET run events, POST cancel, per PROTOCOL.md).
 * Each run's NDJSON is built before the run starts and written in one go, so the chat, not this
 * server, sets the pace. Agent lines are the real CLI's shapes, copied from the stream-json fixtures.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";

export type FastProvider = {
  url: string;
  token: string;
  /**
   * Builds the records of the next run: `system/init`, message and block start, `deltas` text
   * deltas of `text`, the block's `assistant` line, block and message stop, `result`, `exit`.
   */
  stage(deltas: number, text: string): void;
  /** Every run that finds nothing staged gets such a run (the scheduler scenario's many chats); null stops it. */
  stageEvery(run: { deltas: number; text: string } | null): void;
  close(): Promise<void>;
};

type Line = Record<string, unknown>;

/** The lines of a real text-only run (text.jsonl), by what they are. */
function fixtureLines(): Record<"init" | "start" | "blockStart" | "delta" | "assistant" | "stop" | "result", Line> {
  const path = join(import.meta.dirname, "..", "unit", "fixtures", "stream-json", "text.jsonl");
  const lines = readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Line);
  const event = (l: Line) => (l.event as { type?: string; delta?: { type?: string } } | undefined) ?? {};
  const find = (what: string, test: (l: Line) => boolean): Line => {
    const found = lines.find(test);
    if (!found) throw new Error(`text.jsonl has no ${what} line`);
    return found;
  };
  const isText = (l: Line) => JSON.stringify(l).includes('"type":"text"');
  return {
    init: find("system/init", (l) => l.type === "system" && l.subtype === "init"),
    start: find("message_start", (l) => event(l).type === "message_start"),
    blockStart: find("text block start", (l) => event(l).type === "content_block_start" && isText(l)),
    delta: find("text_delta", (l) => event(l).delta?.type === "text_delta"),
    assistant: find("assistant text", (l) => l.type === "assistant" && isText(l)),
    stop: find("content_block_stop", (l) => event(l).type === "content_block_stop"),
    result: find("result", (l) => l.type === "result"),
  };
}

/** One run's NDJSON lines (offsets 1..n, the exit record last), for a session id. */
function runLines(deltas: number, text: string, sessionId: string): string[] {
  const f = fixtureLines();
  const full = text.repeat(deltas);
  const own = (line: Line, extra: Line = {}) => ({ ...line, ...extra, session_id: sessionId, uuid: randomUUID() });
  const blockIndex = (f.blockStart.event as { index: number }).index;
  const agent: Line[] = [
    own(f.init),
    own(f.start),
    own(f.blockStart),
    ...Array.from({ length: deltas }, () =>
      own(f.delta, { event: { type: "content_block_delta", index: blockIndex, delta: { type: "text_delta", text } } }),
    ),
    own(f.assistant, {
      message: { ...(f.assistant.message as Line), content: [{ type: "text", text: full }] },
    }),
    own(f.stop, { event: { type: "content_block_stop", index: blockIndex } }),
    own(f.result, { result: full }),
  ];
  const records = agent.map((data, i) => JSON.stringify({ offset: i + 1, type: "agent", data }));
  records.push(JSON.stringify({ offset: agent.length + 1, type: "exit", exitCode: 0, signal: null, cancelled: false }));
  return records;
}

type Run = { sessionId: string; lines: string[]; body: Buffer };

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

export async function startFastProvider(): Promise<FastProvider> {
  const token = randomUUID();
  let staged: Run | null = null;
  let every: { deltas: number; text: string } | null = null;
  const runs = new Map<string, Run>();
  const build = (deltas: number, text: string): Run => {
    const sessionId = randomUUID();
    const lines = runLines(deltas, text, sessionId);
    return { sessionId, lines, body: Buffer.from(`${lines.join("\n")}\n`) };
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.authorization !== `Bearer ${token}`) return send(res, 401, { error: { code: "unauthorized" } });
    const url = new URL(req.url ?? "/", "http://fast.invalid");
    if (req.method === "GET" && url.pathname === "/v1/capabilities") {
      const capabilities = { agent: true, permissions: true, exec: false, files: false, resume: true };
      return send(res, 200, { name: "fast-bench", version: "1", capabilities });
    }
    // /v1/sandboxes/:id[/runs[/:runId/(events|cancel)]]
    const [, v1, sandboxes, sandboxId, runsPath, runId, action] = url.pathname.split("/");
    if (v1 !== "v1" || sandboxes !== "sandboxes" || !sandboxId) return send(res, 404, { error: { code: "not_found" } });
    if (req.method === "PUT" && runsPath === undefined) {
      return send(res, 201, { id: sandboxId, status: "ready", createdAt: new Date().toISOString() });
    }
    if (req.method === "POST" && runsPath === "runs" && runId === undefined) {
      const run = staged ?? (every ? build(every.deltas, every.text) : null);
      if (!run) return send(res, 500, { error: { code: "internal", message: "no run staged" } });
      const id = randomUUID();
      runs.set(id, run);
      const { sessionId } = run;
      staged = null;
      return send(res, 201, { runId: id, sessionId, status: "running" });
    }
    const run = runs.get(runId ?? "");
    if (runsPath !== "runs" || !run) return send(res, 404, { error: { code: "run_not_found" } });
    if (req.method === "GET" && action === "events") {
      const after = Number(url.searchParams.get("after") ?? "0");
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.end(after === 0 ? run.body : `${run.lines.slice(after).join("\n")}\n`);
      return;
    }
    if (req.method === "POST" && action === "cancel") return send(res, 202, { status: "exited" });
    return send(res, 404, { error: { code: "not_found" } });
  };

  const server = createServer((req, res) => {
    // Bodies (the run's prompt) are drained unread: nothing here depends on them.
    req.resume();
    req.on("end", () => handle(req, res));
  });
  const sockets = new Set<Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  // The scheduler scenario's thousand chats connect at once from one busy workerd process: a deep
  // accept queue, and idle keep-alive connections held long enough that none closes under a request.
  server.keepAliveTimeout = 600_000;
  server.headersTimeout = 660_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    stage(deltas, text) {
      staged = build(deltas, text);
    },
    stageEvery(run) {
      every = run;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
