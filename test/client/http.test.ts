import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { ApiError, onUnauthorized, request } from "../../client/src/api/http";

/** The browser's fetch is the edge here: each test answers it with a canned response. */
function answer(status: number, body: unknown, headers: Record<string, string> = {}) {
  vi.stubGlobal(
    "fetch",
    vi.fn(async () => new Response(body === undefined ? null : JSON.stringify(body), { status, headers })),
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
});

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error: unknown) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error("expected the request to fail");
}

describe("the client's API errors", () => {
  it("carries the server's code and message; validation details are spelled out", async () => {
    answer(400, {
      error: {
        code: "invalid_request",
        message: "The body is not valid",
        details: [{ path: "password", message: "at least 8 characters" }],
      },
    });
    const error = await failure(request("POST", "/api/auth/signup", z.unknown(), { body: {} }));
    expect(error).toMatchObject({ status: 400, code: "invalid_request" });
    expect(error.message).toBe("The body is not valid: password: at least 8 characters");
  });

  it("a 429 says when to try again", async () => {
    answer(429, { error: { code: "rate_limited", message: "Too many messages" } }, { "retry-after": "60" });
    const error = await failure(request("POST", "/api/chats/x/messages", z.unknown(), { body: {} }));
    expect(error.message).toBe("Too many messages. Try again in 60 s.");
  });

  it("a 401 tells whoever listens that the session is gone (unless the caller expects it)", async () => {
    const listener = vi.fn();
    const stop = onUnauthorized(listener);
    answer(401, { error: { code: "unauthorized", message: "Sign in first" } });
    await failure(request("GET", "/api/chats", z.unknown()));
    expect(listener).toHaveBeenCalledTimes(1);
    await failure(request("GET", "/api/auth/me", z.unknown(), { quiet401: true }));
    expect(listener).toHaveBeenCalledTimes(1);
    stop();
  });

  it("no network and answers of the wrong shape become plain errors", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => {
        throw new TypeError("Failed to fetch");
      }),
    );
    expect(await failure(request("GET", "/api/chats", z.unknown()))).toMatchObject({ code: "network_error" });
    answer(200, { chats: "not a list" });
    vi.spyOn(console, "error").mockImplementation(() => {});
    const error = await failure(request("GET", "/api/chats", z.object({ chats: z.array(z.string()) })));
    expect(error).toMatchObject({ code: "bad_response" });
  });
});
