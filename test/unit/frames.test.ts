/**
 * Stream frames: WebSocket frames decode only when every envelope inside is valid, and the SSE
 * encoding is one `id`/`event`/`data` record per event that an SSE parser reads back intact.
 */
import { describe, expect, it } from "vitest";
import type { Envelope, ServerFrame } from "../../worker/protocol";
import {
  decodeClientFrame,
  decodeServerFrame,
  encodeFrame,
  encodeSseControl,
  encodeSseEvent,
  parseEnvelope,
  SSE_HEARTBEAT,
} from "../../worker/protocol";

const delta: Envelope = parseEnvelope({
  chatId: "chat-1",
  seq: 7,
  messageId: "m-1",
  kind: "text_delta",
  payload: { text: 'line one\nline two\r\n"quoted"\u2028 😀' },
  at: 1_700_000_000_000,
});
const queue: Envelope = parseEnvelope({
  chatId: "chat-1",
  seq: 8,
  messageId: null,
  kind: "queue_updated",
  payload: { items: [] },
  at: 1_700_000_000_001,
});

/** A minimal SSE parser (the WHATWG algorithm for the fields we use). */
function parseSse(stream: string): Array<{ id?: string; event?: string; data: string }> {
  const out: Array<{ id?: string; event?: string; data: string }> = [];
  for (const record of stream.split(/\r\n\r\n|\n\n|\r\r/)) {
    if (record === "") continue;
    const fields: { id?: string; event?: string; data: string[] } = { data: [] };
    for (const line of record.split(/\r\n|\n|\r/)) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1).replace(/^ /, "");
      if (name === "data") fields.data.push(value);
      if (name === "id") fields.id = value;
      if (name === "event") fields.event = value;
    }
    if (fields.data.length > 0) out.push({ ...fields, data: fields.data.join("\n") });
  }
  return out;
}

describe("WebSocket frames", () => {
  it("round-trips events, ready and reset frames", () => {
    for (const frame of [
      { type: "events", events: [delta, queue] },
      { type: "ready", head: 8 },
      { type: "reset", head: 0 },
    ] satisfies ServerFrame[]) {
      expect(decodeServerFrame(encodeFrame(frame))).toEqual({ ok: true, frame });
    }
  });

  it("rejects a frame whose envelope has a bad payload, and other malformed frames", () => {
    const badPayload = { ...delta, payload: { text: 5 } };
    for (const text of [
      JSON.stringify({ type: "events", events: [badPayload] }),
      JSON.stringify({ type: "events", events: [{ ...delta, kind: "nope" }] }),
      JSON.stringify({ type: "events", events: [] }),
      JSON.stringify({ type: "ready", head: -1 }),
      JSON.stringify({ type: "ready", head: 1, extra: true }),
      JSON.stringify({ type: "hello" }),
      "not json",
    ]) {
      const decoded = decodeServerFrame(text);
      expect(decoded.ok, text).toBe(false);
    }
  });

  it("accepts only ping from clients", () => {
    expect(decodeClientFrame('{"type":"ping"}')).toEqual({ ok: true, frame: { type: "ping" } });
    expect(decodeClientFrame('{"type":"events","events":[]}').ok).toBe(false);
    expect(decodeClientFrame("{").ok).toBe(false);
  });
});

describe("SSE encoding", () => {
  it("writes one id/event/data record per event, readable back exactly", () => {
    const text = encodeSseEvent(delta);
    expect(text.startsWith("id: 7\nevent: text_delta\ndata: {")).toBe(true);
    expect(text.endsWith("}\n\n")).toBe(true);
    expect(text.split("\n")).toHaveLength(5);
    const records = parseSse(text + SSE_HEARTBEAT + encodeSseEvent(queue));
    expect(records).toEqual([
      { id: "7", event: "text_delta", data: JSON.stringify(delta) },
      { id: "8", event: "queue_updated", data: JSON.stringify(queue) },
    ]);
    expect(parseEnvelope(JSON.parse(records[0]?.data ?? ""))).toEqual(delta);
  });

  it("writes control frames without an id", () => {
    expect(encodeSseControl("ready", 42)).toBe('event: ready\ndata: {"head":42}\n\n');
    expect(encodeSseControl("reset", 0)).toBe('event: reset\ndata: {"head":0}\n\n');
    expect(parseSse(encodeSseControl("ready", 3))).toEqual([{ event: "ready", data: '{"head":3}' }]);
  });

  it("heartbeats are comments", () => {
    expect(SSE_HEARTBEAT).toBe(": heartbeat\n\n");
    expect(parseSse(SSE_HEARTBEAT)).toEqual([]);
  });
});
