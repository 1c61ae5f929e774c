/**
 * The render model of one message and the pure reducer that builds it from the message's events.
 * The Durable Object uses it to write snapshots to D1 and the browser to render live, so replaying
 * a message's events from the start always gives exactly its stored snapshot. A snapshot stays
 * within a size budget (`snapshot-size.ts`) whatever the message holds; the log keeps everything.
 */
import { z } from "zod";
import type { Envelope, EventPayloads } from "./events";
import { idSchema, payloadSchemas } from "./events";
import {
  BLOCK_BYTES,
  fitText,
  SNAPSHOT_CONTENT_BYTES,
  SNAPSHOT_RESERVE_BYTES,
  textCost,
  valueCost,
} from "./snapshot-size";
import { utf8ByteLength } from "./utf8";

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
const noticeBlockSchema = z.strictObject({ type: z.literal("notice"), code: z.string(), text: z.string() });

export const blockSchema = z.discriminatedUnion("type", [
  textBlockSchema,
  thinkingBlockSchema,
  toolBlockSchema,
  permissionBlockSchema,
  noticeBlockSchema,
]);
export type Block = z.infer<typeof blockSchema>;
export type TextBlock = z.infer<typeof textBlockSchema>;
export type ThinkingBlock = z.infer<typeof thinkingBlockSchema>;
export type ToolBlock = z.infer<typeof toolBlockSchema>;
export type PermissionBlock = z.infer<typeof permissionBlockSchema>;
export type NoticeBlock = z.infer<typeof noticeBlockSchema>;

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
  /** The user's text ("" for an assistant: its text is in `blocks`, see `snapshotText`). */
  content: z.string(),
  blocks: z.array(blockSchema),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
  /** Why a cancelled message was cancelled (`removed_from_queue`: it never ran). */
  cancelReason: payloadSchemas.run_cancelled.shape.reason.nullable(),
  usage: payloadSchemas.usage.nullable(),
  result: runResultSchema.nullable(),
  lastSeq: z.number().int().nonnegative(),
  createdSeq: z.number().int().nonnegative(),
  /** The content held in `blocks`, in budget bytes (see `snapshot-size.ts`). */
  heldBytes: z.number().int().nonnegative(),
  /** Content left out to stay within the budget (0: the snapshot is whole; the log has the rest). */
  omittedBytes: z.number().int().nonnegative(),
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
    cancelReason: null,
    usage: null,
    result: null,
    lastSeq: seq,
    createdSeq: seq,
    heldBytes: 0,
    omittedBytes: 0,
  };
}

/**
 * Takes `cost` bytes of the budget: from the content budget while nothing was left out yet, or,
 * with `reserve`, from the extra room kept for prompts and notices. False when it does not fit.
 * Works on the reducer's fresh copy of the snapshot, never on its input.
 */
function charge(s: MessageSnapshot, cost: number, reserve = false): boolean {
  const limit = SNAPSHOT_CONTENT_BYTES + (reserve ? SNAPSHOT_RESERVE_BYTES : 0);
  if ((!reserve && s.omittedBytes > 0) || s.heldBytes + cost > limit) return false;
  s.heldBytes += cost;
  return true;
}

/** Appends delta text to the last block when it has the same type, else opens a new block. */
function appendText(s: MessageSnapshot, type: "text" | "thinking", text: string): void {
  if (text === "") return;
  const cost = textCost(text);
  if (s.omittedBytes > 0) {
    s.omittedBytes += cost;
    return;
  }
  const last = s.blocks.at(-1);
  const extend = last !== undefined && last.type === type;
  const room = SNAPSHOT_CONTENT_BYTES - s.heldBytes - (extend ? 0 : BLOCK_BYTES);
  const fit = room > 0 ? fitText(text, room) : { kept: "", cost: 0 };
  if (fit.kept !== "") {
    s.heldBytes += fit.cost + (extend ? 0 : BLOCK_BYTES);
    s.blocks =
      extend && last !== undefined && last.type === type
        ? [...s.blocks.slice(0, -1), { type, text: last.text + fit.kept }]
        : [...s.blocks, { type, text: fit.kept }];
  }
  s.omittedBytes += cost - fit.cost;
}

/** A tool's output or error as the budget allows: whole, cut (with the cut size), or left out. */
function fitOutput(s: MessageSnapshot, text: string, truncatedFromBytes: number | undefined) {
  const cost = textCost(text);
  if (charge(s, cost)) return { text, truncatedFromBytes: truncatedFromBytes ?? null };
  const room = s.omittedBytes > 0 ? 0 : SNAPSHOT_CONTENT_BYTES - s.heldBytes;
  const fit = fitText(text, Math.max(0, room));
  s.heldBytes += fit.cost;
  s.omittedBytes += cost - fit.cost;
  return { text: fit.kept, truncatedFromBytes: truncatedFromBytes ?? utf8ByteLength(text) };
}

function toolIndex(blocks: readonly Block[], toolUseId: string): number {
  return blocks.findIndex((b) => b.type === "tool" && b.toolUseId === toolUseId);
}

/**
 * Adds a tool card (with its input when the budget allows) or, for a known one, updates it. When
 * the card itself does not fit, everything about it is left out (and counted).
 */
