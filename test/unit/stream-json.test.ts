/**
 * The stream-json mapper against lines the real Claude Code CLI (2.1.330) printed offline
 * (fixtures/stream-json/*.jsonl, captured against a scripted Messages API server) and hand-made edge cases.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type EventDraft, parseDraft } from "../../worker/protocol/events";
import {
  type AgentResult,
  classifyResult,
  createAgentMapper,
  type MapOutcome,
  toolResultText,
} from "../../worker/sandbox/stream-json";

const MESSAGE_ID = "msg-assistant-1";

function fixture(name: string): unknown[] {
  const text = readFileSync(new URL(`./fixtures/stream-json/${name}.jsonl`, import.meta.url), "utf8");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as unknown);
}

function mapAll(lines: unknown[]) {
  const mapper = createAgentMapper({ messageId: MESSAGE_ID });
  const outcomes: MapOutcome[] = lines.map((line) => mapper.map(line));
  const drafts = outcomes.flatMap((o) => o.drafts);
  // Every draft must be valid against the protocol's payload schemas.
  for (const draft of drafts) expect(() => parseDraft(draft)).not.toThrow();
  return {
    drafts,
    outcomes,
    ignored: mapper.ignored,
    sessionIds: outcomes.flatMap((o) => (o.sessionId ? [o.sessionId] : [])),
    result: outcomes.find((o) => o.result)?.result,
  };
}

function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("expected a value");
  return value;
}

/** Drafts with coalescable deltas merged, as the log would show them after coalescing. */
function merged(drafts: EventDraft[]): Array<{ kind: string; payload: unknown }> {
  const out: Array<{ kind: string; payload: unknown }> = [];
  for (const d of drafts) {
    const prev = out.at(-1);
    if (prev && prev.kind === d.kind && (d.kind === "text_delta" || d.kind === "thinking_delta")) {
      (prev.payload as { text: string }).text += d.payload.text;
    } else {
      out.push({ kind: d.kind, payload: structuredClone(d.payload) });
    }
  }
  return out;
}

