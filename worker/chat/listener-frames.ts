/**
 * Frames for the chat's listeners, in their two wire formats: WebSocket JSON text frames
 * (`{"type":"events",...}`, `ready`, `reset`) and SSE bytes (`id:`/`event:`/`data:`, UTF-8) for
 * the Worker's SSE bridge, which then only copies them. Envelope JSON is built around the payload
 * JSON that is serialized once per event (live) or stored (replay), never parsed and re-encoded.
 */
import { encodeSseControl } from "../protocol/frames";

export type ListenerFormat = "ws" | "sse";

/** What a listener's hibernatable socket remembers about itself. */
export type ListenerAttachment = { userId: string; format: ListenerFormat; after: number; connectedAt: number };

/** Replay frames stay around this size: big enough to be fast, small enough for any socket. */
export const REPLAY_FRAME_BYTES = 256 * 1024;

/** An event as stored or just appended: the payload is already JSON text. */
export type EventText = { seq: number; messageId: string | null; kind: string; payloadJson: string; at: number };

/** An event ready for the wire: its envelope JSON, with the seq and kind that SSE frames repeat. */
export type EncodedEvent = { seq: number; kind: string; json: string };

/** The envelope JSON around an already serialized payload (`chatIdJson` is the quoted chat id). */
export function envelopeJson(chatIdJson: string, e: EventText): string {
  const messageId = e.messageId === null ? "null" : JSON.stringify(e.messageId);
  return `{"chatId":${chatIdJson},"seq":${e.seq},"messageId":${messageId},"kind":"${e.kind}","payload":${e.payloadJson},"at":${e.at}}`;
}

/** Encodes events once for every listener and format. */
export function encodeEvents(chatIdJson: string, events: readonly EventText[]): EncodedEvent[] {
  return events.map((e) => ({ seq: e.seq, kind: e.kind, json: envelopeJson(chatIdJson, e) }));
}

const encoder = new TextEncoder();

function sseEvent(e: EncodedEvent): string {
  return `id: ${e.seq}\nevent: ${e.kind}\ndata: ${e.json}\n\n`;
}

export type Frame = string | Uint8Array;

/** Frames carrying these events in seq order, about `REPLAY_FRAME_BYTES` each (one for a live batch). */
export function eventFrames(events: readonly EncodedEvent[], format: ListenerFormat): Frame[] {
  const frames: Frame[] = [];
  let parts: string[] = [];
  let bytes = 0;
  const emit = () => {
    if (parts.length === 0) return;
    frames.push(format === "ws" ? `{"type":"events","events":[${parts.join(",")}]}` : encoder.encode(parts.join("")));
    parts = [];
    bytes = 0;
  };
  for (const e of events) {
    parts.push(format === "ws" ? e.json : sseEvent(e));
    bytes += e.json.length;
    if (bytes >= REPLAY_FRAME_BYTES) emit();
  }
  emit();
  return frames;
}

export function controlFrame(format: ListenerFormat, type: "ready" | "reset", head: number): Frame {
  return format === "ws" ? JSON.stringify({ type, head }) : encoder.encode(encodeSseControl(type, head));
}
