/**
 * The scheduler's pure rules under plain Node: what reconciliation makes of an open run given its
 * message and chat in D1, and the bounded-concurrency hand-over (never more calls in flight than
 * the limit, results in order).
 */
import { describe, expect, it } from "vitest";
import { mapLimit } from "../../worker/scheduler/map-limit";
import { decide, type OpenRun } from "../../worker/scheduler/reconcile";

const NOW = 1_800_000_000_000;
const rules = { now: NOW, pendingGraceMs: 180_000, maxDispatchAttempts: 3 };

function open(patch: Partial<OpenRun>): OpenRun {
  return {
    id: "run-1",
    status: "dispatched",
    target: "chat",
    chat_id: "chat-1",
    user_message_id: "user-1",
    assistant_message_id: "assistant-1",
    claimed_at: NOW - 60_000,
    dispatch_attempts: 1,
    error_text: null,
    prompt: null,
    model: "m",
    permission_mode: "default",
    message_status: null,
    message_error: null,
    message_error_code: null,
    message_updated_at: null,
    chat_exists: 1,
    ...patch,
  };
}

describe("reconciliation decisions", () => {
  it("settles a run whose message ended, with the message's error code and text", () => {
    expect(
      decide(
        open({
          message_status: "failed",
          message_error: "boom",
          message_error_code: "model_error",
          message_updated_at: 5,
        }),
        rules,
      ),
    ).toEqual({
      kind: "settle",
      outcome: {
        assistantMessageId: "assistant-1",
        status: "failed",
        errorCode: "model_error",
        errorText: "boom",
        endedAt: 5,
      },
    });
    expect(decide(open({ message_status: "completed", message_updated_at: 7 }), rules)).toMatchObject({
      kind: "settle",
      outcome: { status: "completed", errorCode: null, errorText: null, endedAt: 7 },
    });
    expect(decide(open({ status: "queued", message_status: "cancelled" }), rules)).toMatchObject({
      kind: "settle",
      outcome: { status: "cancelled" },
    });
  });

  it("follows a message that started or waits in the chat's queue", () => {
    expect(decide(open({ status: "pending", message_status: "streaming" }), rules)).toEqual({
      kind: "progress",
      status: "dispatched",
    });
    expect(decide(open({ status: "queued", message_status: "streaming" }), rules)).toEqual({
      kind: "progress",
      status: "dispatched",
    });
    expect(decide(open({ status: "pending", message_status: "queued" }), rules)).toEqual({
      kind: "progress",
      status: "queued",
    });
    expect(decide(open({ status: "dispatched", message_status: "streaming" }), rules)).toEqual({ kind: "wait" });
  });

  it("a gone chat fails a target chat's run and cancels a new_chat run", () => {
    expect(decide(open({ chat_exists: 0 }), rules)).toMatchObject({
      kind: "settle",
      outcome: { status: "failed", errorCode: "chat_deleted" },
    });
    expect(decide(open({ target: "new_chat", chat_exists: 0, status: "queued" }), rules)).toMatchObject({
      kind: "settle",
      outcome: { status: "cancelled", errorCode: "chat_deleted" },
    });
  });

  it("waits for a handed-over message that D1 does not have yet", () => {
    expect(decide(open({ claimed_at: NOW - 3_600_000 }), rules)).toEqual({ kind: "wait" });
  });

  it("hands a pending run over again only after the grace period, then gives up", () => {
    const pending = {
      status: "pending" as const,
      prompt: "do it",
      dispatch_attempts: 1,
      error_text: "Could not reach",
    };
    expect(decide(open({ ...pending, claimed_at: NOW - 60_000 }), rules)).toEqual({ kind: "wait" });
    expect(decide(open({ ...pending, claimed_at: NOW - 180_000 }), rules)).toEqual({
      kind: "redispatch",
      handover: {
        runId: "run-1",
        chatId: "chat-1",
        userMessageId: "user-1",
        assistantMessageId: "assistant-1",
        prompt: "do it",
        model: "m",
        permissionMode: "default",
      },
    });
    expect(decide(open({ ...pending, claimed_at: NOW - 600_000, dispatch_attempts: 3 }), rules)).toMatchObject({
      kind: "settle",
      outcome: { status: "failed", errorCode: "dispatch_failed", errorText: expect.stringMatching(/after 3 attempts/) },
    });
  });
});

describe("mapLimit", () => {
  it("keeps at most `limit` calls in flight and returns results in input order", async () => {
    let inFlight = 0;
    let most = 0;
    const items = Array.from({ length: 50 }, (_, i) => i);
    const results = await mapLimit(items, 7, async (i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, (i * 7) % 5));
      inFlight--;
      return i * 2;
    });
    expect(results).toEqual(items.map((i) => i * 2));
    expect(most).toBe(7);
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });
});
