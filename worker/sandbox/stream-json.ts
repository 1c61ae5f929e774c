/**
 * Maps Claude Code's stream-json lines (the `data` of a run's agent records) to event drafts for
 * one assistant message, plus the facts the run engine needs (session id, the final result). Pure
 * and stateful per run; it never throws on input and never emits a terminal event: the engine does.
 * It passes texts, inputs and outputs on whole: the chat's writer fits every event to its size limit.
 */
import { z } from "zod";
import type { EventDraft } from "../protocol/events";

/** What the agent's `result` line says; `classifyResult` turns it into the run's outcome. */
export interface AgentResult {
  isError: boolean;
  subtype: string;
  /** The final answer, or the error text when `isError`. */
  text?: string;
  terminalReason?: string;
  numTurns?: number;
  durationMs?: number;
  costUsd?: number;
  /** The model API's HTTP status when the run failed on it (404 for an unknown model). */
  apiErrorStatus?: number;
  /** The model API's error type, e.g. `not_found_error`. */
  apiErrorType?: string;
  /** The CLI's own error kind, e.g. `connection_failed`. */
  apiError?: string;
  errors?: string[];
  sessionId?: string;
}

export interface MapOutcome {
  drafts: EventDraft[];
  /** The agent session (from `system/init` or `result`): continue it with the next run. */
  sessionId?: string;
  /** Present on the `result` line: the run's turn is over. */
  result?: AgentResult;
}

export interface AgentMapperOptions {
  /** The assistant message every draft belongs to. */
  messageId: string;
}

export interface AgentMapper {
  map(line: unknown): MapOutcome;
  /** How many lines (or content blocks) of a known type were malformed and dropped. */
  readonly ignored: number;
}

// Line schemas: loose, since the CLI adds fields freely; only what we read is required.
const lineHead = z.looseObject({ type: z.string() });
const parentSchema = z.string().nullish();

const systemLine = z.looseObject({
  subtype: z.string(),
  session_id: z.string().optional(),
});

const streamEventLine = z.looseObject({
  event: z.looseObject({ type: z.string() }),
  parent_tool_use_id: parentSchema,
  api_message_id: z.string().optional(),
});
const messageStartEvent = z.looseObject({ message: z.looseObject({ id: z.string() }) });
const blockStartEvent = z.looseObject({
  index: z.number().int(),
  content_block: z.looseObject({ type: z.string(), text: z.string().optional(), thinking: z.string().optional() }),
});
const blockDeltaEvent = z.looseObject({
  index: z.number().int(),
  delta: z.looseObject({ type: z.string(), text: z.string().optional(), thinking: z.string().optional() }),
});

const assistantLine = z.looseObject({
  message: z.looseObject({ id: z.string().optional(), content: z.array(z.unknown()) }),
  parent_tool_use_id: parentSchema,
});
const blockHead = z.looseObject({ type: z.string() });
const textBlock = z.looseObject({ text: z.string() });
const thinkingBlock = z.looseObject({ thinking: z.string() });
const toolUseBlock = z.looseObject({ id: z.string().min(1), name: z.string(), input: z.unknown() });

const userLine = z.looseObject({
  message: z.looseObject({ content: z.union([z.string(), z.array(z.unknown())]) }),
  parent_tool_use_id: parentSchema,
});
const toolResultBlock = z.looseObject({
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(z.unknown())]).nullish(),
  is_error: z.boolean().nullish(),
});

const controlRequestLine = z.looseObject({
  request_id: z.string().min(1),
  request: z.looseObject({ subtype: z.string() }),
});
const canUseToolRequest = z.looseObject({
  tool_name: z.string(),
  input: z.unknown(),
  tool_use_id: z.string().optional(),
});