describe("createAgentMapper on captured CLI output", () => {
  it("streams text and thinking from partial messages without doubling them from the assistant lines", () => {
    const { drafts, sessionIds, result, ignored } = mapAll(fixture("text"));
    expect(drafts.every((d) => d.messageId === MESSAGE_ID)).toBe(true);
    expect(drafts.filter((d) => d.kind === "text_delta").map((d) => d.payload)).toEqual([
      { text: "Hello" },
      { text: " wörld " },
      { text: "👋" },
    ]);
    expect(merged(drafts)).toEqual([
      { kind: "thinking_delta", payload: { text: "Let me think." } },
      { kind: "text_delta", payload: { text: "Hello wörld 👋" } },
      {
        kind: "usage",
        payload: {
          inputTokens: 12,
          outputTokens: 20,
          cacheReadTokens: 3,
          cacheCreationTokens: 4,
          costUsd: 0.00035190000000000004,
        },
      },
    ]);
    expect(sessionIds[0]).toBe("1bd54043-2096-4707-9692-808fedd2bf22");
    expect(result).toMatchObject({
      isError: false,
      subtype: "success",
      terminalReason: "completed",
      numTurns: 1,
      text: "Hello wörld 👋",
    });
    expect(classifyResult(must(result))).toEqual({ outcome: "completed" });
    expect(ignored).toBe(0);
  });

  it("falls back to the assistant lines when no partial stream was printed", () => {
    const lines = fixture("text").filter((l) => (l as { type: string }).type !== "stream_event");
    const { drafts } = mapAll(lines);
    expect(merged(drafts).slice(0, 2)).toEqual([
      { kind: "thinking_delta", payload: { text: "Let me think." } },
      { kind: "text_delta", payload: { text: "Hello wörld 👋" } },
    ]);
  });

  it("maps a tool round trip: text, tool_started, tool_completed, text, usage", () => {
    const { drafts, result } = mapAll(fixture("tool"));
    expect(merged(drafts)).toEqual([
      { kind: "text_delta", payload: { text: "I'll run it." } },
      {
        kind: "tool_started",
        payload: { toolUseId: "toolu_01ABC", name: "Bash", input: { command: "echo hi", description: "run" } },
      },
      { kind: "tool_completed", payload: { toolUseId: "toolu_01ABC", output: "hi" } },
      { kind: "text_delta", payload: { text: "Done." } },
      {
        kind: "usage",
        payload: {
          inputTokens: 24,
          outputTokens: 40,
          cacheReadTokens: 6,
          cacheCreationTokens: 8,
          costUsd: 0.0007038000000000001,
        },
      },
    ]);
    expect(classifyResult(must(result))).toEqual({ outcome: "completed" });
  });

  it("maps a permission prompt and a denied tool", () => {
    const { drafts } = mapAll(fixture("perm-deny"));
    const kinds = merged(drafts).map((d) => d.kind);
    expect(kinds).toEqual(["text_delta", "tool_started", "permission_requested", "tool_failed", "text_delta", "usage"]);
    expect(drafts.find((d) => d.kind === "permission_requested")?.payload).toEqual({
      requestId: "d9eb73f9-1030-4344-b638-6db04c48c4eb",
      toolName: "Bash",
      input: { command: "rm -f /tmp/cap/nothing.txt", description: "run" },
      toolUseId: "toolu_01ABC",
    });
    expect(drafts.find((d) => d.kind === "tool_failed")?.payload).toEqual({
      toolUseId: "toolu_01ABC",
      error: "user said no",
    });
  });

  it("maps an allowed permission to a completed tool", () => {
    const { drafts } = mapAll(fixture("perm-allow"));
    expect(drafts.find((d) => d.kind === "tool_completed")?.payload).toEqual({
      toolUseId: "toolu_01ABC",
      output: "(Bash completed with no output)",
    });
  });

  it("keeps an unknown model's error text and classifies it model_not_found", () => {
    const { drafts, result } = mapAll(fixture("model-not-found"));
    expect(merged(drafts)[0]).toEqual({
      kind: "text_delta",
      payload: {
        text: "There's an issue with the selected model (claude-nope-9). It may not exist or you may not have access to it. Run --model to pick a different model.",
      },
    });
    expect(result).toMatchObject({
      isError: true,
      apiErrorStatus: 404,
      apiErrorType: "not_found_error",
      terminalReason: "api_error",
    });
    expect(classifyResult(must(result))).toEqual({
      outcome: "failed",
      code: "model_not_found",
      message: expect.stringContaining("claude-nope-9"),
    });
  });

  it("keeps the 'API Error' text when the model server is down", () => {
    const { drafts, result } = mapAll(fixture("model-down"));
    const text = merged(drafts).find((d) => d.kind === "text_delta")?.payload as { text: string };
    expect(text.text).toMatch(/^API Error: Connection refused/);
    expect(classifyResult(must(result))).toEqual({ outcome: "failed", code: "model_unreachable", message: text.text });
  });

  it("classifies an interrupted turn as cancelled and counts its usage from modelUsage", () => {
    const { drafts, result } = mapAll(fixture("interrupt"));
    expect(result).toMatchObject({
      isError: true,
      subtype: "error_during_execution",
      terminalReason: "aborted_streaming",
    });
    expect(classifyResult(must(result))).toEqual({ outcome: "cancelled" });
    expect(drafts.find((d) => d.kind === "usage")?.payload).toMatchObject({
      inputTokens: 12,
      outputTokens: 1,
      costUsd: 0.0000669,
    });
  });
});

