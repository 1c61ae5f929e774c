/**
 * Fits an event draft under the per-event size limit before it gets a seq, so nothing is sent
 * live that replay could not send again. Used by the chat's Durable Object on every draft.
 * Invariant: every draft returned has `eventByteSize(draft) <= limitBytes`; cut text carries a
 * visible marker with the original byte count, and split text deltas concatenate to the original.
 */
import type { EventDraft } from "../protocol/events";
import { cutAtBytes, jsonStringBytes, utf8ByteLength } from "../protocol/utf8";

export const DEFAULT_EVENT_LIMIT_BYTES = 256 * 1024;

/** UTF-8 bytes of the draft as JSON (`{kind, messageId, payload}`); the envelope adds ~150 more. */
export function eventByteSize(draft: EventDraft): number {
  return utf8ByteLength(JSON.stringify(draft));
}

function marker(what: string, shown: number, total: number, where: string): string {
  return `\n… [${what} truncated: showing ${shown} of ${total} bytes${where}]`;
}

/**
 * Builds a draft around a cut of `text` plus a marker. The budget assumes a marker whose shown
 * count has as many digits as the total, so the real (never longer) marker always fits.
 */
function cutWithMarker(
  text: string,
  total: number,
  what: string,
  where: string,
  limit: number,
  build: (text: string) => EventDraft,
): EventDraft {
  const overhead = eventByteSize(build(marker(what, total, total, where)));
  const [prefix] = cutAtBytes(text, Math.max(0, limit - overhead), "json");
  return build(prefix + marker(what, utf8ByteLength(prefix), total, where));
}

const SANDBOX = "; the full output is in the sandbox";

/** A huge tool input becomes a preview object the UI can still show. */
function previewInput(input: unknown, limit: number, build: (input: unknown) => EventDraft): EventDraft {
  const json = JSON.stringify(input) ?? "";
  const bytes = utf8ByteLength(json);
  const overhead = eventByteSize(build({ truncated: true, preview: "", bytes }));
  const [preview] = cutAtBytes(json, Math.max(0, limit - overhead), "json");
  return build({ truncated: true, preview, bytes });
}

/** Splits a delta into pieces that each fit; their texts concatenate to the original. */
function splitDelta(
  draft: Extract<EventDraft, { kind: "text_delta" | "thinking_delta" }>,
  limit: number,
): EventDraft[] {
  const budget = limit - eventByteSize({ ...draft, payload: { text: "" } });
  if (budget < 6) return [draft]; // cannot hold one escaped code point; reported by the caller
  const out: EventDraft[] = [];
  let rest = draft.payload.text;
  while (rest.length > 0) {
    const [head, tail] = cutAtBytes(rest, budget, "json");
    out.push({ ...draft, payload: { text: head } });
    rest = tail;
  }
  return out;
}

function fitOne(draft: EventDraft, limit: number): EventDraft[] {
  switch (draft.kind) {
    case "text_delta":
    case "thinking_delta":
      return splitDelta(draft, limit);
    case "tool_completed": {
      const { output, truncatedFromBytes } = draft.payload;
      const total = truncatedFromBytes ?? utf8ByteLength(output);
      const build = (text: string): EventDraft => ({
        ...draft,
        payload: { ...draft.payload, output: text, truncatedFromBytes: total },
      });
      return [cutWithMarker(output, total, "output", SANDBOX, limit, build)];
    }
    case "tool_failed": {
      const { error, truncatedFromBytes } = draft.payload;
      const total = truncatedFromBytes ?? utf8ByteLength(error);
      const build = (text: string): EventDraft => ({
        ...draft,
        payload: { ...draft.payload, error: text, truncatedFromBytes: total },
      });
      return [cutWithMarker(error, total, "error", SANDBOX, limit, build)];
    }
    case "tool_started": {
      const build = (input: unknown): EventDraft => ({ ...draft, payload: { ...draft.payload, input } });
      return [previewInput(draft.payload.input, limit, build)];
    }
    case "permission_requested": {
      const build = (input: unknown): EventDraft => ({ ...draft, payload: { ...draft.payload, input } });
      return [previewInput(draft.payload.input, limit, build)];
    }
    case "user_message": {
      const total = utf8ByteLength(draft.payload.content);
      const build = (content: string): EventDraft => ({ ...draft, payload: { ...draft.payload, content } });
      return [cutWithMarker(draft.payload.content, total, "message", "", limit, build)];
    }
    case "message_queued": {
      const total = utf8ByteLength(draft.payload.content);
      const build = (content: string): EventDraft => ({ ...draft, payload: { ...draft.payload, content } });
      return [cutWithMarker(draft.payload.content, total, "message", "", limit, build)];
    }
    case "run_failed": {
      const total = utf8ByteLength(draft.payload.error);
      const build = (error: string): EventDraft => ({ ...draft, payload: { ...draft.payload, error } });
      return [cutWithMarker(draft.payload.error, total, "error", "", limit, build)];
    }
    case "run_completed": {
      const result = draft.payload.result ?? "";
      const total = utf8ByteLength(result);
      const build = (text: string): EventDraft => ({ ...draft, payload: { ...draft.payload, result: text } });
      return [cutWithMarker(result, total, "result", "", limit, build)];
    }
    case "queue_updated": {
      // Each queued message gets an equal share of the room; the queue itself is the DO's state.
      const items = draft.payload.items;
      const bare = eventByteSize({ ...draft, payload: { items: items.map((i) => ({ ...i, content: "" })) } });
      const share = Math.floor((limit - bare) / Math.max(1, items.length));
      const cut = items.map((item) => {
        if (jsonStringBytes(item.content) <= share) return item;
        const total = utf8ByteLength(item.content);
        const m = marker("message", total, total, "");
        const [prefix] = cutAtBytes(item.content, Math.max(0, share - jsonStringBytes(m)), "json");
        return { ...item, content: prefix + marker("message", utf8ByteLength(prefix), total, "") };
      });
      return [{ ...draft, payload: { items: cut } }];
    }
    case "run_started":
    case "permission_resolved":
    case "usage":
    case "run_cancelled":
    case "notice":
      return [draft];
  }
}

/**
 * Returns drafts that each fit `limitBytes`: the draft itself when it fits, else a cut or split
 * version. Throws when even the cut cannot fit (ids or names of absurd size: a caller bug).
 */
export function fitDraft(draft: EventDraft, limitBytes: number = DEFAULT_EVENT_LIMIT_BYTES): EventDraft[] {
  if (eventByteSize(draft) <= limitBytes) return [draft];
  const fitted = fitOne(draft, limitBytes);
  for (const d of fitted) {
    const size = eventByteSize(d);
    if (size > limitBytes) throw new Error(`fitDraft: ${draft.kind} cannot fit ${limitBytes} bytes (${size})`);
  }
  return fitted;
}

/** A draft with its payload already serialized (once, for storage and every listener alike). */
export type PreparedDraft = { draft: EventDraft; payloadJson: string };

/**
 * Serializes a draft's payload once (for SQLite and every listener). A payload that could pass the
 * event size limit (a UTF-8 byte is at most 3 per UTF-16 unit) goes through `fitDraft` first.
 */
export function prepareDraft(draft: EventDraft): PreparedDraft[] {
  const payloadJson = JSON.stringify(draft.payload);
  if (payloadJson.length * 3 + 512 <= DEFAULT_EVENT_LIMIT_BYTES) return [{ draft, payloadJson }];
  return fitDraft(draft).map((d) => ({ draft: d, payloadJson: JSON.stringify(d.payload) }));
}
