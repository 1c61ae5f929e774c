/**
 * The sandbox provider interface: what the chat's run engine and the files routes need from a
 * remote sandbox service (capabilities, sandboxes, agent runs and their resumable record stream,
 * permission answers, cancellation, files). Any provider plugs in behind it; `http-provider.ts`
 * speaks sandbox/PROTOCOL.md. Every failure is a `ProviderError`.
 */

export type PermissionMode = "default" | "acceptEdits" | "bypassPermissions" | "plan";

export interface ProviderCapabilities {
  name: string;
  version: string;
  capabilities: {
    agent: boolean;
    permissions: boolean;
    exec: boolean;
    files: boolean;
    /** Records survive reconnects and provider restarts: `readRunEvents(after)` may resume anywhere. */
    resume: boolean;
    /** A run may bring the user's own model key (`StartRunInput.modelKey`). Absent: not supported. */
    userModelKey?: boolean;
    /** The provider has a model key of its own: runs without a user key can start. */
    serviceModelKey?: boolean;
    /** Exit records and run views carry the tokens the provider relayed (`RunUsage`). */
    usage?: boolean;
  };
  /** The boundary sandboxes run in (`"none"`: no isolation, development only). */
  isolation?: { kind: string };
}

/** Tokens the provider relayed to the model for one run, as the model reported them. */
export interface RunUsage {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
}

/** Why the provider ended a run: its sandbox broke a limit (`process_limit`, `memory_limit`, ...). */
export interface RunLimitError {
  code: string;
  message: string;
}

export interface SandboxInfo {
  id: string;
  status: string;
  /** ISO 8601. */
  createdAt: string;
}

export interface StartRunInput {
  prompt: string;
  model: string;
  permissionMode: PermissionMode;
  /** The agent session to continue; absent starts a new session. */
  sessionId?: string;
  /** The same key on the same sandbox returns the existing run instead of starting another. */
  idempotencyKey: string;
  /**
   * The user's own model API key, for this run only; absent uses the provider's key. A secret: it
   * goes into the run request and nowhere else (no event, log, storage row or error message).
   */
  modelKey?: string;
}

export interface StartedRun {
  runId: string;
  sessionId: string;
  /** False when the idempotency key matched an existing run. */
  created: boolean;
}

/**
 * One record of a run's stream. Offsets start at 1 and grow by 1; a heartbeat has none. `exit` is
 * always the last record of a run.
 */
export type ProviderRecord =
  | { type: "agent"; offset: number; data: Record<string, unknown> }
  | { type: "stderr"; offset: number; text: string }
  | {
      type: "exit";
      offset: number;
      exitCode: number | null;
      signal: string | null;
      cancelled: boolean;
      /** Tokens the provider relayed for the run (absent from providers without `usage`). */
      usage?: RunUsage | null;
      /** Present when the provider ended the run because its sandbox broke a limit. */
      error?: RunLimitError;
    }
  | { type: "heartbeat"; at: number };

export interface PermissionAnswer {
  requestId: string;
  decision: "allow" | "deny";
  message?: string;
}

export interface FileEntry {
  name: string;
  type: "file" | "dir" | "other";
  size: number;
  modifiedAt: string;
}

export interface FileListing {
  path: string;
  entries: FileEntry[];
}

export interface FileDownload {
  body: ReadableStream<Uint8Array>;
  size: number;
}

/**
 * Every method takes an optional caller signal; aborting it rejects with the signal's reason (as
 * `fetch` does), not with a `ProviderError`. Streams (`readRunEvents`, `readFile`'s body) are
 * bounded only until their response starts; the caller watches their silence.
 */
