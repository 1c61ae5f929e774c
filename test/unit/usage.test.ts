/**
 * The relay's token counter (sandbox/src/usage.ts): usage read from Messages API answers however
 * they are split into chunks, summed over several messages of a stream, from JSON answers, and
 * kept for a message whose stream was cut off.
 */
import { describe, expect, it } from "vitest";
import { emptyUsage, usageCounter } from "../../sandbox/src/usage.ts";

const event = (data: unknown) => `event: x\r\ndata: ${JSON.stringify(data)}\r\n\r\n`;

const STREAM =
  event({
    type: "message_start",
    message: { usage: { input_tokens: 100, output_tokens: 1, cache_read_input_tokens: 40 } },
  }) +
  event({ type: "content_block_delta", delta: { type: "text_delta", text: "w\u00f6rld \u{1F600}" } }) +
  event({ type: "message_delta", usage: { output_tokens: 20 } }) +
  event({ type: "message_delta", usage: { output_tokens: 25 } }) +
  event({ type: "message_stop" }) +
  event({ type: "message_start", message: { usage: { input_tokens: 7, cache_creation_input_tokens: 3 } } }) +
  event({ type: "message_delta", usage: { output_tokens: 2 } }) +
  event({ type: "message_stop" });

const EXPECTED = {
  requests: 0,
  inputTokens: 107,
  outputTokens: 27,
  cacheCreationInputTokens: 3,
  cacheReadInputTokens: 40,
};

describe("usageCounter", () => {
  it("sums every message of a stream, whatever the chunk boundaries", () => {
    const bytes = Buffer.from(STREAM, "utf8");
    for (let cut = 1; cut < bytes.length; cut += 7) {
      for (const size of [1, 3, cut]) {
        const total = emptyUsage();
        const counter = usageCounter("text/event-stream; charset=utf-8", total);
        for (let i = 0; i < bytes.length; i += size) counter.push(bytes.subarray(i, i + size));
        counter.end();
        expect(total, `chunks of ${size}`).toEqual(EXPECTED);
      }
    }
  });

  it("counts a message cut off mid-stream with what it had reported", () => {
    const total = emptyUsage();
    const counter = usageCounter("text/event-stream", total);
    counter.push(
      Buffer.from(event({ type: "message_start", message: { usage: { input_tokens: 9, output_tokens: 1 } } })),
    );
    counter.push(Buffer.from(event({ type: "message_delta", usage: { output_tokens: 4 } }).slice(0, 30)));
    counter.end();
    expect(total).toMatchObject({ inputTokens: 9, outputTokens: 1 });
  });

  it("reads a JSON answer's usage and ignores bodies that are not JSON or carry nonsense", () => {
    const total = emptyUsage();
    const json = usageCounter("application/json", total);
    json.push(Buffer.from('{"usage":{"input_tokens":5,'));
    json.push(Buffer.from('"output_tokens":6,"cache_read_input_tokens":-3}}'));
    json.end();
    const junk = usageCounter("application/json", total);
    junk.push(Buffer.from("<html>"));
    junk.end();
    const weird = usageCounter("text/event-stream", total);
    weird.push(Buffer.from('data: {"type":"message_delta","usage":{"output_tokens":99}}\n\ndata: [DONE]\n\n'));
    weird.end();
    expect(total).toEqual({ ...emptyUsage(), inputTokens: 5, outputTokens: 6 });
  });
});
