/**
 * Delivers a user's permission answer to the provider, for the run engine. An answer whose reply
 * was lost may have been taken all the same, so a failed delivery is tried again, and on a retry
 * "not pending" or "run exited" means the earlier try got through (the agent went on with it):
 * the answer counts. Only the chat's engine answers its prompts (it claims one before sending), so
 * no one else can have answered it.
 */
import { type PermissionAnswer, ProviderError, type SandboxProvider } from "../sandbox/provider";

export type Delivery = "taken" | "not_pending" | "run_exited" | "failed";

const RETRY_DELAYS_MS = [200, 500, 1000];

export async function deliverAnswer(
  provider: SandboxProvider,
  sandboxId: string,
  runId: string,
  answer: PermissionAnswer,
): Promise<Delivery> {
  for (let attempt = 0; ; attempt++) {
    try {
      await provider.sendPermission(sandboxId, runId, answer);
      return "taken";
    } catch (error: unknown) {
      if (!(error instanceof ProviderError)) throw error;
      if (error.code === "not_pending" || error.code === "run_exited") {
        if (attempt > 0) return "taken";
        return error.code === "not_pending" ? "not_pending" : "run_exited";
      }
      if (!error.retryable || attempt >= RETRY_DELAYS_MS.length) return "failed";
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[attempt]));
  }
}
