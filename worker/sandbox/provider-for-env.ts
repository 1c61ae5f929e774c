/**
 * The configured sandbox provider for Worker routes (the chat's Durable Object builds its own the
 * same way). Null when the deployment has no provider configured.
 */
import { createHttpProvider } from "./http-provider";
import type { SandboxProvider } from "./provider";

export function providerFromEnv(env: { SANDBOX_URL?: string; SANDBOX_TOKEN?: string }): SandboxProvider | null {
  return env.SANDBOX_URL && env.SANDBOX_TOKEN
    ? createHttpProvider({ baseUrl: env.SANDBOX_URL, token: env.SANDBOX_TOKEN })
    : null;
}
