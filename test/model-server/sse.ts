/**
 * Turns one scripted response into the Anthropic Messages API streaming event sequence (SSE).
 * Used by the model server for scripted turns and the demo model; every block is opened, streamed
 * in chunks and closed in order, so the CLI sees exactly what the real API would send.
 */

import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";

export type Block =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string }
  | { type: "tool_use"; name: string; input: unknown };

export type ReplyTurn = {
  blocks: Block[];
  stopReason?: string;
  delayMs?: number;
  chunkSize?: number;
};

export type ErrorTurn = { error: { status: number; type: string; message: string } };
export type StallTurn = { stallMs: number };
export type DropTurn = { dropAfterChunks: number; blocks?: Block[]; delayMs?: number };
export type Turn = ReplyTurn | ErrorTurn | StallTurn | DropTurn;

type SseEvent = { event: string; data: Record<string, unknown> };

function chunks(text: string, size: number): string[] {
  if (text.length === 0) return [""];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function messageStart(model: string): SseEvent {
  return {
    event: "message_start",
    data: {
      type: "message_start",
      message: {
        id: `msg_${randomUUID().replaceAll("-", "")}`,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: INPUT_TOKENS,
          output_tokens: 1,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        },
      },
    },
  };
}

/** Input tokens every scripted reply reports. */
export const INPUT_TOKENS = 10;

/** The usage a complete streamed reply reports: its message_start input and its final output count. */
export function replyUsage(turn: ReplyTurn): { input: number; output: number } {
  let output = 0;
  for (const block of turn.blocks) {
    if (block.type === "text") output += Math.ceil(block.text.length / 4);
    else if (block.type === "thinking") output += Math.ceil(block.thinking.length / 4);
    else output += Math.ceil(JSON.stringify(block.input ?? {}).length / 4);
  }
  return { input: INPUT_TOKENS, output: Math.max(1, output) };
}

/** The full event list of one reply: message_start, each block, message_delta, message_stop. */
export function replyEvents(model: string, turn: ReplyTurn): SseEvent[] {
  const size = Math.max(1, turn.chunkSize ?? 16);
  const events: SseEvent[] = [messageStart(model)];
  turn.blocks.forEach((block, index) => {
    const delta = (d: Record<string, unknown>): SseEvent => ({
      event: "content_block_delta",
      data: { type: "content_block_delta", index, delta: d },
    });
    if (block.type === "text") {
      events.push({
        event: "content_block_start",
        data: { type: "content_block_start", index, content_block: { type: "text", text: "" } },
      });
      for (const c of chunks(block.text, size)) events.push(delta({ type: "text_delta", text: c }));
    } else if (block.type === "thinking") {
      events.push({
        event: "content_block_start",
        data: { type: "content_block_start", index, content_block: { type: "thinking", thinking: "", signature: "" } },
      });
      for (const c of chunks(block.thinking, size)) events.push(delta({ type: "thinking_delta", thinking: c }));
      events.push(delta({ type: "signature_delta", signature: `sig_${randomUUID()}` }));
    } else {
      const json = JSON.stringify(block.input ?? {});
      events.push({
        event: "content_block_start",
        data: {
          type: "content_block_start",
          index,
          content_block: {
            type: "tool_use",
            id: `toolu_${randomUUID().replaceAll("-", "")}`,
            name: block.name,
            input: {},
          },
        },
      });
      for (const c of chunks(json, size)) events.push(delta({ type: "input_json_delta", partial_json: c }));
    }
    events.push({ event: "content_block_stop", data: { type: "content_block_stop", index } });
  });
  const hasTool = turn.blocks.some((b) => b.type === "tool_use");
  events.push({
    event: "message_delta",
    data: {
      type: "message_delta",
      delta: { stop_reason: turn.stopReason ?? (hasTool ? "tool_use" : "end_turn"), stop_sequence: null },
      usage: { output_tokens: replyUsage(turn).output },
    },
  });
  events.push({ event: "message_stop", data: { type: "message_stop" } });
  return events;
}

/** A non-streaming reply body (the CLI always streams, but a stray `stream: false` call gets one). */
export function replyMessage(model: string, turn: ReplyTurn): Record<string, unknown> {
  return {
    id: `msg_${randomUUID().replaceAll("-", "")}`,
    type: "message",
    role: "assistant",
    model,
    content: turn.blocks.map((b) =>
      b.type === "tool_use"
        ? { type: "tool_use", id: `toolu_${randomUUID().replaceAll("-", "")}`, name: b.name, input: b.input ?? {} }
        : b.type === "thinking"
          ? { type: "thinking", thinking: b.thinking, signature: "sig" }
          : b,
    ),
    stop_reason: turn.stopReason ?? "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 10 },
  };
}

export function errorBody(type: string, message: string): string {
  return JSON.stringify({
    type: "error",
    error: { type, message },
    request_id: `req_${randomUUID().replaceAll("-", "")}`,
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function startSse(res: ServerResponse): void {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "request-id": `req_${randomUUID().replaceAll("-", "")}`,
  });
}

function write(res: ServerResponse, e: SseEvent): void {
  res.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
}

/** Streams one turn onto `res`, honouring delays, stalls and mid-stream drops. */
export async function streamTurn(res: ServerResponse, model: string, turn: Turn): Promise<void> {
  if ("error" in turn) {
    res.writeHead(turn.error.status, { "content-type": "application/json" });
    res.end(errorBody(turn.error.type, turn.error.message));
    return;
  }
  startSse(res);
  if ("stallMs" in turn) {
    write(res, messageStart(model));
    // The stall ends early when the client goes away, so no timer outlives the request.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, turn.stallMs);
      res.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (!res.destroyed) res.destroy();
    return;
  }
  if ("dropAfterChunks" in turn) {
    const events = replyEvents(model, {
      blocks: turn.blocks ?? [{ type: "text", text: "this reply is cut off ".repeat(8) }],
      chunkSize: 4,
    });
    for (const e of events.slice(0, Math.max(0, turn.dropAfterChunks))) {
      write(res, e);
      if (turn.delayMs && e.event === "content_block_delta") await sleep(turn.delayMs);
    }
    await sleep(Math.max(20, turn.delayMs ?? 0));
    res.destroy();
    return;
  }
  for (const e of replyEvents(model, turn)) {
    if (res.destroyed) return;
    write(res, e);
    if (turn.delayMs && e.event === "content_block_delta") await sleep(turn.delayMs);
  }
  res.end();
}
