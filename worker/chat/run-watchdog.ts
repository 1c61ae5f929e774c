/**
 * The watchdog's judgement of a live run that has gone quiet: first the provider's silence (not
 * even a heartbeat), then the agent's (no output). While the agent waits for the user to answer a
 * permission prompt, its silence is the user's, not a fault. Pure; the run engine calls it from
 * the chat's alarm.
 */
import type { Terminal } from "./run-outcome";

export type SilenceLimits = { providerSilenceMs: number; agentSilenceMs: number };

export type Activity = {
  /** When the provider last sent anything (a record, a heartbeat, an answer during setup). */
  lastProviderAt: number;
  /** When the agent last printed something. */
  lastAgentAt: number;
  /** True while a permission prompt of the run waits for the user. */
  waitingForUser: boolean;
};

export function silenceOutcome(activity: Activity, now: number, limits: SilenceLimits): Terminal | null {
  const checks = [
    {
      since: activity.lastProviderAt,
      limit: limits.providerSilenceMs,
      code: "provider_timeout",
      who: "The sandbox provider sent nothing",
    },
    ...(activity.waitingForUser
      ? []
      : [
          {
            since: activity.lastAgentAt,
            limit: limits.agentSilenceMs,
            code: "agent_timeout",
            who: "The agent produced no output",
          },
        ]),
  ];
  for (const { since, limit, code, who } of checks) {
    if (now - since <= limit) continue;
    const seconds = Math.round((now - since) / 1000);
    return { kind: "run_failed", payload: { code, error: `${who} for ${seconds} s; the run was stopped.` } };
  }
  return null;
}