const tokenCount = z.number().nonnegative().nullish();
const resultLine = z.looseObject({
  subtype: z.string(),
  is_error: z.boolean(),
  result: z.string().optional(),
  terminal_reason: z.string().optional(),
  num_turns: z.number().int().nonnegative().optional(),
  duration_ms: z.number().nonnegative().optional(),
  total_cost_usd: z.number().nonnegative().optional(),
  session_id: z.string().optional(),
  api_error_status: z.number().nullish(),
  api_error_type: z.string().nullish(),
  api_error: z.string().nullish(),
  errors: z.array(z.string()).optional(),
  usage: z
    .looseObject({
      input_tokens: tokenCount,
      output_tokens: tokenCount,
      cache_read_input_tokens: tokenCount,
      cache_creation_input_tokens: tokenCount,
    })
    .nullish(),
  modelUsage: z
    .record(
      z.string(),
      z.looseObject({
        inputTokens: tokenCount,
        outputTokens: tokenCount,
        cacheReadInputTokens: tokenCount,
        cacheCreationInputTokens: tokenCount,
      }),
    )
    .nullish(),
});

/** A content block seen in the partial stream, kept until its `assistant` line arrives. */
interface StreamedBlock {
  index: number;
  kind: string;
  text: string;
  consumed: boolean;
}

