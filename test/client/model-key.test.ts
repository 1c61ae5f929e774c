/**
 * The model-key settings model under Node: it shows only what the server says (set, last 4), sends
 * the key typed into the field and empties the field as the request leaves (also when it fails),
 * and no signal or log line ever holds the key. The real API wrapper runs over a stubbed `fetch`
 * (the browser's edge); errors are the server's, in its words.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { modelKeyApi } from "../../client/src/api/model-key";
import { ModelKeySettings } from "../../client/src/models/model-key";

const KEY = "sk-ant-api03-secret-value-Zx9Q";

type Answer = { status: number; body?: unknown };
/** Stubs fetch: each call takes the next answer, after `gate` (if any) resolves; requests are kept. */
function serve(...answers: Answer[]) {
  const requests: { method: string; url: string; body: string | null }[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let held = false;
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit) => {
      requests.push({ method: init.method ?? "GET", url, body: typeof init.body === "string" ? init.body : null });
      if (held) await gate;
      const answer = answers.shift() ?? { status: 500 };
      return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), { status: answer.status });
    }),
  );
  return {
    requests,
    hold: () => {
      held = true;
    },
    release: () => release(),
  };
}

/** Everything the model's signals hold, as text. */
function signalText(model: ModelKeySettings): string {
  return JSON.stringify([model.view.value, model.error.value, model.busy.value, model.notice.value]);
}

const logged: string[] = [];
function watchConsole(): void {
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(args.map((a) => (a instanceof Error ? `${a.message} ${a.stack}` : JSON.stringify(a))).join(" "));
    });
  }
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  logged.length = 0;
});

describe("the model key in settings", () => {
  it("shows whether a key is set and only its last 4", async () => {
    serve({ status: 200, body: { modelKey: { set: true, last4: "Zx9Q", updatedAt: 5 } } });
    const model = new ModelKeySettings(modelKeyApi);
    await model.load();
    expect(model.view.value).toEqual({ set: true, last4: "Zx9Q", updatedAt: 5 });
  });

  it("sends the key, empties the field as the request leaves, and keeps only the last 4", async () => {
    watchConsole();
    const server = serve({ status: 200, body: { modelKey: { set: true, last4: "Zx9Q", updatedAt: 9 } } });
    server.hold();
    const model = new ModelKeySettings(modelKeyApi);
    const field = { value: KEY };
    const saving = model.save(field);
    // The request is on its way and the field is already empty.
    expect(field.value).toBe("");
    expect(server.requests).toEqual([
      { method: "PUT", url: "/api/settings/model-key", body: JSON.stringify({ key: KEY }) },
    ]);
    expect(model.busy.value).toBe("save");
    expect(signalText(model)).not.toContain(KEY);
    server.release();
    expect(await saving).toBe(true);
    expect(model.view.value).toEqual({ set: true, last4: "Zx9Q", updatedAt: 9 });
    expect(model.notice.value).toBe("Saved. Your runs use the key ending in Zx9Q.");
    expect(signalText(model)).not.toContain(KEY);
    expect(logged.join("\n")).not.toContain("secret-value");
  });

  it("a refused key (400) empties the field too and says why in the server's words", async () => {
    const server = serve({
      status: 400,
      body: {
        error: {
          code: "invalid_request",
          message: "The body is not valid",
          details: [{ path: "key", message: "the key must be printable ASCII without spaces" }],
        },
      },
    });
    const model = new ModelKeySettings(modelKeyApi);
    const field = { value: "sk ant with spaces" };
    expect(await model.save(field)).toBe(false);
    expect(server.requests).toHaveLength(1);
    expect(field.value).toBe("");
    expect(model.error.value).toBe(
      "The body is not valid: key: the key must be printable ASCII without spaces. Paste the key again.",
    );
    expect(signalText(model)).not.toContain("sk ant with spaces");
  });

  it("a deployment without an encryption key (503 encryption_unavailable) says so plainly", async () => {
    serve({
      status: 503,
      body: { error: { code: "encryption_unavailable", message: "This deployment cannot store model keys yet" } },
    });
    const model = new ModelKeySettings(modelKeyApi);
    const field = { value: KEY };
    expect(await model.save(field)).toBe(false);
    expect(field.value).toBe("");
    expect(model.error.value).toBe("This deployment cannot store model keys yet");
    expect(model.view.value).toBeNull();
  });

  it("an off-shape answer is logged without the key", async () => {
    watchConsole();
    serve({ status: 200, body: { modelKey: { set: "maybe", key: "echo" } } });
    const model = new ModelKeySettings(modelKeyApi);
    const field = { value: KEY };
    expect(await model.save(field)).toBe(false);
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join("\n")).not.toContain("secret-value");
    expect(signalText(model)).not.toContain(KEY);
  });

  it("an empty field sends nothing", async () => {
    const server = serve();
    const model = new ModelKeySettings(modelKeyApi);
    expect(await model.save({ value: "   " })).toBe(false);
    expect(server.requests).toHaveLength(0);
    expect(model.error.value).toBe("Paste your Anthropic API key first.");
  });

  it("removes the key", async () => {
    const server = serve(
      { status: 200, body: { modelKey: { set: true, last4: "Zx9Q", updatedAt: 5 } } },
      { status: 204 },
    );
    const model = new ModelKeySettings(modelKeyApi);
    await model.load();
    expect(await model.remove()).toBe(true);
    expect(server.requests.map((r) => r.method)).toEqual(["GET", "DELETE"]);
    expect(model.view.value).toEqual({ set: false });
    expect(model.notice.value).toBe("Removed. Your runs no longer use your own key.");
  });
});
