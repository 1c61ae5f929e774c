/**
 * Small validators for request input (ids, run bodies, exec bodies). The provider is a separate
 * deployable with no dependencies, so these are hand-written; each failure is `400` with a stable code.
 */
import { ApiError } from "./http.ts";

const ID = /^[A-Za-z0-9_-]{1,100}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const PERMISSION_MODES = ["default", "acceptEdits", "bypassPermissions", "plan"] as const;
export type PermissionMode = (typeof PERMISSION_MODES)[number];

export function checkId(value: string, what: string): string {
  if (!ID.test(value)) throw new ApiError(400, "invalid_id", `${what} must match ${ID.source}`);
  return value;
}

function invalid(message: string): ApiError {
  return new ApiError(400, "invalid_request", message);
}

function string(body: Record<string, unknown>, key: string, min: number, max: number): string {
  const v = body[key];
  if (typeof v !== "string" || v.length < min || v.length > max) {
    throw invalid(`${key} must be a string of ${min}..${max} characters`);
  }
  return v;
}

export type StartRunInput = {
  prompt: string;
  model: string;
  permissionMode: PermissionMode;
  sessionId: string | null;
  idempotencyKey: string;
  /** The user's own model API key for this run only; null uses the provider's. Never stored or logged. */
  modelKey: string | null;
};

/** Printable ASCII without spaces: what an HTTP header value can carry as is. */
const HEADER_SAFE = /^[\x21-\x7e]{8,1000}$/;

export function parseStartRun(body: Record<string, unknown>): StartRunInput {
  const prompt = string(body, "prompt", 1, 200_000);
  const model = string(body, "model", 1, 200);
  const mode = body.permissionMode;
  if (typeof mode !== "string" || !(PERMISSION_MODES as readonly string[]).includes(mode)) {
    throw invalid(`permissionMode must be one of ${PERMISSION_MODES.join(", ")}`);
  }
  let sessionId: string | null = null;
  if (body.sessionId !== undefined && body.sessionId !== null) {
    if (typeof body.sessionId !== "string" || !UUID.test(body.sessionId)) throw invalid("sessionId must be a UUID");
    sessionId = body.sessionId.toLowerCase();
  }
  const idempotencyKey = string(body, "idempotencyKey", 1, 100);
  let modelKey: string | null = null;
  if (body.modelKey !== undefined && body.modelKey !== null) {
    // The message never quotes the value: it is a secret.
    if (typeof body.modelKey !== "string" || !HEADER_SAFE.test(body.modelKey)) {
      throw invalid("modelKey must be 8..1000 printable ASCII characters without spaces");
    }
    modelKey = body.modelKey;
  }
  return { prompt, model, permissionMode: mode as PermissionMode, sessionId, idempotencyKey, modelKey };
}

export type PermissionInput = { requestId: string; decision: "allow" | "deny"; message: string | null };

export function parseInput(body: Record<string, unknown>): PermissionInput {
  if (body.type !== "permission") throw invalid(`type must be "permission"`);
  const requestId = string(body, "requestId", 1, 200);
  if (body.decision !== "allow" && body.decision !== "deny") throw invalid(`decision must be "allow" or "deny"`);
  let message: string | null = null;
  if (body.message !== undefined && body.message !== null) message = string(body, "message", 0, 10_000);
  return { requestId, decision: body.decision, message };
}

export type ExecInput = { command: string; timeoutMs: number };

export function parseExec(body: Record<string, unknown>): ExecInput {
  const command = string(body, "command", 1, 100_000);
  const t = body.timeoutMs;
  if (t !== undefined && (typeof t !== "number" || !Number.isInteger(t) || t < 1 || t > 600_000)) {
    throw invalid("timeoutMs must be an integer in 1..600000");
  }
  return { command, timeoutMs: typeof t === "number" ? t : 60_000 };
}

/** `after=` of the events route: a non-negative integer, default 0. */
export function parseAfter(raw: string | null): number {
  if (raw === null || raw === "") return 0;
  if (!/^\d{1,15}$/.test(raw)) throw invalid("after must be a non-negative integer");
  return Number(raw);
}
