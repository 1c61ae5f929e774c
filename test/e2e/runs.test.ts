/**
 * Runs as a person meets them in real Chromium: a bootstrap failure (a model the model API does
 * not know) stays on screen, failed, with its code and text, and Retry works once the model is
 * fixed; a message queued while a reply streams shows as a chip and "Send now" runs it at once;
 * Stop ends a reply as "Stopped"; a long chat loads older messages on scroll-up without jumping.
 */
import { describe, expect, it } from "vitest";
import {
  chromiumForFile,
  createChat,
  screenshot,
  script,
  signedInContext,
  storedMessages,
  watchErrors,
  words,
} from "./support/app.ts";

const browser = chromiumForFile();

describe("runs in the browser", () => {
  it("a bootstrap failure shows a failed message with its error, and Retry works", async () => {
    const { context } = await signedInContext(browser());
    const chatId = await createChat(context, { model: "invalid-model-name", permissionMode: "bypassPermissions" });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`/chats/${chatId}`);
    const marker = await script([{ blocks: [{ type: "text", text: "Now it works." }] }]);
    await page.locator("#composer").fill(`${marker} try this`);
    await page.keyboard.press("Enter");
    const failed = page.locator('.message.agent[data-status="failed"]');
    await failed.waitFor({ timeout: 60_000 });
    expect(await failed.locator(".failure code").innerText()).toBe("model_not_found");
    expect(await failed.locator(".failure").innerText()).toContain("This reply failed.");
    // The sidebar marks the chat failed; the message survives a reload, still failed.
    await page.locator(`[data-chat-id="${chatId}"] .mark.failed`).waitFor();
    await screenshot(page, "chat-failed");
    await page.reload();
    await failed.waitFor();
    expect(await page.locator(".message.user .bubble").innerText()).toBe(`${marker} try this`);

    // Fix the model in the header, then retry: the same prompt runs again and completes.
    const model = page.getByLabel("Model");
    await model.fill("claude-sonnet-4-5");
    await model.press("Enter");
    await expect
      .poll(
        async () =>
          ((await (await context.request.get(`/api/chats/${chatId}`)).json()) as { chat: { model: string } }).chat
            .model,
      )
      .toBe("claude-sonnet-4-5");
    await failed.getByRole("button", { name: "Retry" }).click();
    await page
      .locator('.message.agent[data-status="completed"]', { hasText: "Now it works." })
      .waitFor({ timeout: 60_000 });
    expect(await page.locator(".message.user .bubble").allInnerTexts()).toEqual([
      `${marker} try this`,
      `${marker} try this`,
    ]);
    // The failed one is still there, above the retry.
    expect(
      await page.locator(".message.agent").evaluateAll((els) => els.map((e) => e.getAttribute("data-status"))),
    ).toEqual(["failed", "completed"]);
    const stored = await storedMessages(context, chatId);
    expect(stored.filter((m) => m.role === "assistant").map((m) => m.status)).toEqual(["failed", "completed"]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("a message sent while a reply streams is queued; edit it, then Send now cancels the running reply", async () => {
    const { context } = await signedInContext(browser());
    const chatId = await createChat(context, { permissionMode: "bypassPermissions" });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`/chats/${chatId}`);
    const slow = await script([{ blocks: [{ type: "text", text: words("slow", 200) }], delayMs: 60, chunkSize: 5 }]);
    const next = await script([{ blocks: [{ type: "text", text: "The queued one ran." }] }]);
    await page.locator("#composer").fill(`${slow} take your time`);
    await page.keyboard.press("Enter");
    await page.locator(".message.agent .markdown", { hasText: "slow2 " }).waitFor();
    await page.locator("#composer").fill(`${next} queued draft`);
    await page.getByRole("button", { name: "Queue" }).click();
    const chip = page.locator(".queue .chip").first();
    await chip.waitFor();
    // A second one, removed again.
    await page.locator("#composer").fill("never mind this one");
    await page.keyboard.press("Enter");
    const extra = page.locator(".queue .chip", { hasText: "never mind this one" });
    await extra.waitFor();
    await page.locator(`[data-chat-id="${chatId}"] .mark.queued`, { hasText: "queued 2" }).waitFor();
    await extra.getByRole("button", { name: "Remove" }).click();
    await expect.poll(() => page.locator(".queue .chip").count()).toBe(1);
    expect(await chip.locator(".chip-text").innerText()).toBe(`${next} queued draft`);
    await page.locator(`[data-chat-id="${chatId}"] .mark.queued`, { hasText: "queued 1" }).waitFor();
    await chip.getByRole("button", { name: "Edit" }).click();
    await chip.getByRole("textbox").fill(`${next} queued, edited`);
    await chip.getByRole("button", { name: "Save" }).click();
    await chip.locator(".chip-text", { hasText: "queued, edited" }).waitFor();
    await screenshot(page, "chat-queue");
    await chip.getByRole("button", { name: "Send now" }).click();

    await page.locator(".message.agent .stopped").waitFor();
    await page
      .locator('.message.agent[data-status="completed"]', { hasText: "The queued one ran." })
      .waitFor({ timeout: 60_000 });
    await expect.poll(() => chip.count()).toBe(0);
    // The removed message stays in the history as sent, unanswered (its reply never ran).
    expect(await page.locator(".message.user .bubble").allInnerTexts()).toEqual([
      `${slow} take your time`,
      `${next} queued, edited`,
      "never mind this one",
    ]);
    expect(
      await page.locator(".message.agent").evaluateAll((els) => els.map((e) => e.getAttribute("data-status"))),
    ).toEqual(["cancelled", "completed", "cancelled"]);
    expect(await page.locator(".message.agent .removed").allInnerTexts()).toEqual([
      "Removed from the queue before it ran",
    ]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("Stop (and Esc) end a streaming reply as Stopped, keeping what it wrote", async () => {
    const { context } = await signedInContext(browser());
    const chatId = await createChat(context, { permissionMode: "bypassPermissions" });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`/chats/${chatId}`);
    for (const how of ["button", "escape"] as const) {
      const marker = await script([{ blocks: [{ type: "text", text: words(how, 300) }], delayMs: 60, chunkSize: 5 }]);
      await page.locator("#composer").fill(`${marker} go on`);
      await page.keyboard.press("Enter");
      const agent = page.locator(".message.agent").last();
      await agent.locator(".markdown", { hasText: `${how}3 ` }).waitFor();
      if (how === "button") await page.locator(".chat-header").getByRole("button", { name: "Stop" }).click();
      else await page.keyboard.press("Escape");
      await agent.locator(".stopped").waitFor();
      expect(await agent.getAttribute("data-status")).toBe("cancelled");
      const kept = (await agent.locator(".markdown").innerText()).replace(/\s+/g, " ").trim();
      expect(kept).toMatch(new RegExp(`^${how}1 ${how}2 ${how}3`));
    }
    expect(errors).toEqual([]);
    await context.close();
  });

  it("a long chat shows its newest messages and loads older ones on scroll-up without jumping", async () => {
    const { context } = await signedInContext(browser());
    const chatId = await createChat(context, { permissionMode: "bypassPermissions" });
    // 27 prompts make 54 messages: more than the 50 the first read returns (sent at once, they queue;
    // each prompt is in the log before its reply).
    const runs = 27;
    const marker = await script([{ blocks: [{ type: "text", text: "ok" }] }]);
    for (let i = 1; i <= runs; i++) {
      const res = await context.request.post(`/api/chats/${chatId}/messages`, {
        data: { content: `${marker} prompt number ${i}\n${"filler line\n".repeat(6)}` },
      });
      expect(res.status()).toBe(202);
    }
    await expect
      .poll(async () => (await storedMessages(context, chatId)).filter((m) => m.status === "completed").length, {
        timeout: 110_000,
        interval: 1000,
      })
      .toBe(50);

    const page = await context.newPage();
    const errors = watchErrors(page);
    const older: string[] = [];
    page.on("request", (req) => {
      if (req.url().includes("/messages?before=")) older.push(req.url());
    });
    await page.goto(`/chats/${chatId}`);
    await page.locator(".message.user", { hasText: `prompt number ${runs}` }).waitFor();
    const timeline = page.locator(".timeline");
    // The newest messages are in view, at the bottom.
    await expect
      .poll(() => timeline.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight))
      .toBeLessThan(50);
    const prompt = (n: number) =>
      page.locator(".message.user", { hasText: new RegExp(`prompt number ${n}\\s+filler`) });
    // Every prompt on screen has its reply right after it.
    const pairs = async () =>
      page
        .locator(".message")
        .evaluateAll((els) => els.map((e) => (e.classList.contains("user") ? "U" : "A")).join(""));
    expect(await prompt(1).count()).toBe(0);
    expect(await prompt(2).count()).toBe(0);
    expect(await pairs()).toBe("UA".repeat(runs - 2));

    // Scroll to the top: the older page comes in above and what the reader sees stays put. The
    // older page is held back until the position before it is measured.
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route("**/messages?before=*", async (route) => {
      await gate;
      await route.continue();
    });
    await timeline.evaluate((el) => {
      el.scrollTop = 0;
    });
    await expect.poll(() => older.length).toBe(1);
    const anchor = prompt(3);
    const before = (await anchor.boundingBox())?.y ?? Number.NaN;
    release();
    await prompt(1).waitFor({ state: "attached" });
    expect(await pairs()).toBe("UA".repeat(runs));
    const after = (await anchor.boundingBox())?.y ?? Number.NaN;
    expect(Math.abs(after - before)).toBeLessThan(2);
    // Scrolling on up reaches the first prompt.
    await timeline.evaluate((el) => {
      el.scrollTop = 0;
    });
    expect(await prompt(1).isVisible()).toBe(true);
    expect(await page.locator('.message.agent[data-status="completed"]').count()).toBe(runs);
    expect(errors).toEqual([]);
    await context.close();
  });
});
