/**
 * The user's own model key in the settings page, in real Chromium against the real worker (with an
 * ENCRYPTION_KEY), provider, CLI and scripted model: a refused key says why; a set key shows only
 * its last 4, is nowhere in the page, its storage or the input afterwards, and is the credential the
 * model receives on the next run; removed, runs use the service's key again. A screenshot of the
 * settings page with a key set goes to test-results/screens/.
 */
import type { BrowserContext, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import {
  chromiumForFile,
  createChat,
  modelRequests,
  screenshot,
  script,
  signedInContext,
  watchErrors,
} from "./support/app.ts";

const browser = chromiumForFile();
/** The service's own key: what the test provider hands the model when the user has none. */
const SERVICE_KEY = "test-key";

/** Sends a scripted message in a new chat through the page and waits for the reply; returns the marker. */
async function runOnce(context: BrowserContext, page: Page, text: string): Promise<string> {
  const chatId = await createChat(context, { permissionMode: "bypassPermissions" });
  const marker = await script([{ blocks: [{ type: "text", text }] }]);
  await page.goto(`/chats/${chatId}`);
  await page.locator("#composer").fill(`${marker} answer briefly`);
  await page.keyboard.press("Enter");
  await page.locator('.message.agent[data-status="completed"]', { hasText: text }).waitFor();
  return marker;
}

/** Everything the page keeps: its HTML, its storage and every input's value. */
async function pageState(page: Page): Promise<string> {
  return page.evaluate(() =>
    JSON.stringify({
      html: document.documentElement.outerHTML,
      local: Object.entries(localStorage),
      session: Object.entries(sessionStorage),
      inputs: [...document.querySelectorAll("input, textarea")].map((el) => (el as HTMLInputElement).value),
    }),
  );
}

describe("the model key in settings", () => {
  it("sets a key (only its last 4 shown), a run uses it, and removing it goes back to the service's key", async () => {
    const { context } = await signedInContext(browser());
    const page = await context.newPage();
    const errors = watchErrors(page);
    const key = `sk-ant-api03-e2e-${crypto.randomUUID().replaceAll("-", "")}`;
    const last4 = key.slice(-4);

    await page.goto("/settings");
    const card = page.locator("section", { has: page.getByRole("heading", { name: "Your model key" }) });
    await card.getByText("No key of yours is set").waitFor();
    const input = card.getByLabel("Key", { exact: true });
    expect(await input.getAttribute("type")).toBe("password");

    // A refused key: the server's reason beside the form, the input emptied.
    await input.fill("short");
    await card.getByRole("button", { name: "Save key" }).click();
    await card.getByRole("alert").filter({ hasText: "the key is too short" }).waitFor();
    expect(await card.getByRole("alert").innerText()).toContain("Paste the key again.");
    expect(await input.inputValue()).toBe("");
    expect(
      ((await (await context.request.get("/api/settings/model-key")).json()) as { modelKey: unknown }).modelKey,
    ).toEqual({ set: false });

    await input.fill(key);
    await card.getByRole("button", { name: "Save key" }).click();
    await card.locator(".last4", { hasText: last4 }).waitFor();
    await card
      .getByRole("status")
      .filter({ hasText: `ending in ${last4}` })
      .waitFor();
    expect(await card.getByLabel("New key", { exact: true }).inputValue()).toBe("");
    expect(await pageState(page)).not.toContain(key.slice(0, -4));
    await screenshot(page, "settings-model-key");
    await page.reload();
    await card.locator(".last4", { hasText: last4 }).waitFor();
    expect(await pageState(page)).not.toContain(key.slice(0, -4));

    // The next run reaches the model with the user's key.
    const withKey = await runOnce(context, page, "Answered with your key.");
    const seen = await modelRequests(withKey);
    expect(seen.length).toBeGreaterThan(0);
    for (const r of seen) expect(r.apiKey).toBe(key);
    expect(await pageState(page)).not.toContain(key.slice(0, -4));

    // Removed (after a confirmation): the page says so and runs use the service's key again.
    await page.goto("/settings");
    await card.getByRole("button", { name: "Remove key" }).click();
    await card.getByText(`Remove the key ending in ${last4}?`).waitFor();
    await card.getByRole("button", { name: "Remove", exact: true }).click();
    await card.getByText("No key of yours is set").waitFor();
    await card.getByRole("status").filter({ hasText: "Removed." }).waitFor();
    expect(
      ((await (await context.request.get("/api/settings/model-key")).json()) as { modelKey: unknown }).modelKey,
    ).toEqual({ set: false });
    const withoutKey = await runOnce(context, page, "Answered with the service's key.");
    const after = await modelRequests(withoutKey);
    expect(after.length).toBeGreaterThan(0);
    for (const r of after) expect(r.apiKey).toBe(SERVICE_KEY);
    expect(errors).toEqual([]);
    await context.close();
  });
});