describe("createAgentMapper edge cases", () => {
  const streamEvent = (event: unknown, extra: Record<string, unknown> = {}) => ({
    type: "stream_event",
    event,
    parent_tool_use_id: null,
    api_message_id: "msg_A",
    ...extra,
  });
  const assistant = (content: unknown[], extra: Record<string, unknown> = {}) => ({
    type: "assistant",
    message: { id: "msg_A", role: "assistant", content },
    parent_tool_use_id: null,
    ...extra,
  });

  it("shows the part of a block the partial stream missed, once", () => {
    const m = createAgentMapper({ messageId: MESSAGE_ID });
    m.map(streamEvent({ type: "message_start", message: { id: "msg_A" } }));
    m.map(streamEvent({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }));
    expect(
      m.map(streamEvent({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hel" } })).drafts,
    ).toEqual([{ kind: "text_delta", messageId: MESSAGE_ID, payload: { text: "Hel" } }]);
    expect(m.map(assistant([{ type: "text", text: "Hello" }])).drafts).toEqual([
      { kind: "text_delta", messageId: MESSAGE_ID, payload: { text: "lo" } },
    ]);
    // A second text block of the same message that was never streamed comes whole from its assistant line.
    expect(m.map(assistant([{ type: "text", text: "More" }])).drafts).toEqual([
      { kind: "text_delta", messageId: MESSAGE_ID, payload: { text: "More" } },
    ]);
  });

  it("matches blocks of several messages by message id", () => {
    const m = createAgentMapper({ messageId: MESSAGE_ID });
    for (const id of ["msg_A", "msg_B"]) {
      m.map(streamEvent({ type: "message_start", message: { id } }, { api_message_id: id }));
      m.map(
        streamEvent(
          { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
          { api_message_id: id },
        ),
      );
      m.map(
        streamEvent(
          { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: id } },
          { api_message_id: id },
        ),
      );
    }
    expect(m.map(assistant([{ type: "text", text: "msg_A" }])).drafts).toEqual([]);
    expect(
      m.map({
        ...assistant([{ type: "text", text: "msg_B" }]),
        message: { id: "msg_B", content: [{ type: "text", text: "msg_B" }] },
      }).drafts,
    ).toEqual([]);
  });

  it("turns tool_result content arrays into text and names non-text blocks", () => {
    const m = createAgentMapper({ messageId: MESSAGE_ID });
    const drafts = m.map({
      type: "user",
      message: {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: "t1",
            content: [
              { type: "text", text: "line 1" },
              { type: "image", source: {} },
              { type: "text", text: "line 2" },
            ],
          },
          { type: "tool_result", tool_use_id: "t2" },
          { type: "tool_result", tool_use_id: "t3", content: "boom", is_error: true },
        ],
      },
      parent_tool_use_id: null,
    }).drafts;
    expect(drafts.map((d) => d.payload)).toEqual([
      { toolUseId: "t1", output: "line 1\n[image]\nline 2" },
      { toolUseId: "t2", output: "" },
      { toolUseId: "t3", error: "boom" },
    ]);
    expect(toolResultText(null)).toBe("");
  });

  it("emits each tool start, tool end and permission prompt once", () => {
    const m = createAgentMapper({ messageId: MESSAGE_ID });
    const toolUse = assistant([{ type: "tool_use", id: "t1", name: "Bash", input: {} }]);
    const prompt = {
      type: "control_request",
      request_id: "r1",
      request: { subtype: "can_use_tool", tool_name: "Bash", input: {} },
    };
    const result = { type: "user", message: { content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] } };
    expect(m.map(toolUse).drafts).toHaveLength(1);
    expect(m.map(toolUse).drafts).toHaveLength(0);
    expect(m.map(prompt).drafts).toEqual([
      {
        kind: "permission_requested",
        messageId: MESSAGE_ID,
        payload: { requestId: "r1", toolName: "Bash", input: {} },
      },
    ]);
    expect(m.map(prompt).drafts).toHaveLength(0);
    expect(m.map(result).drafts).toHaveLength(1);
    expect(m.map(result).drafts).toHaveLength(0);
  });

  it("ignores a subagent's inner conversation", () => {
    const m = createAgentMapper({ messageId: MESSAGE_ID });
    const parent = { parent_tool_use_id: "toolu_task" };
    expect(
      m.map(
        streamEvent({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "inner" } }, parent),
      ).drafts,
    ).toEqual([]);
    expect(m.map(assistant([{ type: "tool_use", id: "inner", name: "Read", input: {} }], parent)).drafts).toEqual([]);
    expect(
      m.map({
        type: "user",
        message: { content: [{ type: "tool_result", tool_use_id: "inner", content: "x" }] },
        ...parent,
      }).drafts,
    ).toEqual([]);
  });

  it("ignores unknown lines silently and counts malformed known ones, never throwing", () => {
    const m = createAgentMapper({ messageId: MESSAGE_ID });
    const unknown = [
      { type: "system", subtype: "status", status: "requesting" },
      { type: "system", subtype: "thinking_tokens", estimated_tokens: 2 },
      { type: "control_response", response: {} },
      { type: "control_request", request_id: "i", request: { subtype: "interrupt" } },
      { type: "something_new", x: 1 },
      streamEvent({ type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: "{" } }),
      streamEvent({ type: "message_stop" }),
      { type: "user", message: { content: "the prompt" } },
    ];
    for (const line of unknown) expect(m.map(line)).toEqual({ drafts: [] });
    expect(m.ignored).toBe(0);

    const malformed = [
      null,
      "a string",
      42,
      { type: 7 },
      { type: "assistant" },
      { type: "assistant", message: { content: "not an array" } },
      { type: "user", message: { content: [{ type: "tool_result" }] } },
      { type: "result", subtype: "success" },
      { type: "control_request", request_id: "r", request: { subtype: "can_use_tool" } },
      streamEvent({ type: "content_block_delta", index: "zero", delta: { type: "text_delta", text: "x" } }),
      streamEvent({ type: "content_block_delta", index: 0, delta: { type: "text_delta" } }),
      { type: "system", subtype: "init" },
    ];
    for (const [i, line] of malformed.entries()) {
      expect(m.map(line)).toEqual({ drafts: [] });
      expect(m.ignored).toBe(i + 1);
    }

    // A malformed block does not lose its well-formed neighbours.
    const outcome = m.map(
      assistant([
        { type: "tool_use", id: 5 },
        { type: "text", text: "kept" },
      ]),
    );
    expect(outcome.drafts).toEqual([{ kind: "text_delta", messageId: MESSAGE_ID, payload: { text: "kept" } }]);
    expect(m.ignored).toBe(malformed.length + 1);
  });

  it("passes huge tool outputs, inputs and texts on whole (the chat's writer fits them)", () => {
    const m = createAgentMapper({ messageId: MESSAGE_ID });
    const big = "é".repeat(200_000);
    const [started] = m.map(
      assistant([{ type: "tool_use", id: "w1", name: "Write", input: { file_path: "a.txt", content: big } }]),
    ).drafts;
    expect(started?.payload).toEqual({ toolUseId: "w1", name: "Write", input: { file_path: "a.txt", content: big } });
    const [done] = m.map({
      type: "user",
      message: { content: [{ type: "tool_result", tool_use_id: "w1", content: big }] },
    }).drafts;
    expect(done).toEqual({ kind: "tool_completed", messageId: MESSAGE_ID, payload: { toolUseId: "w1", output: big } });
    expect(m.map(assistant([{ type: "text", text: big }])).drafts).toEqual([
      { kind: "text_delta", messageId: MESSAGE_ID, payload: { text: big } },
    ]);
  });

  it("classifies a result that could not find the session to resume as session_missing", () => {
    const result = {
      isError: true,
      subtype: "error_during_execution",
      numTurns: 0,
      errors: ["No conversation found with session ID: 3f1e2d4c-1111-4222-8333-944455556666"],
    };
    expect(classifyResult(result)).toEqual({ outcome: "session_missing", message: must(result.errors[0]) });
    expect(classifyResult({ ...result, numTurns: 2 }).outcome).toBe("failed");
  });

  it("emits no usage when the result carries none", () => {
    const m = createAgentMapper({ messageId: MESSAGE_ID });
    const outcome = m.map({ type: "result", subtype: "success", is_error: false, result: "ok", session_id: "s1" });
    expect(outcome).toEqual({
      drafts: [],
      result: { isError: false, subtype: "success", text: "ok", sessionId: "s1" },
      sessionId: "s1",
    });
  });
});

