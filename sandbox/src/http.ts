/**
 * HTTP plumbing shared by every route of the sandbox provider: the error type with stable codes,
 * JSON responses, and bounded body reading. Routes throw `ApiError` for expected failures; the
 * server turns it into `{"error":{"code","message"}}`, and anything else into a generic 500.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

/** Reads the whole body, failing with 413 `code` once it passes `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number, code = "payload_too_large"): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) {
      req.resume();
      reject(new ApiError(413, code, `body larger than ${limit} bytes`));
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new ApiError(413, code, `body larger than ${limit} bytes`));
        return;
      }
      parts.push(chunk);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(parts));
    });
    req.on("error", (err) => {
      if (!failed) reject(err);
    });
  });
}

/** Reads a JSON object body; an empty body counts as `{}`. Malformed JSON is `400 invalid_request`. */
export async function readJsonObject(req: IncomingMessage, limit = 2 * 1024 * 1024): Promise<Record<string, unknown>> {
  const raw = (await readBody(req, limit)).toString("utf8");
  if (raw.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new ApiError(400, "invalid_request", "body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ApiError(400, "invalid_request", "body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/** Starts an NDJSON response: one JSON value per line, flushed as written. */
export function startNdjson(res: ServerResponse): void {
  res.writeHead(200, {
    "content-type": "application/x-ndjson",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.flushHeaders();
}
