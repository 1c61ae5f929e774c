/**
 * The render model of one message and the pure reducer that builds it from the message's events.
 * The Durable Object uses it to write snapshots to D1 and the browser to render live, so replaying
 * a message's events from the start always gives exactly its stored snapshot.
 */
import { z } from "zod";
import type { Envelope, EventPayloads } from "./events";
import { idSchema, payloadSchemas } from "./events";

export const messageStatusSchema = z.enum(["queued", "streaming", "completed", "failed", "cancelled"]);
export type MessageStatus = z.infer<typeof messageStatusSchema>;

const textBlockSchema = z.strictObject({ type: z.literal("text"), text: z.string() });
const thinkingBlockSchema = z.strictObject({ type: z.literal("thinking"), text: z.string() });
const toolBlockSchema = z.strictObject({
  type: z.literal("tool"),
  toolUseId: z.string(),
  name: z.string(),
  input: z.unknown(),
  status: z.enum(["running", "completed", "failed"]),
  output: z.string().nullable(),
  error: z.string().nullable(),
  truncatedFromBytes: z.number().int().nonnegative().nullable(),
});
const permissionBlockSchema = z.strictObject({
  type: z.literal("permission"),
  requestId: z.string(),
  toolName: z.string(),
  input: z.unknown(),
  toolUseId: z.string().nullable(),
  decision: z.enum(["allow", "deny"]).nullable(),
  by: z.enum(["user", "system"]).nullable(),
});

export const blockSchema = z.discriminatedUnion("type", [
  textBlockSchema,
  thinkingBlockSchema,
  toolBlockSchema,
  permissionBlockSchema,
]);
export type Block = z.infer<typeof blockSchema>;
export type TextBlock = z.infer<typeof textBlockSchema>;
export type ThinkingBlock = z.infer<typeof thinkingBlockSchema>;
export type ToolBlock = z.infer<typeof toolBlockSchema>;
export type PermissionBlock = z.infer<typeof permissionBlockSchema>;

export type UsagePayload = EventPayloads["usage"];

const runResultSchema = z.strictObject({
  durationMs: z.number().nonnegative().optional(),
  numTurns: z.number().int().nonnegative().optional(),
  costUsd: z.number().nonnegative().optional(),
});
export type RunResult = z.infer<typeof runResultSchema>;

/** Validates a snapshot read back from storage (D1 JSON); concrete and non-recursive on purpose. */
export const messageSnapshotSchema = z.strictObject({
  messageId: idSchema,
  role: z.enum(["user", "assistant"]),
  status: messageStatusSchema,
  /** The user's text; for an assistant, all text blocks concatenated. */
  content: z.string(),
  blocks: z.array(blockSchema),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
  usage: payloadSchemas.usage.nullable(),
  result: runResultSchema.nullable(),
  lastSeq: z.number().int().nonnegative(),
  createdSeq: z.number().int().nonnegative(),
});
export type MessageSnapshot = z.infer<typeof messageSnapshotSchema>;

const terminalStatuses: readonly MessageStatus[] = ["completed", "failed", "cancelled"];
/** True once a message's status can no longer change. */
export function isTerminalStatus(status: MessageStatus): boolean {
  return terminalStatuses.includes(status);
}

function emptySnapshot(messageId: string, seq: number): MessageSnapshot {
  return {
    messageId,
    role: "assistant",
    status: "streaming",
    content: "",
    blocks: [],
    error: null,
    usage: null,
    result: null,
    lastSeq: seq,
    createdSeq: seq,
  };
}

/** Appends delta text to the last block when it has the same type, else opens a new block. */
function appendText(blocks: Block[], type: "text" | "thinking", text: string): Block[] {
  const last = blocks.at(-1);
  if (last !== undefined && last.type === type) {
    return [...blocks.slice(0, -1), { type, text: last.text + text }];
  }
  return [...blocks, { type, text }];
}

function updateTool(blocks: Block[], toolUseId: string, patch: Partial<ToolBlock>): Block[] {
  const index = blocks.findIndex((b) => b.type === "tool" && b.toolUseId === toolUseId);
  const existing = blocks[index];
  if (existing?.type === "tool") {
    return blocks.map((b, i) => (i === index ? { ...existing, ...patch } : b));
  }
  const fresh: ToolBlock = {
    type: "tool",
    toolUseId,
    name: "unknown",
    input: null,
    status: "running",
    output: null,
    error: null,
    truncatedFromBytes: null,
  };
  return [...blocks, { ...fresh, ...patch }];
}

function upsertPermission(
  blocks: Block[],
  requestId: string,
  make: (old: PermissionBlock | undefined) => PermissionBlock,
): Block[] {
  const index = blocks.findIndex((b) => b.type === "permission" && b.requestId === requestId);
  const existing = blocks[index];
  if (existing?.type === "permission") {
    return blocks.map((b, i) => (i === index ? make(existing) : b));
  }
  return [...blocks, make(undefined)];
}