export function createAgentMapper(options: AgentMapperOptions): AgentMapper {
  const messageId = options.messageId;

  /** Streamed blocks per API message id; the `assistant` line of a block is matched against them. */
  const streamed = new Map<string, StreamedBlock[]>();
  let currentApiMessage = "";
  const toolsStarted = new Set<string>();
  const toolsEnded = new Set<string>();
  const permissionsAsked = new Set<string>();
  let ignored = 0;

  /** A line of a known type that is malformed: dropped and counted. */
  const drop = (): MapOutcome => {
    ignored += 1;
    return { drafts: [] };
  };

  function textDraft(kind: "text" | "thinking", text: string): EventDraft {
    return kind === "text"
      ? { kind: "text_delta", messageId, payload: { text } }
      : { kind: "thinking_delta", messageId, payload: { text } };
  }

  function onStreamEvent(line: Record<string, unknown>): MapOutcome {
    const parsed = streamEventLine.safeParse(line);
    if (!parsed.success) return drop();
    // A subagent's inner conversation; its parent tool call is shown instead.
    if (parsed.data.parent_tool_use_id) return { drafts: [] };
    const event = parsed.data.event;
    if (event.type === "message_start") {
      const start = messageStartEvent.safeParse(event);
      if (!start.success) return drop();
      currentApiMessage = start.data.message.id;
      return { drafts: [] };
    }
    const key = parsed.data.api_message_id ?? currentApiMessage;
    const blocks = streamed.get(key) ?? [];
    streamed.set(key, blocks);
    if (event.type === "content_block_start") {
      const start = blockStartEvent.safeParse(event);
      if (!start.success) return drop();
      const { type, text, thinking } = start.data.content_block;
      const initial = (type === "text" ? text : type === "thinking" ? thinking : undefined) ?? "";
      blocks.push({ index: start.data.index, kind: type, text: initial, consumed: false });
      return { drafts: initial === "" ? [] : [textDraft(type === "text" ? "text" : "thinking", initial)] };
    }
    if (event.type === "content_block_delta") {
      const delta = blockDeltaEvent.safeParse(event);
      if (!delta.success) return drop();
      const { type, text, thinking } = delta.data.delta;
      const kind = type === "text_delta" ? "text" : type === "thinking_delta" ? "thinking" : null;
      if (kind === null) return { drafts: [] }; // input_json_delta, signature_delta: the assistant line has them whole.
      const piece = kind === "text" ? text : thinking;
      if (piece === undefined) return drop();
      let block = blocks.findLast((b) => b.index === delta.data.index && !b.consumed);
      if (!block) {
        block = { index: delta.data.index, kind, text: "", consumed: false };
        blocks.push(block);
      }
      block.text += piece;
      return { drafts: piece === "" ? [] : [textDraft(kind, piece)] };
    }
    return { drafts: [] };
  }

  /** Text or thinking of a finished block: only what the partial stream has not already shown. */
  function unstreamedPart(key: string, kind: "text" | "thinking", full: string): string {
    const block = streamed.get(key)?.find((b) => b.kind === kind && !b.consumed);
    if (!block) return full;
    block.consumed = true;
    const shown = block.text;
    block.text = "";
    return full.startsWith(shown) ? full.slice(shown.length) : "";
  }

  function onAssistant(line: Record<string, unknown>): MapOutcome {
    const parsed = assistantLine.safeParse(line);
    if (!parsed.success) return drop();
    if (parsed.data.parent_tool_use_id) return { drafts: [] };
    const key = parsed.data.message.id ?? currentApiMessage;
    const drafts: EventDraft[] = [];
    let bad = 0;
    for (const raw of parsed.data.message.content) {
      const head = blockHead.safeParse(raw);
      if (!head.success) {
        bad += 1;
        continue;
      }
      if (head.data.type === "text" || head.data.type === "thinking") {
        const kind = head.data.type;
        const full = blockText(kind, raw);
        if (full === null) {
          bad += 1;
          continue;
        }
        const rest = unstreamedPart(key, kind, full);
        if (rest !== "") drafts.push(textDraft(kind, rest));
      } else if (head.data.type === "tool_use") {
        const block = toolUseBlock.safeParse(raw);
        if (!block.success) {
          bad += 1;
          continue;
        }
        if (toolsStarted.has(block.data.id)) continue;
        toolsStarted.add(block.data.id);
        drafts.push({
          kind: "tool_started",
          messageId,
          payload: { toolUseId: block.data.id, name: block.data.name, input: block.data.input },
        });
      }
    }
    ignored += bad;
    return { drafts };
  }

  function onUser(line: Record<string, unknown>): MapOutcome {
    const parsed = userLine.safeParse(line);
    if (!parsed.success) return drop();
    if (parsed.data.parent_tool_use_id) return { drafts: [] };
    const content = parsed.data.message.content;
    if (typeof content === "string") return { drafts: [] }; // the prompt echoed back
    const drafts: EventDraft[] = [];
    let bad = 0;
    for (const raw of content) {
      const head = blockHead.safeParse(raw);
      if (!head.success) {
        bad += 1;
        continue;
      }
      if (head.data.type !== "tool_result") continue;
      const block = toolResultBlock.safeParse(raw);
      if (!block.success) {
        bad += 1;
        continue;
      }
      const toolUseId = block.data.tool_use_id;
      if (toolsEnded.has(toolUseId)) continue;
      toolsEnded.add(toolUseId);
      const text = toolResultText(block.data.content);
      drafts.push(
        block.data.is_error
          ? { kind: "tool_failed", messageId, payload: { toolUseId, error: text } }
          : { kind: "tool_completed", messageId, payload: { toolUseId, output: text } },
      );
    }
    ignored += bad;
    return { drafts };
  }

  function onControlRequest(line: Record<string, unknown>): MapOutcome {
    const parsed = controlRequestLine.safeParse(line);
    if (!parsed.success) return drop();
    if (parsed.data.request.subtype !== "can_use_tool") return { drafts: [] };
    const request = canUseToolRequest.safeParse(parsed.data.request);
    if (!request.success) return drop();
    const requestId = parsed.data.request_id;
    if (permissionsAsked.has(requestId)) return { drafts: [] };
    permissionsAsked.add(requestId);
    const { tool_name: toolName, input, tool_use_id: toolUseId } = request.data;
    return {
      drafts: [
        {
          kind: "permission_requested",
          messageId,
          payload: { requestId, toolName, input, ...(toolUseId ? { toolUseId } : {}) },
        },
      ],
    };
  }

  function onResult(line: Record<string, unknown>): MapOutcome {
    const parsed = resultLine.safeParse(line);
    if (!parsed.success) return drop();
    const r = parsed.data;
    const result: AgentResult = { isError: r.is_error, subtype: r.subtype };
    if (r.result !== undefined && r.result !== "") result.text = r.result;
    if (r.terminal_reason !== undefined) result.terminalReason = r.terminal_reason;
    if (r.num_turns !== undefined) result.numTurns = r.num_turns;
    if (r.duration_ms !== undefined) result.durationMs = r.duration_ms;
    if (r.total_cost_usd !== undefined) result.costUsd = r.total_cost_usd;
    if (typeof r.api_error_status === "number") result.apiErrorStatus = r.api_error_status;
    if (r.api_error_type) result.apiErrorType = r.api_error_type;
    if (r.api_error) result.apiError = r.api_error;
    if (r.errors && r.errors.length > 0) result.errors = r.errors;
    if (r.session_id !== undefined) result.sessionId = r.session_id;
    const usage = usageDraft(r, messageId);
    return {
      drafts: usage ? [usage] : [],
      result,
      ...(r.session_id === undefined ? {} : { sessionId: r.session_id }),
    };
  }

  function onSystem(line: Record<string, unknown>): MapOutcome {
    const parsed = systemLine.safeParse(line);
    if (!parsed.success) return drop();
    const s = parsed.data;
    if (s.subtype === "init") {
      if (s.session_id === undefined) return drop();
      return { drafts: [], sessionId: s.session_id };
    }
    return { drafts: [] };
  }

  return {
    get ignored() {
      return ignored;
    },
    map(line: unknown): MapOutcome {
      const head = lineHead.safeParse(line);
      if (!head.success) return drop();
      const value = head.data;
      switch (value.type) {
        case "stream_event":
          return onStreamEvent(value);
        case "assistant":
          return onAssistant(value);
        case "user":
          return onUser(value);
        case "control_request":
          return onControlRequest(value);
        case "result":
          return onResult(value);
        case "system":
          return onSystem(value);
        default:
          return { drafts: [] };
      }
    },
  };
}

