/**
 * The sandbox provider over HTTP, per sandbox/PROTOCOL.md (v1). The run engine gets one from the
 * Worker's configuration. Every response is validated before it is believed: a call either returns
 * protocol-shaped data or throws a `ProviderError` (or the caller's abort reason), never raw JSON.
 */
import { z } from "zod";
import {
  type FileDownload,
  type FileListing,
  type PermissionAnswer,
  type ProviderCapabilities,
  ProviderError,
  type ProviderRecord,
  providerPassThroughCodes,
  type SandboxProvider,
  type StartedRun,
  type StartRunInput,
} from "./provider";

export interface HttpProviderOptions {
  /** e.g. `https://sandbox.example.com`; the `/v1/...` paths are appended. */
  baseUrl: string;
  token: string;
  fetch?: typeof fetch;
  /** Per call: the whole exchange for JSON calls, the response headers for streams. Default 15000. */
  timeoutMs?: number;
  /** Longest NDJSON line accepted, in UTF-16 code units. Default 32 Mi. */
  maxLineLength?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_LINE = 32 * 1024 * 1024;

// Response schemas: `z.object` so that fields a provider adds later do not break us.
const offsetSchema = z.number().int().positive();
const capabilitiesSchema = z.object({
  name: z.string(),
  version: z.string(),
  capabilities: z.object({
    agent: z.boolean(),
    permissions: z.boolean(),
    exec: z.boolean(),
    files: z.boolean(),
    resume: z.boolean(),
    userModelKey: z.boolean().optional(),
    serviceModelKey: z.boolean().optional(),
    usage: z.boolean().optional(),
  }),
  isolation: z.object({ kind: z.string() }).optional(),
});
const usageSchema = z.object({
  requests: z.number().int().nonnegative(),
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  cacheCreationInputTokens: z.number().int().nonnegative(),
  cacheReadInputTokens: z.number().int().nonnegative(),
});
const limitErrorSchema = z.object({ code: z.string(), message: z.string() });
const sandboxSchema = z.object({ id: z.string(), status: z.string(), createdAt: z.string() });
const startedRunSchema = z.object({ runId: z.string().min(1), sessionId: z.string().min(1) });
const cancelSchema = z.object({ status: z.enum(["running", "exited"]) });
const fileListingSchema = z.object({
  path: z.string(),
  entries: z.array(
    z.object({
      name: z.string(),
      type: z.enum(["file", "dir", "other"]),
      size: z.number().nonnegative(),
      modifiedAt: z.string(),
    }),
  ),
});
const recordSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("agent"), offset: offsetSchema, data: z.record(z.string(), z.unknown()) }),
  z.object({ type: z.literal("stderr"), offset: offsetSchema, text: z.string() }),
  z.object({
    type: z.literal("exit"),
    offset: offsetSchema,
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    cancelled: z.boolean(),
    usage: usageSchema.nullable().optional(),
    error: limitErrorSchema.optional(),
  }),
  z.object({ type: z.literal("heartbeat"), at: z.number() }),
]);
const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string().optional() }),
});

const passThrough: ReadonlySet<string> = new Set(providerPassThroughCodes);

/** Arms the per-call timeout; `clear()` once the part of the exchange it bounds is over. */
interface Deadline {
  signal: AbortSignal;
  timedOut: () => boolean;
  clear: () => void;
}

