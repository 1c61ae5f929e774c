/**
 * The configured sandbox provider, for the chat's Durable Object and the files routes: built from
 * SANDBOX_URL and SANDBOX_TOKEN, or the reason there is none. Outside development the provider must
 * be reached over https: the token and the agent's output would otherwise cross the network in clear.
 */
import { createHttpProvider } from "./http-provider";
import type { SandboxProvider } from "./provider";

export type ProviderSetup =
  | { ok: true; provider: SandboxProvider }
  | { ok: false; code: "sandbox_not_configured" | "sandbox_insecure_url"; message: string };

export function providerFromEnv(env: {
  APP_ENV?: string;
  SANDBOX_URL?: string;
  SANDBOX_TOKEN?: string;
}): ProviderSetup {
  const { SANDBOX_URL: url, SANDBOX_TOKEN: token } = env;
  if (!url || !token) {
    return {
      ok: false,
      code: "sandbox_not_configured",
      message: "No sandbox provider is configured (SANDBOX_URL and SANDBOX_TOKEN).",
    };
  }
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    return { ok: false, code: "sandbox_not_configured", message: "SANDBOX_URL is not a URL." };
  }
  if (protocol !== "https:" && !(protocol === "http:" && env.APP_ENV === "development")) {
    return {
      ok: false,
      code: "sandbox_insecure_url",
      message: "SANDBOX_URL must use https outside development (APP_ENV=development allows http).",
    };
  }
  return { ok: true, provider: createHttpProvider({ baseUrl: url, token }) };
}