function blockText(kind: "text" | "thinking", raw: unknown): string | null {
  if (kind === "text") {
    const block = textBlock.safeParse(raw);
    return block.success ? block.data.text : null;
  }
  const block = thinkingBlock.safeParse(raw);
  return block.success ? block.data.thinking : null;
}

function usageDraft(r: z.infer<typeof resultLine>, messageId: string): EventDraft | null {
  // `modelUsage` also counts a turn that was interrupted mid-stream, where `usage` says 0.
  const perModel = Object.values(r.modelUsage ?? {});
  let tokens: { input: number; output: number; cacheRead: number; cacheCreation: number } | null = null;
  if (perModel.length > 0) {
    tokens = { input: 0, output: 0, cacheRead: 0, cacheCreation: 0 };
    for (const m of perModel) {
      tokens.input += m.inputTokens ?? 0;
      tokens.output += m.outputTokens ?? 0;
      tokens.cacheRead += m.cacheReadInputTokens ?? 0;
      tokens.cacheCreation += m.cacheCreationInputTokens ?? 0;
    }
  } else if (r.usage) {
    tokens = {
      input: r.usage.input_tokens ?? 0,
      output: r.usage.output_tokens ?? 0,
      cacheRead: r.usage.cache_read_input_tokens ?? 0,
      cacheCreation: r.usage.cache_creation_input_tokens ?? 0,
    };
  }
  if (!tokens) return null;
  return {
    kind: "usage",
    messageId,
    payload: {
      inputTokens: tokens.input,
      outputTokens: tokens.output,
      cacheReadTokens: tokens.cacheRead,
      cacheCreationTokens: tokens.cacheCreation,
      ...(r.total_cost_usd === undefined ? {} : { costUsd: r.total_cost_usd }),
    },
  };
}