function startDeadline(ms: number, caller: AbortSignal | undefined): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`timed out after ${ms} ms`, "TimeoutError")), ms);
  return {
    signal: caller ? AbortSignal.any([controller.signal, caller]) : controller.signal,
    timedOut: () => controller.signal.aborted,
    clear: () => clearTimeout(timer),
  };
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause: unknown = err.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${err.message} (${typeof code === "string" ? code : cause.message})`;
  }
  return err.message;
}

function protocolError(what: string, detail: string, status: number | null = null): ProviderError {
  return new ProviderError("provider_protocol", `${what}: ${detail}`, { status });
}

function zodDetail(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
    .join("; ");
}

/** Maps a transport failure to what the caller should see: its own abort reason, a timeout, or unreachable. */
function transportFailure(
  err: unknown,
  what: string,
  deadline: Deadline,
  caller: AbortSignal | undefined,
  ms: number,
): unknown {
  if (err instanceof ProviderError) return err;
  if (caller?.aborted) return caller.reason;
  if (deadline.timedOut()) {
    return new ProviderError("provider_timeout", `${what}: no response within ${ms} ms`, { cause: err });
  }
  return new ProviderError("provider_unreachable", `${what}: ${describe(err)}`, { cause: err });
}

async function errorFromResponse(res: Response, what: string): Promise<ProviderError> {
  const status = res.status;
  let body: z.infer<typeof errorBodySchema> | null = null;
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(await res.text()));
    if (parsed.success) body = parsed.data;
  } catch {
    // An unreadable error body is judged by its status alone.
  }
  const providerCode = body?.error.code;
  const message = `${what}: ${status} ${body?.error.message ?? providerCode ?? res.statusText}`.trim();
  if (status === 401 || status === 403) {
    return new ProviderError("provider_unauthorized", message, { status, providerCode });
  }
  if (status >= 500 || status === 429) {
    return new ProviderError("provider_error", message, { status, providerCode });
  }
  if (status >= 400 && status < 500 && providerCode !== undefined) {
    if (passThrough.has(providerCode)) {
      return new ProviderError(providerCode as (typeof providerPassThroughCodes)[number], message, { status });
    }
    return new ProviderError("provider_error", message, { status, providerCode });
  }
  return protocolError(what, `unexpected status ${status}`, status);
}

/** Throws the fitting error unless the response has one of the expected statuses. */
async function expectStatus(res: Response, expect: number | readonly number[], what: string): Promise<void> {
  if (typeof expect === "number" ? res.status === expect : expect.includes(res.status)) return;
  if (res.status >= 400) throw await errorFromResponse(res, what);
  discard(res);
  throw protocolError(what, `unexpected status ${res.status}`, res.status);
}

/** Releases a response body we will not read, so the connection is not held. */
function discard(res: Response): void {
  res.body?.cancel().catch(() => {});
}

/**
 * Splits a byte stream into parsed NDJSON values. Handles lines split across chunks, multi-byte
 * characters split across chunks, `\r\n`, blank lines and a last line without a newline.
 */
async function* ndjson(
  body: ReadableStream<Uint8Array>,
  what: string,
  maxLine: number,
  onReadError: (err: unknown) => unknown,
): AsyncGenerator<unknown> {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  let buffer = "";
  let done = false;
  const parseLine = (line: string): unknown => {
    try {
      return JSON.parse(line);
    } catch {
      throw protocolError(what, `malformed NDJSON line: ${line.slice(0, 120)}`);
    }
  };
  try {
    while (!done) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        throw onReadError(err);
      }
      try {
        buffer += chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
      } catch {
        throw protocolError(what, "invalid UTF-8 in stream");
      }
      done = chunk.done;
      let start = 0;
      for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n", start)) {
        const line = buffer.slice(start, nl).trim();
        start = nl + 1;
        if (line !== "") yield parseLine(line);
      }
      buffer = buffer.slice(start);
      if (buffer.length > maxLine) throw protocolError(what, `NDJSON line longer than ${maxLine} characters`);
    }
    const last = buffer.trim();
    if (last !== "") yield parseLine(last);
  } finally {
    if (!done) reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

export function createHttpProvider(options: HttpProviderOptions): SandboxProvider {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxLine = options.maxLineLength ?? DEFAULT_MAX_LINE;

  const sandboxPath = (sandboxId: string) => `/v1/sandboxes/${encodeURIComponent(sandboxId)}`;
  const runPath = (sandboxId: string, runId: string) => `${sandboxPath(sandboxId)}/runs/${encodeURIComponent(runId)}`;

  interface Call {
    method: string;
    path: string;
    query?: Record<string, string>;
    json?: unknown;
    signal: AbortSignal | undefined;
  }

  /** Sends a request and waits for its headers; the deadline stays armed for the caller to clear. */
  async function open(call: Call, what: string): Promise<{ res: Response; deadline: Deadline }> {
    const url = new URL(base + call.path);
    for (const [key, value] of Object.entries(call.query ?? {})) url.searchParams.set(key, value);
    const headers: Record<string, string> = { authorization: `Bearer ${options.token}` };
    let body: string | undefined;
    if (call.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(call.json);
    }
    const deadline = startDeadline(timeoutMs, call.signal);
    const init: RequestInit = { method: call.method, headers, body, signal: deadline.signal, redirect: "manual" };
    try {
      return { res: await doFetch(url.toString(), init), deadline };
    } catch (err) {
      deadline.clear();
      throw transportFailure(err, what, deadline, call.signal, timeoutMs);
    }
  }

  /** A JSON exchange bounded as a whole by the deadline; returns the validated body. */
  async function json<T>(
    call: Call,
    expect: readonly number[],
    schema: z.ZodType<T>,
  ): Promise<{ status: number; data: T }> {
    const what = `${call.method} ${call.path}`;
    const { res, deadline } = await open(call, what);
    try {
      await expectStatus(res, expect, what);
      const text = await res.text();
      let value: unknown;
      try {
        value = res.status === 204 ? {} : JSON.parse(text);
      } catch {
        throw protocolError(what, `response is not JSON: ${text.slice(0, 120)}`, res.status);
      }
      const parsed = schema.safeParse(value);
      if (!parsed.success) throw protocolError(what, `unexpected response: ${zodDetail(parsed.error)}`, res.status);
      return { status: res.status, data: parsed.data };
    } catch (err) {
      throw transportFailure(err, what, deadline, call.signal, timeoutMs);
    } finally {
      deadline.clear();
    }
  }

  /** Opens a long-lived NDJSON response: the deadline bounds the headers only. */
  async function* stream<T>(call: Call, schema: z.ZodType<T>): AsyncGenerator<T> {
    const what = `${call.method} ${call.path}`;
    const { res, deadline } = await open(call, what);
    try {
      await expectStatus(res, 200, what);
      if (!res.body) throw protocolError(what, "response has no body", res.status);
    } catch (err) {
      throw transportFailure(err, what, deadline, call.signal, timeoutMs);
    } finally {
      deadline.clear();
    }
    const body = res.body;
    const readError = (err: unknown): unknown => {
      if (call.signal?.aborted) return call.signal.reason;
      return new ProviderError("provider_unreachable", `${what}: stream broke: ${describe(err)}`, { cause: err });
    };
    for await (const value of ndjson(body, what, maxLine, readError)) {
      const parsed = schema.safeParse(value);
      if (!parsed.success) throw protocolError(what, `unexpected record: ${zodDetail(parsed.error)}`);
      yield parsed.data;
    }
  }

  const empty = z.object({});

  return {
    async capabilities(signal) {
      const { data } = await json({ method: "GET", path: "/v1/capabilities", signal }, [200], capabilitiesSchema);
      return data satisfies ProviderCapabilities;
    },

    async ensureSandbox(sandboxId, signal) {
      const { status, data } = await json(
        { method: "PUT", path: sandboxPath(sandboxId), json: {}, signal },
        [200, 201],
        sandboxSchema,
      );
      return { ...data, created: status === 201 };
    },

    async deleteSandbox(sandboxId, signal) {
      try {
        await json({ method: "DELETE", path: sandboxPath(sandboxId), signal }, [204], empty);
      } catch (err) {
        if (err instanceof ProviderError && err.code === "sandbox_not_found") return;
        throw err;
      }
    },

    async startRun(sandboxId: string, input: StartRunInput, signal?: AbortSignal): Promise<StartedRun> {
      const { status, data } = await json(
        {
          method: "POST",
          path: `${sandboxPath(sandboxId)}/runs`,
          json: {
            prompt: input.prompt,
            model: input.model,
            permissionMode: input.permissionMode,
            ...(input.sessionId === undefined ? {} : { sessionId: input.sessionId }),
            idempotencyKey: input.idempotencyKey,
            ...(input.modelKey === undefined ? {} : { modelKey: input.modelKey }),
          },
          signal,
        },
        [200, 201],
        startedRunSchema,
      );
      return { runId: data.runId, sessionId: data.sessionId, created: status === 201 };
    },

    async *readRunEvents(sandboxId, runId, after, signal): AsyncGenerator<ProviderRecord> {
      if (!Number.isSafeInteger(after) || after < 0)
        throw new RangeError(`after must be an integer >= 0, got ${after}`);
      const path = `${runPath(sandboxId, runId)}/events`;
      let last = after;
      for await (const record of stream(
        { method: "GET", path, query: { after: String(after) }, signal },
        recordSchema,
      )) {
        if (record.type !== "heartbeat") {
          if (record.offset !== last + 1) {
            throw protocolError(`GET ${path}`, `offset ${record.offset} does not follow ${last}`);
          }
          last = record.offset;
        }
        yield record;
        if (record.type === "exit") return;
      }
    },

    async sendPermission(sandboxId: string, runId: string, answer: PermissionAnswer, signal?: AbortSignal) {
      await json(
        {
          method: "POST",
          path: `${runPath(sandboxId, runId)}/input`,
          json: {
            type: "permission",
            requestId: answer.requestId,
            decision: answer.decision,
            ...(answer.message === undefined ? {} : { message: answer.message }),
          },
          signal,
        },
        [202],
        empty,
      );
    },

    async cancelRun(sandboxId, runId, signal) {
      const { data } = await json(
        { method: "POST", path: `${runPath(sandboxId, runId)}/cancel`, json: {}, signal },
        [202],
        cancelSchema,
      );
      return data;
    },

    async cancelRunByKey(sandboxId, idempotencyKey, signal) {
      try {
        await json(
          {
            method: "POST",
            path: `${sandboxPath(sandboxId)}/runs/by-key/${encodeURIComponent(idempotencyKey)}/cancel`,
            json: {},
            signal,
          },
          [202],
          cancelSchema,
        );
      } catch (err) {
        if (err instanceof ProviderError && err.code === "sandbox_not_found") return;
        throw err;
      }
    },

    async listFiles(sandboxId, path, signal): Promise<FileListing> {
      const { data } = await json(
        { method: "GET", path: `${sandboxPath(sandboxId)}/files`, query: { path }, signal },
        [200],
        fileListingSchema,
      );
      return data;
    },

    async readFile(sandboxId, path, signal): Promise<FileDownload> {
      const call: Call = { method: "GET", path: `${sandboxPath(sandboxId)}/files/content`, query: { path }, signal };
      const what = `GET ${call.path}`;
      const { res, deadline } = await open(call, what);
      try {
        await expectStatus(res, 200, what);
        const size = Number(res.headers.get("content-length") ?? Number.NaN);
        if (!res.body || !Number.isSafeInteger(size) || size < 0) {
          discard(res);
          throw protocolError(what, "missing body or invalid content-length", res.status);
        }
        return { body: res.body, size };
      } catch (err) {
        throw transportFailure(err, what, deadline, signal, timeoutMs);
      } finally {
        deadline.clear();
      }
    },
  };
}
