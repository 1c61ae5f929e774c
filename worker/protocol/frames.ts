/**
 * Stream frames: the WebSocket frames in both directions and the SSE wire encoding. Used by the
 * chat's Durable Object to write frames and by clients to read them; every envelope inside a
 * frame is validated down to its payload, and an SSE frame is always exactly one data line.
 */
import { z } from "zod";
import type { Envelope } from "./events";
import { parseEnvelope } from "./events";

/** An envelope from the wire, validated by `parseEnvelope` (kind and payload alike). */
export const envelopeSchema = z.unknown().transform((value, ctx): Envelope => {
  try {
    return parseEnvelope(value);
  } catch (error: unknown) {
    ctx.addIssue({ code: "custom", message: error instanceof Error ? error.message : "invalid envelope" });
    return z.NEVER;
  }
});

const headSchema = z.number().int().nonnegative();

export const serverFrameSchema = z.discriminatedUnion("type", [
  /** One or more events in seq order; replay packs many per frame. */
  z.strictObject({ type: z.literal("events"), events: z.array(envelopeSchema).min(1) }),
  /** Replay is done; live events follow. `head` is the chat's last seq. */
  z.strictObject({ type: z.literal("ready"), head: headSchema }),
  /** The cursor is ahead of the log (or otherwise unusable): drop local state and resume from 0. */
  z.strictObject({ type: z.literal("reset"), head: headSchema }),
  /** The answer to a client's `ping` (sent without waking a hibernated chat). */
  z.strictObject({ type: z.literal("pong") }),
]);
export type ServerFrame = z.output<typeof serverFrameSchema>;

export const clientFrameSchema = z.discriminatedUnion("type", [z.strictObject({ type: z.literal("ping") })]);
export type ClientFrame = z.output<typeof clientFrameSchema>;

export type FrameDecoding<T> = { ok: true; frame: T } | { ok: false; error: string };

function decode<T>(schema: z.ZodType<T>, text: string): FrameDecoding<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: "frame is not JSON" };
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? { ok: true, frame: parsed.data } : { ok: false, error: z.prettifyError(parsed.error) };
}

/** Decodes a WebSocket message from the server (client side). */
export function decodeServerFrame(text: string): FrameDecoding<ServerFrame> {
  return decode(serverFrameSchema, text);
}

/** Decodes a WebSocket message from a client (server side). */
export function decodeClientFrame(text: string): FrameDecoding<ClientFrame> {
  return decode(clientFrameSchema, text);
}

export function encodeFrame(frame: ServerFrame | ClientFrame): string {
  return JSON.stringify(frame);
}

/** `id: <seq>` / `event: <kind>` / `data: <envelope>`. JSON escapes newlines, so one data line. */
export function encodeSseEvent(env: Envelope): string {
  return `id: ${env.seq}\nevent: ${env.kind}\ndata: ${JSON.stringify(env)}\n\n`;
}

/** A control frame carries no id, so it never moves the client's `Last-Event-ID`. */
export function encodeSseControl(type: "ready" | "reset", head: number): string {
  return `event: ${type}\ndata: ${JSON.stringify({ head })}\n\n`;
}

/** A comment line: keeps proxies from closing an idle stream; EventSource ignores it. */
export const SSE_HEARTBEAT = ": heartbeat\n\n";
