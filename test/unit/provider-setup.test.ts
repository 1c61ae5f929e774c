/**
 * Which sandbox provider the deployment uses: none without URL and token, and never one reached
 * over plain http outside development (the token and the agent's output would cross the network
 * in clear).
 */
import { describe, expect, it } from "vitest";
import { providerFromEnv } from "../../worker/sandbox/provider-for-env";

describe("providerFromEnv", () => {
  it("needs a URL and a token", () => {
    expect(providerFromEnv({ APP_ENV: "production", SANDBOX_TOKEN: "t" })).toMatchObject({
      ok: false,
      code: "sandbox_not_configured",
    });
    expect(providerFromEnv({ APP_ENV: "production", SANDBOX_URL: "https://sandbox.example.com" })).toMatchObject({
      ok: false,
      code: "sandbox_not_configured",
    });
    expect(providerFromEnv({ APP_ENV: "production", SANDBOX_URL: "not a url", SANDBOX_TOKEN: "t" })).toMatchObject({
      ok: false,
      code: "sandbox_not_configured",
    });
  });

  it("accepts http only in development", () => {
    const http = { SANDBOX_URL: "http://sandbox.example.com", SANDBOX_TOKEN: "t" };
    for (const APP_ENV of ["production", "staging", undefined]) {
      expect(providerFromEnv({ ...http, APP_ENV }), String(APP_ENV)).toMatchObject({
        ok: false,
        code: "sandbox_insecure_url",
      });
    }
    expect(providerFromEnv({ ...http, APP_ENV: "development" }).ok).toBe(true);
    expect(
      providerFromEnv({ SANDBOX_URL: "https://sandbox.example.com", SANDBOX_TOKEN: "t", APP_ENV: "production" }).ok,
    ).toBe(true);
  });
});
