/**
 * The one way the client talks HTTP to the API: JSON in, JSON out validated with zod, every
 * failure an `ApiError` carrying the server's stable code and plain message (429s say when to try
 * again). A 401 anywhere tells the auth model that the session is gone.
 */
import type { z } from "zod";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called whenever the API answers 401 (the session expired or was revoked elsewhere). */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export type RequestOptions = { body?: unknown; signal?: AbortSignal; quiet401?: boolean };

function errorOf(status: number, body: unknown, retryAfter: string | null): ApiError {
  const error =
    typeof body === "object" && body !== null && "error" in body && typeof body.error === "object" && body.error
      ? (body.error as { code?: unknown; message?: unknown })
      : {};
  const code = typeof error.code === "string" ? error.code : `http_${status}`;
  let message = typeof error.message === "string" ? error.message : `The server answered ${status}.`;
  const details = (error as { details?: unknown }).details;
  if (Array.isArray(details)) {
    const parts = details.flatMap((d: unknown) =>
      typeof d === "object" && d !== null && "message" in d && typeof d.message === "string"
        ? [`${"path" in d && typeof d.path === "string" && d.path ? `${d.path}: ` : ""}${d.message}`]
        : [],
    );
    if (parts.length > 0) message = `${message.replace(/\.$/, "")}: ${parts.join("; ")}`;
  }
  if (status === 429) {
    const seconds = Number(retryAfter);
    message = `${message}. Try again ${Number.isFinite(seconds) && seconds > 0 ? `in ${Math.ceil(seconds)} s` : "in a minute"}.`;
  }
  return new ApiError(status, code, message);
}

/** Sends one request; resolves with the parsed body (or null for 204), rejects with an ApiError. */
export async function request<S extends z.ZodType>(
  method: string,
  path: string,
  schema: S,
  options: RequestOptions = {},
): Promise<z.output<S>> {
  const init: RequestInit = { method, credentials: "same-origin", signal: options.signal ?? null };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    init.headers = { "content-type": "application/json" };
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (error: unknown) {
    if (options.signal?.aborted) throw error;
    throw new ApiError(0, "network_error", "Cannot reach the server. Check your connection and try again.");
  }
  const text = await res.text().catch(() => "");
  let body: unknown = null;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!res.ok) {
    if (res.status === 401 && !options.quiet401) for (const listener of unauthorizedListeners) listener();
    throw errorOf(res.status, body, res.headers.get("retry-after"));
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    console.error("unexpected API response", method, path, parsed.error);
    throw new ApiError(res.status, "bad_response", "The server sent an answer this page does not understand.");
  }
  return parsed.data;
}

/** A readable message for anything thrown by an action. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
