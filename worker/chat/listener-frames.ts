/**
 * Frame text for the chat's listeners, in their two wire formats: WebSocket JSON frames
 * (`{"type":"events",...}`, `ready`, `reset`) and SSE text (`id:`/`event:`/`data:`) for the
 * Worker's SSE bridge, which then only copies bytes. Replay packs many stored events per frame and
 * builds their JSON from the stored payload text without parsing it.
 */
import type { Envelope } from "../protocol/events";
import { encodeSseControl } from "../protocol/frames";
import type { EventRow } from "./event-log";

export type ListenerFormat = "ws" | "sse";

/** What a listener's hibernatable socket remembers about itself. */
export type ListenerAttachment = { userId: string; format: ListenerFormat; after: number; connectedAt: number };

/** Replay frames stay around this size: big enough to be fast, small enough for any socket. */
export const REPLAY_FRAME_BYTES = 256 * 1024;

/** The envelope JSON of a stored row; the payload column is already JSON. */
export function rowEnvelopeJson(chatId: string, row: EventRow): string {
  return `{"chatId":${JSON.stringify(chatId)},"seq":${row.seq},"messageId":${row.message_id === null ? "null" : JSON.stringify(row.message_id)},"kind":"${row.kind}","payload":${row.payload},"at":${row.at}}`;
}

function sseEvent(seq: number, kind: string, json: string): string {
  return `id: ${seq}\nevent: ${kind}\ndata: ${json}\n\n`;
}

/** Packs stored rows into frames of about `REPLAY_FRAME_BYTES` each, in seq order. */
export function replayFrames(chatId: string, rows: readonly EventRow[], format: ListenerFormat): string[] {
  const frames: string[] = [];
  let parts: string[] = [];
  let bytes = 0;
  const emit = () => {
    if (parts.length === 0) return;
    frames.push(format === "ws" ? `{"type":"events","events":[${parts.join(",")}]}` : parts.join(""));
    parts = [];
    bytes = 0;
  };
  for (const row of rows) {
    const json = rowEnvelopeJson(chatId, row);
    parts.push(format === "ws" ? json : sseEvent(row.seq, row.kind, json));
    bytes += json.length;
    if (bytes >= REPLAY_FRAME_BYTES) emit();
  }
  emit();
  return frames;
}

/** One live frame carrying freshly appended envelopes, encoded once per format. */
export function liveFrames(envelopes: readonly Envelope[]): Record<ListenerFormat, string> {
  const jsons = envelopes.map((e) => JSON.stringify(e));
  return {
    ws: `{"type":"events","events":[${jsons.join(",")}]}`,
    sse: envelopes.map((e, i) => sseEvent(e.seq, e.kind, jsons[i] ?? "")).join(""),
  };
}

export function controlFrame(format: ListenerFormat, type: "ready" | "reset", head: number): string {
  return format === "ws" ? JSON.stringify({ type, head }) : encodeSseControl(type, head);
}