export interface SandboxProvider {
  capabilities(signal?: AbortSignal): Promise<ProviderCapabilities>;
  /** Creates the sandbox or returns the existing one (idempotent: the caller picks the id). */
  ensureSandbox(sandboxId: string, signal?: AbortSignal): Promise<SandboxInfo & { created: boolean }>;
  /** Cancels its runs and removes its workspace; an unknown sandbox counts as deleted. */
  deleteSandbox(sandboxId: string, signal?: AbortSignal): Promise<void>;
  /** `run_in_progress` when another run is active, `sandbox_not_found` when the sandbox is gone. */
  startRun(sandboxId: string, input: StartRunInput, signal?: AbortSignal): Promise<StartedRun>;
  /**
   * Every record with offset > `after`, then live ones. Ends after the `exit` record, or earlier
   * when the connection closes; in that case reconnect with the last offset seen. Throws
   * `provider_protocol` on a malformed line or an offset gap.
   */
  readRunEvents(sandboxId: string, runId: string, after: number, signal?: AbortSignal): AsyncIterable<ProviderRecord>;
  /** `not_pending` when already answered (or never asked), `run_exited` when the run is over. */
  sendPermission(sandboxId: string, runId: string, answer: PermissionAnswer, signal?: AbortSignal): Promise<void>;
  /** A no-op on an exited run; the run's `exit` record then says `cancelled: true`. */
  cancelRun(sandboxId: string, runId: string, signal?: AbortSignal): Promise<{ status: "running" | "exited" }>;
  /**
   * Cancels the run started with this idempotency key, for a caller that never learned its id (a
   * start whose answer was lost). A key not seen yet is remembered as cancelled: a start with it
   * that arrives later gets an exited, cancelled run. An unknown sandbox has nothing to cancel.
   */
  cancelRunByKey(sandboxId: string, idempotencyKey: string, signal?: AbortSignal): Promise<void>;
  listFiles(sandboxId: string, path: string, signal?: AbortSignal): Promise<FileListing>;
  readFile(sandboxId: string, path: string, signal?: AbortSignal): Promise<FileDownload>;
}

/** Codes the provider itself answers with (4xx), passed through unchanged. */
export const providerPassThroughCodes = [
  "sandbox_not_found",
  "run_not_found",
  "run_in_progress",
  "not_pending",
  "run_exited",
  "invalid_path",
  "not_found",
  "not_a_directory",
  "not_a_file",
  "file_too_large",
  "invalid_request",
  "invalid_id",
  /** The run brought no model key and the provider has none of its own. */
  "model_key_missing",
] as const;

export type ProviderErrorCode =
  /** No connection (DNS, refused, reset) or the connection broke mid-response. Retryable. */
  | "provider_unreachable"
  /** No response headers within the call's timeout. Retryable. */
  | "provider_timeout"
  /** 401/403: our token is wrong. Not retryable: the configuration must change. */
  | "provider_unauthorized"
  /** 5xx, 429, or a 4xx with a code this client does not know. Retryable for 5xx and 429. */
  | "provider_error"
  /** The response did not match the protocol (status, body, NDJSON line, offset gap). */
  | "provider_protocol"
  | (typeof providerPassThroughCodes)[number];

export class ProviderError extends Error {
  override readonly name = "ProviderError";
  readonly code: ProviderErrorCode;
  /** The provider's HTTP status, null when no response arrived or the fault was mid-stream. */
  readonly status: number | null;
  readonly retryable: boolean;
  /** The provider's own error code when it differs from `code` (an unknown 4xx code, 401's `unauthorized`). */
  readonly providerCode: string | undefined;

  constructor(
    code: ProviderErrorCode,
    message: string,
    opts: { status?: number | null; retryable?: boolean; providerCode?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.status = opts.status ?? null;
    this.retryable = opts.retryable ?? defaultRetryable(code, this.status);
    this.providerCode = opts.providerCode;
  }
}

function defaultRetryable(code: ProviderErrorCode, status: number | null): boolean {
  if (code === "provider_unreachable" || code === "provider_timeout") return true;
  if (code === "provider_error") return status === null || status >= 500 || status === 429;
  return false;
}