/** A tool_result's content as text: text blocks joined, other blocks named (`[image]`). */
export function toolResultText(content: string | readonly unknown[] | null | undefined): string {
  if (content == null) return "";
  if (typeof content === "string") return content;
  const parts: string[] = [];
  for (const raw of content) {
    const head = blockHead.safeParse(raw);
    if (!head.success) continue;
    const text = textBlock.safeParse(raw);
    parts.push(head.data.type === "text" && text.success ? text.data.text : `[${head.data.type}]`);
  }
  return parts.join("\n");
}

export type RunOutcome =
  | { outcome: "completed" }
  | { outcome: "failed"; code: string; message: string }
  | { outcome: "cancelled" }
  /** The agent was asked to continue a session it does not have (its sandbox was recreated). */
  | { outcome: "session_missing"; message: string };

/** Terminal reasons the CLI itself counts as errors, whatever `is_error` says. */
const errorTerminalReasons: Readonly<Record<string, string>> = {
  api_error: "", // refined by apiErrorCode
  model_error: "model_error",
  image_error: "model_error",
  malformed_tool_use_exhausted: "model_error",
  prompt_too_long: "context_limit",
  blocking_limit: "context_limit",
  rapid_refill_breaker: "context_limit",
  budget_exhausted: "budget_exceeded",
  structured_output_retry_exhausted: "agent_error",
  tool_deferred_unavailable: "agent_error",
  turn_setup_failed: "agent_setup_failed",
};
const cancelledTerminalReasons = new Set(["aborted_streaming", "aborted_tools", "interrupt", "interrupted"]);

/**
 * The run's outcome from its `result` line. Judge by this, not by the exit code: an interrupted
 * turn ends with `is_error` but is a cancellation, and a failed model call exits 1 with a result.
 */
export function classifyResult(result: AgentResult): RunOutcome {
  const missing = result.errors?.find((e) => /no conversation found with session id/i.test(e));
  if (result.isError && result.numTurns === 0 && missing !== undefined)
    return { outcome: "session_missing", message: missing };
  const reason = result.terminalReason;
  if (reason !== undefined && cancelledTerminalReasons.has(reason)) return { outcome: "cancelled" };
  const reasonCode = reason === undefined ? undefined : errorTerminalReasons[reason];
  if (!result.isError && reasonCode === undefined) return { outcome: "completed" };
  const message =
    result.text ??
    (result.errors && result.errors.length > 0 ? result.errors.join("; ") : undefined) ??
    `The agent stopped with ${result.subtype}${reason ? ` (${reason})` : ""}`;
  let code: string;
  if (reason === "api_error" || isApiErrorResult(result)) code = apiErrorCode(result);
  else if (reasonCode) code = reasonCode;
  else if (result.subtype === "error_max_turns" || reason === "max_turns") code = "max_turns";
  else if (result.subtype === "error_max_budget_usd") code = "budget_exceeded";
  else code = "agent_error";
  return { outcome: "failed", code, message };
}

function isApiErrorResult(r: AgentResult): boolean {
  return (
    r.apiErrorStatus !== undefined ||
    r.apiErrorType !== undefined ||
    r.apiError !== undefined ||
    (r.text ?? "").startsWith("API Error")
  );
}

function apiErrorCode(r: AgentResult): string {
  const text = (r.text ?? "").toLowerCase();
  const status = r.apiErrorStatus;
  const mentionsModel = text.includes("model");
  if (
    status === 404 ||
    r.apiErrorType === "not_found_error" ||
    (mentionsModel && /\b404\b|not[_ ]found|not exist/.test(text))
  ) {
    return "model_not_found";
  }
  if (
    status === 401 ||
    status === 403 ||
    r.apiErrorType === "authentication_error" ||
    r.apiErrorType === "permission_error"
  ) {
    return "model_auth_failed";
  }
  if (status === 429 || r.apiErrorType === "rate_limit_error") return "model_rate_limited";
  if (r.apiError === "connection_failed" || /econnrefused|enotfound|connection refused|connection error/.test(text)) {
    return "model_unreachable";
  }
  return "model_error";
}
