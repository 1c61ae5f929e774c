/**
 * How a run ends, as the terminal event its message gets: from the agent's exit (judged by the
 * provider's limit error, else by its `result` line, not the exit code) or from any error thrown. Pure; used by the run
 * driver and the run engine, which append exactly one of these per message.
 */
import { ProviderError } from "../sandbox/provider";
import { type AgentResult, classifyResult } from "../sandbox/stream-json";

export type Terminal =
  | { kind: "run_completed"; payload: { durationMs?: number; numTurns?: number; costUsd?: number } }
  | { kind: "run_failed"; payload: { code: string; error: string } }
  | { kind: "run_cancelled"; payload: { reason: "user" | "send_now" | "removed_from_queue" | "system" } };

/** A failure before or around the provider that has its own code (no provider configured, a lost sandbox). */
export class SetupError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "SetupError";
    this.code = code;
  }
}

export function failed(code: string, error: string): Terminal {
  return { kind: "run_failed", payload: { code, error } };
}

/** The terminal event for an agent process that exited, given its result line (if any) and stderr tail. */
export function exitOutcome(
  record: {
    exitCode: number | null;
    signal: string | null;
    cancelled: boolean;
    error?: { code: string; message: string };
  },
  result: AgentResult | undefined,
  stderr: string,
): Terminal {
  // The provider ended the run because its sandbox broke a limit: that is the run's outcome.
  if (record.error) return failed(record.error.code, `The sandbox stopped the agent: ${record.error.message}`);
  if (result) {
    const outcome = classifyResult(result);
    switch (outcome.outcome) {
      case "completed":
        return {
          kind: "run_completed",
          payload: {
            ...(result.durationMs !== undefined ? { durationMs: result.durationMs } : {}),
            ...(result.numTurns !== undefined ? { numTurns: result.numTurns } : {}),
            ...(result.costUsd !== undefined ? { costUsd: result.costUsd } : {}),
          },
        };
      case "cancelled":
        return { kind: "run_cancelled", payload: { reason: "user" } };
      case "session_missing":
        return failed("agent_session_missing", outcome.message);
      case "failed":
        return failed(outcome.code, outcome.message);
    }
  }
  if (record.cancelled) return { kind: "run_cancelled", payload: { reason: "system" } };
  const how = record.signal ? `signal ${record.signal}` : `exit code ${record.exitCode}`;
  const tail = stderr.trim();
  return failed("agent_exited", `The agent stopped (${how}) without a result.${tail ? ` ${tail}` : ""}`);
}

const providerPrefix: Record<string, string> = {
  provider_unreachable: "The sandbox provider cannot be reached",
  provider_timeout: "The sandbox provider did not answer in time",
  provider_unauthorized: "The sandbox provider refused our credentials",
  provider_error: "The sandbox provider failed",
  provider_protocol: "The sandbox provider answered outside the protocol",
};

/** Any error from a run's bootstrap or stream, as the message's `run_failed`. */
export function failureOutcome(error: unknown): Terminal {
  if (error instanceof ProviderError) {
    const prefix = providerPrefix[error.code] ?? "The sandbox provider refused the run";
    return failed(error.code, `${prefix}: ${error.message}`);
  }
  if (error instanceof SetupError) return failed(error.code, error.message);
  return failed(
    "internal_error",
    `The run failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`,
  );
}
