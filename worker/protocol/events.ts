/**
 * The event vocabulary of a chat: every kind, its payload schema, and the envelope that carries it
 * live, on replay, over SSE and WebSocket, and in D1. Imported by the worker and the browser alike,
 * so it imports nothing but zod. Kinds are only ever added, never renamed.
 */
import { z } from "zod";

/** Ids are opaque strings we generate (UUIDs); the schema only bounds them. */
export const idSchema = z.string().min(1).max(100);

/** Error codes carried by `run_failed`; stable, machine-readable. */
export const runErrorCodeSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/)
  .max(64);

export const payloadSchemas = {
  /**
   * The user's message, appended when it is sent (started or queued); appended again with the new
   * text when a queued message is edited.
   */
  user_message: z.strictObject({
    content: z.string(),
    assistantMessageId: idSchema,
    source: z.enum(["user", "schedule"]),
  }),
  /** The assistant message leaves `queued` (or nothing) and starts `streaming`. */
  run_started: z.strictObject({
    userMessageId: idSchema,
    model: z.string(),
    runId: z.string().optional(),
  }),
  text_delta: z.strictObject({ text: z.string() }),
  thinking_delta: z.strictObject({ text: z.string() }),
  tool_started: z.strictObject({
    toolUseId: z.string(),
    name: z.string(),
    input: z.unknown(),
  }),
  tool_completed: z.strictObject({
    toolUseId: z.string(),
    output: z.string(),
    /** Present when `output` was cut to fit an event; the full output stays in the sandbox. */
    truncatedFromBytes: z.number().int().nonnegative().optional(),
  }),
  tool_failed: z.strictObject({
    toolUseId: z.string(),
    error: z.string(),
    truncatedFromBytes: z.number().int().nonnegative().optional(),
  }),
  permission_requested: z.strictObject({
    requestId: z.string(),
    toolName: z.string(),
    input: z.unknown(),
    toolUseId: z.string().optional(),
  }),
  permission_resolved: z.strictObject({
    requestId: z.string(),
    decision: z.enum(["allow", "deny"]),
    by: z.enum(["user", "system"]),
  }),
  usage: z.strictObject({
    inputTokens: z.number().nonnegative(),
    outputTokens: z.number().nonnegative(),
    cacheReadTokens: z.number().nonnegative().optional(),
    cacheCreationTokens: z.number().nonnegative().optional(),
    costUsd: z.number().nonnegative().optional(),
  }),
  /** A message sent while a run streams; its assistant message waits as `queued`. */
  message_queued: z.strictObject({
    userMessageId: idSchema,
    content: z.string(),
  }),
  /** The whole queue after any change (it is small): order, content, ids. Chat-level event. */
  queue_updated: z.strictObject({
    items: z.array(
      z.strictObject({
        userMessageId: idSchema,
        assistantMessageId: idSchema,
        content: z.string(),
      }),
    ),
  }),
  run_completed: z.strictObject({
    result: z.string().optional(),
    durationMs: z.number().nonnegative().optional(),
    numTurns: z.number().int().nonnegative().optional(),
    costUsd: z.number().nonnegative().optional(),
  }),
  run_failed: z.strictObject({
    code: runErrorCodeSchema,
    error: z.string(),
  }),
  run_cancelled: z.strictObject({
    reason: z.enum(["user", "send_now", "removed_from_queue", "system"]),
  }),
  /** Something the chat should tell the user about a run (e.g. the agent starts a fresh session). */
  notice: z.strictObject({
    code: runErrorCodeSchema,
    text: z.string().max(2000),
  }),
} as const;

export type EventKind = keyof typeof payloadSchemas;
export const eventKinds = Object.keys(payloadSchemas) as EventKind[];
export const eventKindSchema = z.enum(eventKinds as [EventKind, ...EventKind[]]);

export type EventPayloads = { [K in EventKind]: z.infer<(typeof payloadSchemas)[K]> };

/** An event before the chat's single writer gives it a seq. */
export type EventDraft = {
  [K in EventKind]: { kind: K; messageId: string | null; payload: EventPayloads[K] };
}[EventKind];

/** The envelope: the same shape everywhere an event travels or rests. */
export type Envelope = {
  [K in EventKind]: {
    chatId: string;
    seq: number;
    messageId: string | null;
    kind: K;
    payload: EventPayloads[K];
    /** Epoch milliseconds when the chat's writer appended it. */
    at: number;
  };
}[EventKind];

/** The kinds that end a run; exactly one of them closes every `streaming` message. */
export const terminalKinds = ["run_completed", "run_failed", "run_cancelled"] as const;
export type TerminalKind = (typeof terminalKinds)[number];
export function isTerminalKind(kind: EventKind): kind is TerminalKind {
  return (terminalKinds as readonly string[]).includes(kind);
}

/** Kinds whose consecutive events for one message may be merged before a seq is assigned. */
export const coalescableKinds = ["text_delta", "thinking_delta"] as const;

const envelopeBase = z.strictObject({
  chatId: idSchema,
  seq: z.number().int().positive(),
  messageId: idSchema.nullable(),
  kind: eventKindSchema,
  payload: z.unknown(),
  at: z.number().int().nonnegative(),
});

/** Validates an envelope from an untrusted source (a frame, a stored row) down to its payload. */
export function parseEnvelope(value: unknown): Envelope {
  const base = envelopeBase.parse(value);
  const payload = payloadSchemas[base.kind].parse(base.payload);
  return { ...base, payload } as Envelope;
}

/** Validates a draft's payload against its kind; throws a ZodError on mismatch. */
export function parseDraft(value: { kind: string; messageId: string | null; payload: unknown }): EventDraft {
  const kind = eventKindSchema.parse(value.kind);
  const payload = payloadSchemas[kind].parse(value.payload);
  return { kind, messageId: value.messageId, payload } as EventDraft;
}