describe("classifyResult", () => {
  const base: AgentResult = { isError: false, subtype: "success" };
  const cases: Array<[string, AgentResult, ReturnType<typeof classifyResult>]> = [
    ["success", { ...base, text: "done", terminalReason: "completed" }, { outcome: "completed" }],
    ["success without a terminal reason", base, { outcome: "completed" }],
    [
      "interrupt while streaming",
      { ...base, isError: true, subtype: "error_during_execution", terminalReason: "aborted_streaming" },
      { outcome: "cancelled" },
    ],
    [
      "interrupt during tools",
      { ...base, isError: true, subtype: "error_during_execution", terminalReason: "aborted_tools" },
      { outcome: "cancelled" },
    ],
    [
      "max turns",
      { ...base, isError: true, subtype: "error_max_turns" },
      { outcome: "failed", code: "max_turns", message: "The agent stopped with error_max_turns" },
    ],
    [
      "budget",
      { ...base, isError: true, subtype: "error_max_budget_usd", errors: ["over budget"] },
      { outcome: "failed", code: "budget_exceeded", message: "over budget" },
    ],
    [
      "execution error",
      { ...base, isError: true, subtype: "error_during_execution", errors: ["a", "b"] },
      { outcome: "failed", code: "agent_error", message: "a; b" },
    ],
    [
      "setup failure reported as success",
      { ...base, text: "policy refused", terminalReason: "turn_setup_failed" },
      { outcome: "failed", code: "agent_setup_failed", message: "policy refused" },
    ],
    [
      "context limit",
      { ...base, isError: true, text: "Prompt is too long", terminalReason: "prompt_too_long" },
      { outcome: "failed", code: "context_limit", message: "Prompt is too long" },
    ],
    [
      "rate limit",
      { ...base, isError: true, text: "API Error: 429", terminalReason: "api_error", apiErrorStatus: 429 },
      { outcome: "failed", code: "model_rate_limited", message: "API Error: 429" },
    ],
    [
      "bad key",
      { ...base, isError: true, text: "Invalid API key", terminalReason: "api_error", apiErrorStatus: 401 },
      { outcome: "failed", code: "model_auth_failed", message: "Invalid API key" },
    ],
    [
      "server error",
      { ...base, isError: true, text: "API Error: 500 overloaded", terminalReason: "api_error", apiErrorStatus: 500 },
      { outcome: "failed", code: "model_error", message: "API Error: 500 overloaded" },
    ],
    [
      "404 only in the text",
      { ...base, isError: true, text: 'API Error: 404 {"type":"not_found_error","message":"model: x"}' },
      {
        outcome: "failed",
        code: "model_not_found",
        message: 'API Error: 404 {"type":"not_found_error","message":"model: x"}',
      },
    ],
  ];
  it.each(cases)("%s", (_name, result, expected) => {
    expect(classifyResult(result)).toEqual(expected);
  });
});
