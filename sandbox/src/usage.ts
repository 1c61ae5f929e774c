/**
 * Token usage read from Messages API responses as they pass through the model relay, so a run's
 * usage comes from the model's own answers rather than from what the agent reports. Used by relay.ts.
 * A streamed answer (SSE) is parsed incrementally; a message cut off mid-stream still counts what
 * its events had reported.
 */

export type Usage = {
  /** Answers (2xx `POST /v1/messages`) relayed for the run. */
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
};

export function emptyUsage(): Usage {
  return { requests: 0, inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 };
}

type Counts = Omit<Usage, "requests">;

const FIELDS: Array<[keyof Counts, string]> = [
  ["inputTokens", "input_tokens"],
  ["outputTokens", "output_tokens"],
  ["cacheCreationInputTokens", "cache_creation_input_tokens"],
  ["cacheReadInputTokens", "cache_read_input_tokens"],
];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Overwrites the counts a usage object reports (message_delta usage is cumulative for its message). */
function apply(counts: Counts, usage: unknown): void {
  if (!isRecord(usage)) return;
  for (const [key, field] of FIELDS) {
    const value = usage[field];
    if (typeof value === "number" && Number.isFinite(value) && value >= 0) counts[key] = value;
  }
}

function add(total: Usage, counts: Counts): void {
  for (const [key] of FIELDS) total[key] += counts[key];
}

const MAX_JSON_BYTES = 16 * 1024 * 1024;

/** Reads one response body chunk by chunk and adds its usage to `total` when it ends. */
export function usageCounter(contentType: string, total: Usage): { push(chunk: Buffer): void; end(): void } {
  const decoder = new TextDecoder("utf-8");
  if (contentType.includes("text/event-stream")) {
    let pending = "";
    let message: Counts | null = null;
    const flush = () => {
      if (message) add(total, message);
      message = null;
    };
    const onData = (data: string) => {
      let event: unknown;
      try {
        event = JSON.parse(data);
      } catch {
        return;
      }
      if (!isRecord(event)) return;
      if (event.type === "message_start" && isRecord(event.message)) {
        flush();
        message = { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 };
        apply(message, event.message.usage);
      } else if (event.type === "message_delta" && message) {
        apply(message, event.usage);
      } else if (event.type === "message_stop") {
        flush();
      }
    };
    return {
      push(chunk) {
        pending += decoder.decode(chunk, { stream: true });
        let nl = pending.indexOf("\n");
        while (nl !== -1) {
          const line = pending.slice(0, nl).replace(/\r$/, "");
          pending = pending.slice(nl + 1);
          if (line.startsWith("data:")) onData(line.slice(5).trim());
          nl = pending.indexOf("\n");
        }
      },
      end() {
        pending += decoder.decode();
        if (pending.startsWith("data:")) onData(pending.slice(5).trim());
        pending = "";
        flush();
      },
    };
  }
  let text = "";
  let overflow = false;
  return {
    push(chunk) {
      if (overflow) return;
      text += decoder.decode(chunk, { stream: true });
      if (text.length > MAX_JSON_BYTES) overflow = true;
    },
    end() {
      if (overflow) return;
      try {
        const body: unknown = JSON.parse(text + decoder.decode());
        if (!isRecord(body)) return;
        const counts: Counts = {
          inputTokens: 0,
          outputTokens: 0,
          cacheCreationInputTokens: 0,
          cacheReadInputTokens: 0,
        };
        apply(counts, body.usage);
        add(total, counts);
      } catch {
        // Not JSON: nothing to count.
      }
    },
  };
}