function openTool(s: MessageSnapshot, toolUseId: string, name: string, input: unknown): void {
  const index = toolIndex(s.blocks, toolUseId);
  const existing = s.blocks[index];
  if (existing?.type === "tool") {
    s.blocks = s.blocks.map((b, i) => (i === index ? { ...existing, name, status: "running" } : b));
    return;
  }
  const cardCost = BLOCK_BYTES + textCost(toolUseId) + textCost(name);
  const inputCost = input === null ? 0 : valueCost(input);
  const card = (kept: unknown): ToolBlock => ({
    type: "tool",
    toolUseId,
    name,
    input: kept,
    status: "running",
    output: null,
    error: null,
    truncatedFromBytes: null,
  });
  if (charge(s, cardCost + inputCost)) s.blocks = [...s.blocks, card(input)];
  else if (charge(s, cardCost)) {
    s.blocks = [...s.blocks, card(null)];
    s.omittedBytes += inputCost;
  } else s.omittedBytes += cardCost + inputCost;
}

/** Ends a tool card (opening an `unknown` one when its start was never seen or left out). */
function endTool(
  s: MessageSnapshot,
  toolUseId: string,
  status: "completed" | "failed",
  text: string,
  truncatedFromBytes: number | undefined,
): void {
  if (toolIndex(s.blocks, toolUseId) < 0) openTool(s, toolUseId, "unknown", null);
  const index = toolIndex(s.blocks, toolUseId);
  const existing = s.blocks[index];
  if (existing?.type !== "tool") {
    s.omittedBytes += textCost(text);
    return;
  }
  const fit = fitOutput(s, text, truncatedFromBytes);
  const patch =
    status === "completed"
      ? { status, output: fit.text, truncatedFromBytes: fit.truncatedFromBytes }
      : { status, error: fit.text, truncatedFromBytes: fit.truncatedFromBytes };
  s.blocks = s.blocks.map((b, i) => (i === index ? { ...existing, ...patch } : b));
}

/** Adds or updates a permission prompt: a prompt stays visible (input left out if need be) so it can be answered. */
function upsertPermission(
  s: MessageSnapshot,
  requestId: string,
  make: (old: PermissionBlock | undefined) => PermissionBlock,
): void {
  const index = s.blocks.findIndex((b) => b.type === "permission" && b.requestId === requestId);
  const existing = s.blocks[index];
  if (existing?.type === "permission") {
    const next = make(existing);
    s.blocks = s.blocks.map((b, i) => (i === index ? { ...next, input: existing.input } : b));
    return;
  }
  const block = make(undefined);
  const cardCost = BLOCK_BYTES + textCost(requestId) + textCost(block.toolName) + textCost(block.toolUseId ?? "");
  const inputCost = block.input === null ? 0 : valueCost(block.input);
  if (charge(s, cardCost + inputCost)) s.blocks = [...s.blocks, block];
  else if (charge(s, cardCost, true)) {
    s.blocks = [...s.blocks, { ...block, input: null }];
    s.omittedBytes += inputCost;
  } else s.omittedBytes += cardCost + inputCost;
}

function addNotice(s: MessageSnapshot, code: string, text: string): void {
  const cost = BLOCK_BYTES + textCost(code) + textCost(text);
  if (charge(s, cost, true)) s.blocks = [...s.blocks, { type: "notice", code, text }];
  else s.omittedBytes += cost;
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
 * idempotent), any event after a terminal status (but a user message's text, which an edit of a
 * queued message replaces), and a chat-level event (messageId null).
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
    if (event.seq <= snapshot.lastSeq) return snapshot;
    const edit = event.kind === "user_message" && snapshot.role === "user";
    if (isTerminalStatus(snapshot.status) && !edit) return snapshot;
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
      appendText(s, "text", event.payload.text);
      return s;
    case "thinking_delta":
      appendText(s, "thinking", event.payload.text);
      return s;
    case "tool_started":
      openTool(s, event.payload.toolUseId, event.payload.name, event.payload.input);
      return s;
    case "tool_completed": {
      const { toolUseId, output, truncatedFromBytes } = event.payload;
      endTool(s, toolUseId, "completed", output, truncatedFromBytes);
      return s;
    }
    case "tool_failed": {
      const { toolUseId, error, truncatedFromBytes } = event.payload;
      endTool(s, toolUseId, "failed", error, truncatedFromBytes);
      return s;
    }
    case "permission_requested": {
      const { requestId, toolName, input, toolUseId } = event.payload;
      upsertPermission(s, requestId, (old) => ({
        type: "permission",
        requestId,
        toolName,
        input,
        toolUseId: toolUseId ?? null,
        decision: old?.decision ?? null,
        by: old?.by ?? null,
      }));
      return s;
    }
    case "permission_resolved": {
      const { requestId, decision, by } = event.payload;
      upsertPermission(s, requestId, (old) => ({
        ...(old ?? { type: "permission", requestId, toolName: "unknown", input: null, toolUseId: null }),
        decision,
        by,
      }));
      return s;
    }
    case "notice":
      addNotice(s, event.payload.code, event.payload.text);
      return s;
    case "usage":
      return { ...s, usage: event.payload };
    case "run_completed":
      return { ...s, status: "completed", result: runResult(event.payload) };
    case "run_failed":
      return { ...s, status: "failed", error: { code: event.payload.code, message: event.payload.error } };
    case "run_cancelled":
      return { ...s, status: "cancelled", cancelReason: event.payload.reason };
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

/** A message's text: the user's text, or the assistant's text blocks (`content_text` in D1 is its start). */
export function snapshotText(snapshot: MessageSnapshot): string {
  if (snapshot.role === "user") return snapshot.content;
  let text = "";
  for (const block of snapshot.blocks) if (block.type === "text") text += block.text;
  return text;
}