function runResult(payload: EventPayloads["run_completed"]): RunResult {
  const result: RunResult = {};
  if (payload.durationMs !== undefined) result.durationMs = payload.durationMs;
  if (payload.numTurns !== undefined) result.numTurns = payload.numTurns;
  if (payload.costUsd !== undefined) result.costUsd = payload.costUsd;
  return result;
}

/**
 * Applies one event to a message's snapshot and returns a new snapshot (the input is never mutated).
 * Ignored, returning the snapshot unchanged: an event whose seq is not above `lastSeq` (replay is
 * idempotent), any event after a terminal status, and a chat-level event (messageId null).
 * Throws for caller bugs: an event of another message, or a chat-level event with no snapshot.
 */
export function reduce(snapshot: MessageSnapshot | undefined, event: Envelope): MessageSnapshot {
  if (event.messageId === null || event.kind === "queue_updated") {
    if (snapshot === undefined) throw new Error(`reduce: chat-level event ${event.kind} has no message`);
    return snapshot;
  }
  if (snapshot !== undefined) {
    if (snapshot.messageId !== event.messageId) {
      throw new Error(`reduce: event for ${event.messageId} applied to message ${snapshot.messageId}`);
    }
    if (event.seq <= snapshot.lastSeq || isTerminalStatus(snapshot.status)) return snapshot;
  }
  const base = snapshot ?? emptySnapshot(event.messageId, event.seq);
  const s: MessageSnapshot = { ...base, lastSeq: event.seq };

  switch (event.kind) {
    case "user_message":
      return { ...s, role: "user", status: "completed", content: event.payload.content };
    case "message_queued":
      // Only a message not yet seen starts as queued; a status never moves backwards.
      return snapshot === undefined ? { ...s, status: "queued" } : s;
    case "run_started":
      return { ...s, status: "streaming" };
    case "text_delta":
      return {
        ...s,
        content: s.content + event.payload.text,
        blocks: appendText(s.blocks, "text", event.payload.text),
      };
    case "thinking_delta":
      return { ...s, blocks: appendText(s.blocks, "thinking", event.payload.text) };
    case "tool_started": {
      const { toolUseId, name, input } = event.payload;
      return { ...s, blocks: updateTool(s.blocks, toolUseId, { name, input, status: "running" }) };
    }
    case "tool_completed": {
      const { toolUseId, output, truncatedFromBytes } = event.payload;
      const patch = { status: "completed", output, truncatedFromBytes: truncatedFromBytes ?? null } as const;
      return { ...s, blocks: updateTool(s.blocks, toolUseId, patch) };
    }
    case "tool_failed": {
      const { toolUseId, error, truncatedFromBytes } = event.payload;
      const patch = { status: "failed", error, truncatedFromBytes: truncatedFromBytes ?? null } as const;
      return { ...s, blocks: updateTool(s.blocks, toolUseId, patch) };
    }
    case "permission_requested": {
      const { requestId, toolName, input, toolUseId } = event.payload;
      const blocks = upsertPermission(s.blocks, requestId, () => ({
        type: "permission",
        requestId,
        toolName,
        input,
        toolUseId: toolUseId ?? null,
        decision: null,
        by: null,
      }));
      return { ...s, blocks };
    }
    case "permission_resolved": {
      const { requestId, decision, by } = event.payload;
      const blocks = upsertPermission(s.blocks, requestId, (old) => ({
        ...(old ?? { type: "permission", requestId, toolName: "unknown", input: null, toolUseId: null }),
        decision,
        by,
      }));
      return { ...s, blocks };
    }
    case "usage":
      return { ...s, usage: event.payload };
    case "run_completed":
      return { ...s, status: "completed", result: runResult(event.payload) };
    case "run_failed":
      return { ...s, status: "failed", error: { code: event.payload.code, message: event.payload.error } };
    case "run_cancelled":
      return { ...s, status: "cancelled" };
  }
}

/** Folds a chat's events (in seq order; duplicates are harmless) into one snapshot per message. */
export function replay(events: Iterable<Envelope>): Map<string, MessageSnapshot> {
  const snapshots = new Map<string, MessageSnapshot>();
  for (const event of events) {
    if (event.messageId === null) continue;
    snapshots.set(event.messageId, reduce(snapshots.get(event.messageId), event));
  }
  return snapshots;
}

/** The searchable text of a message (`content_text` in D1): the user's text or the assistant's text blocks. */
export function snapshotText(snapshot: MessageSnapshot): string {
  if (snapshot.role === "user") return snapshot.content;
  let text = "";
  for (const block of snapshot.blocks) if (block.type === "text") text += block.text;
  return text;
}
