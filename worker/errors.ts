/**
 * The one error vocabulary of the API: every failure a client can see has a stable snake_case code
 * and a status from this exhaustive map. Routes throw `AppError`; `app.onError` renders it as
 * `{ "error": { "code", "message" } }`. Anything else is a bug and becomes a logged 500.
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const errorStatus = {
  invalid_json: 400,
  invalid_request: 400,
  invalid_cursor: 400,
  invalid_id: 400,
  invalid_path: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  forbidden_origin: 403,
  not_found: 404,
  chat_not_found: 404,
  message_not_found: 404,
  permission_not_found: 404,
  not_a_directory: 400,
  not_a_file: 400,
  token_not_found: 404,
  file_not_found: 404,
  method_not_allowed: 405,
  email_taken: 409,
  already_answered: 409,
  not_queued: 404,
  run_ended: 409,
  payload_too_large: 413,
  file_too_large: 413,
  upgrade_required: 426,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
  sandbox_unavailable: 502,
  // Schedules (worker/routes/schedules.ts).
  schedule_not_found: 404,
  invalid_cron: 400,
  invalid_timezone: 400,
  target_chat_deleted: 409,
  schedule_limit_reached: 409,
  // Users' own model keys (worker/routes/settings.ts).
  encryption_unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof errorStatus;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: ContentfulStatusCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.status = errorStatus[code];
    this.details = details;
  }
}

export type ErrorBody = { error: { code: ErrorCode; message: string; details?: unknown } };

export function errorBody(code: ErrorCode, message: string, details?: unknown): ErrorBody {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}
