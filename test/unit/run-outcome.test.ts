/**
 * How a run's end becomes its terminal event: the provider's limit error first (the sandbox
 * stopped the agent), then the agent's result line, then how the process ended.
 */
import { describe, expect, it } from "vitest";
import { exitOutcome } from "../../worker/chat/run-outcome";

const exit = { exitCode: null, signal: "SIGKILL", cancelled: false };

describe("exitOutcome", () => {
  it("fails with the provider's limit code when the sandbox stopped the agent, whatever the result said", () => {
    const error = { code: "memory_limit", message: "used more than 512 MiB of memory" };
    expect(exitOutcome({ ...exit, error }, { isError: false, subtype: "success" }, "")).toEqual({
      kind: "run_failed",
      payload: { code: "memory_limit", error: "The sandbox stopped the agent: used more than 512 MiB of memory" },
    });
  });

  it("judges by the result line, then by the process", () => {
    expect(exitOutcome({ ...exit, exitCode: 0, signal: null }, { isError: false, subtype: "success" }, "")).toEqual({
      kind: "run_completed",
      payload: {},
    });
    expect(exitOutcome(exit, undefined, "killed\n")).toEqual({
      kind: "run_failed",
      payload: { code: "agent_exited", error: "The agent stopped (signal SIGKILL) without a result. killed" },
    });
    expect(exitOutcome({ ...exit, cancelled: true }, undefined, "")).toEqual({
      kind: "run_cancelled",
      payload: { reason: "system" },
    });
  });
});
