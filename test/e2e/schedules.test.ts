/**
 * The schedules pages in real Chromium against the real worker, provider, CLI and scripted model:
 * a schedule made with a live preview, listed with its next run, run now and followed from its run
 * history into the chat where the run completes; pause, resume and edit; bad rules and zones shown
 * beside their fields with the server's words; one of the user's chats as the target; a phone-sized
 * screen. Screenshots go to test-results/screens/.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import {
  chromiumForFile,
  createChat,
  screenshot,
  script,
  signedInContext,
  storedMessages,
  storedText,
  watchErrors,
} from "./support/app.ts";

const browser = chromiumForFile();

type ScheduleView = {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  nextRunAt: number | null;
  target: { type: string; chatId?: string | null };
  paused: { code: string; reason: string } | null;
};

/** A saved schedule's page: not `/schedules/new`, which the form itself is on. */
const SAVED_SCHEDULE_PAGE = /\/schedules\/(?!new$)[^/]+$/;

async function schedulesOf(page: Page): Promise<ScheduleView[]> {
  const res = await page.context().request.get("/api/schedules?limit=100");
  return ((await res.json()) as { schedules: ScheduleView[] }).schedules;
}

/** Fills the parts of the new-schedule form every test needs. */
async function fillSchedule(page: Page, fields: { name: string; prompt: string; cron: string; zone?: string }) {
  await page.getByLabel("Name", { exact: true }).fill(fields.name);
  await page.getByLabel("Prompt").fill(fields.prompt);
  await page.getByLabel("Cron rule").fill(fields.cron);
  if (fields.zone) await page.getByLabel("Time zone").fill(fields.zone);
}

describe("schedules in the browser", () => {
  it("creates a schedule with a preview, lists it with its next run, runs it now and follows the run to its chat", async () => {
    const { context } = await signedInContext(browser(), { timezoneId: "America/New_York" });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto("/");
    await page.getByRole("link", { name: "Schedules" }).click();
    await page.getByRole("heading", { name: "No schedules yet" }).waitFor();
    await screenshot(page, "schedules-empty");

    await page.getByRole("link", { name: "+ New schedule" }).click();
    await page.waitForURL("**/schedules/new");
    // The zone defaults to the browser's.
    expect(await page.getByLabel("Time zone").inputValue()).toBe("America/New_York");
    const marker = await script([
      {
        blocks: [{ type: "text", text: "Scheduled triage: three new issues, none urgent. Details follow below." }],
        delayMs: 60,
        chunkSize: 8,
      },
    ]);
    await fillSchedule(page, {
      name: "Morning triage",
      prompt: `${marker} triage the new issues`,
      cron: "30 7 * * 1-5",
      zone: "Europe/Berlin",
    });
    await page.getByLabel("Permission mode").selectOption("acceptEdits");
    // The preview, as the server computes it, in the schedule's zone.
    const items = page.locator(".preview .occurrences li");
    await expect.poll(() => items.count()).toBe(5);
    const expected = await context.request.post("/api/schedules/preview", {
      data: { cron: "30 7 * * 1-5", timezone: "Europe/Berlin", count: 5 },
    });
    const occurrences = ((await expected.json()) as { occurrences: { utc: string }[] }).occurrences;
    expect(await items.locator("time").evaluateAll((ts) => ts.map((t) => t.getAttribute("datetime")))).toEqual(
      occurrences.map((o) => o.utc),
    );
    for (const text of await items.allInnerTexts()) expect(text).toMatch(/07:30/);
    await screenshot(page, "schedule-form");
    await page.getByRole("button", { name: "Create schedule" }).click();
    await page.waitForURL(SAVED_SCHEDULE_PAGE);
    const [created] = await schedulesOf(page);
    expect(created).toMatchObject({
      name: "Morning triage",
      cron: "30 7 * * 1-5",
      timezone: "Europe/Berlin",
      enabled: true,
      target: { type: "new_chat" },
    });
    if (!created?.nextRunAt) throw new Error("the schedule has no next run");
    const nextIso = new Date(created.nextRunAt).toISOString();
    expect(await page.locator(".next-run time").getAttribute("datetime")).toBe(nextIso);
    expect(await page.locator(".next-run").innerText()).toMatch(/07:30/);

    // The list shows it with its state and next run.
    await page.getByRole("link", { name: "← Schedules" }).click();
    const row = page.locator(`.schedule-row[data-schedule-id="${created.id}"]`);
    await row.waitFor();
    expect(await row.locator(".schedule-name").innerText()).toBe("Morning triage");
    expect(await row.locator(".schedule-state").innerText()).toBe("on");
    expect(await row.locator("time").getAttribute("datetime")).toBe(nextIso);
    expect(await row.innerText()).toContain("Europe/Berlin");
    await screenshot(page, "schedules-list");

    // Run now; the history links to the chat the run went to, where it streams and completes.
    await row.getByRole("link", { name: "Morning triage" }).click();
    await page.getByRole("heading", { name: "Run history" }).waitFor();
    await page.getByText("No runs yet.").waitFor();
    await page.getByRole("button", { name: "Run now" }).click();
    const run = page.locator(".runs .run").first();
    await run.waitFor();
    expect(await run.innerText()).toContain("run now");
    const link = run.getByRole("link", { name: /Open chat/ });
    const href = await link.getAttribute("href");
    expect(href).toMatch(/^\/chats\//);
    await link.click();
    await page.waitForURL(`**${href}`);
    await page.locator(".message.user .bubble", { hasText: "triage the new issues" }).waitFor();
    const agent = page.locator(".message.agent").first();
    await agent.locator(".markdown", { hasText: "Scheduled triage" }).waitFor();
    await page.locator('.message.agent[data-status="completed"]').waitFor();
    expect(await agent.locator(".markdown").innerText()).toContain("none urgent. Details follow below.");
    const chatId = decodeURIComponent(href?.split("/chats/")[1] ?? "");
    await expect
      .poll(async () => storedText((await storedMessages(context, chatId)).find((m) => m.role === "assistant")))
      .toBe("Scheduled triage: three new issues, none urgent. Details follow below.");

    // Back in the history, the run has completed.
    await page.goBack();
    await page.getByRole("heading", { name: "Run history" }).waitFor();
    await expect
      .poll(() => page.locator(".runs .run").first().getAttribute("data-status"), { timeout: 30_000 })
      .toBe("completed");
    await screenshot(page, "schedule-detail");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("pauses, resumes and edits a schedule", async () => {
    const { context } = await signedInContext(browser());
    const res = await context.request.post("/api/schedules", {
      data: {
        name: "Nightly report",
        prompt: "Summarise the day.",
        cron: "0 22 * * *",
        timezone: "Asia/Tokyo",
        target: { type: "new_chat" },
      },
    });
    const { schedule } = (await res.json()) as { schedule: ScheduleView };
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`/schedules/${schedule.id}`);
    await page.getByRole("heading", { name: "Nightly report" }).waitFor();
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByRole("button", { name: "Resume" }).waitFor();
    expect(await page.locator(".card .schedule-state").first().innerText()).toBe("paused Paused by its owner.");
    expect(await page.locator(".next-run").innerText()).toBe("none while paused");
    expect((await schedulesOf(page))[0]).toMatchObject({ enabled: false, nextRunAt: null, paused: { code: "user" } });
    await page.getByRole("link", { name: "← Schedules" }).click();
    await page.locator(".schedule-row .schedule-state", { hasText: "Paused by its owner." }).waitFor();
    await page.goBack();
    await page.getByRole("button", { name: "Resume" }).click();
    await page.getByRole("button", { name: "Pause" }).waitFor();
    expect(await page.locator(".card .schedule-state").first().innerText()).toBe("on");
    expect((await schedulesOf(page))[0]).toMatchObject({ enabled: true, paused: null });
    expect(await page.locator(".next-run").innerText()).toMatch(/22:00/);

    // Edit: a new rule moves the next run.
    await page.getByRole("link", { name: "Edit" }).click();
    await page.getByRole("heading", { name: "Edit schedule" }).waitFor();
    expect(await page.getByLabel("Cron rule").inputValue()).toBe("0 22 * * *");
    await expect.poll(() => page.locator(".preview .occurrences li").count()).toBe(5);
    await page.getByLabel("Cron rule").fill("15 6 * * *");
    await expect.poll(() => page.locator(".preview .occurrences li").first().innerText()).toMatch(/06:15/);
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.waitForURL(`**/schedules/${schedule.id}`);
    await expect.poll(() => page.locator(".next-run").innerText()).toMatch(/06:15/);
    expect((await schedulesOf(page))[0]).toMatchObject({ cron: "15 6 * * *", timezone: "Asia/Tokyo" });

    // Delete, after a confirmation.
    await page.getByRole("button", { name: "Delete" }).click();
    await page.getByText("Delete “Nightly report” and its run history?").waitFor();
    await page.getByRole("button", { name: "Keep" }).click();
    expect(await schedulesOf(page)).toHaveLength(1);
    await page.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await page.waitForURL((url) => url.pathname === "/schedules");
    await page.getByRole("heading", { name: "No schedules yet" }).waitFor();
    expect(await schedulesOf(page)).toHaveLength(0);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("shows a bad cron rule or zone beside its field in the server's words, and saves nothing", async () => {
    const { context } = await signedInContext(browser());
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto("/schedules/new");
    await fillSchedule(page, { name: "Broken", prompt: "never runs", cron: "61 * * * *" });
    const cron = page.getByLabel("Cron rule");
    const serverSays = async (cronText: string, timezone: string) => {
      const res = await context.request.post("/api/schedules/preview", { data: { cron: cronText, timezone } });
      expect(res.status()).toBe(400);
      return ((await res.json()) as { error: { message: string } }).error.message;
    };
    const zone = await page.getByLabel("Time zone").inputValue();
    const cronMessage = await serverSays("61 * * * *", zone);
    await page.locator("#cron-error", { hasText: cronMessage }).waitFor();
    expect(await cron.getAttribute("aria-invalid")).toBe("true");
    expect(await cron.getAttribute("aria-describedby")).toContain("cron-error");
    expect(await page.locator(".preview .occurrences li").count()).toBe(0);
    await screenshot(page, "schedule-form-bad-cron");
    // Saving anyway is refused by the server, shown at the field, and nothing is created.
    await page.getByRole("button", { name: "Create schedule" }).click();
    await page.locator("#cron-error").waitFor();
    expect(page.url()).toMatch(/\/schedules\/new$/);
    expect(await schedulesOf(page)).toHaveLength(0);

    await cron.fill("*/15 * * * *");
    await expect.poll(() => page.locator("#cron-error").count()).toBe(0);
    await expect.poll(() => page.locator(".preview .occurrences li").count()).toBe(5);
    await page.getByLabel("Time zone").fill("Mars/Olympus_Mons");
    const zoneMessage = await serverSays("*/15 * * * *", "Mars/Olympus_Mons");
    await page.locator("#timezone-error", { hasText: zoneMessage }).waitFor();
    expect(await page.locator(".preview .occurrences li").count()).toBe(0);
    // Missing fields are named before anything is sent.
    await page.getByLabel("Name", { exact: true }).fill("");
    await page.getByRole("button", { name: "Create schedule" }).click();
    await page.locator("#name-error", { hasText: "Give the schedule a name." }).waitFor();
    expect(await schedulesOf(page)).toHaveLength(0);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("runs in one of the user's chats when chosen as the target", async () => {
    const { context } = await signedInContext(browser());
    const chatId = await createChat(context, { title: "Release notes", permissionMode: "bypassPermissions" });
    const marker = await script([{ blocks: [{ type: "text", text: "Notes drafted in the existing chat." }] }]);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto("/schedules/new");
    await fillSchedule(page, { name: "Weekly notes", prompt: `${marker} draft the notes`, cron: "0 9 * * 1" });
    expect(await page.getByLabel("Chat", { exact: true }).isDisabled()).toBe(true);
    await page.getByLabel("One of my chats").check();
    await page.getByLabel("Chat", { exact: true }).selectOption({ label: "Release notes" });
    await page.getByRole("button", { name: "Create schedule" }).click();
    await page.waitForURL(SAVED_SCHEDULE_PAGE);
    expect((await schedulesOf(page))[0]?.target).toEqual({ type: "chat", chatId });
    expect(await page.getByRole("link", { name: /^(its chat|the chat “Release notes”)$/ }).getAttribute("href")).toBe(
      `/chats/${chatId}`,
    );
    await page.getByRole("button", { name: "Run now" }).click();
    const link = page
      .locator(".runs .run")
      .first()
      .getByRole("link", { name: /Open chat/ });
    expect(await link.getAttribute("href")).toBe(`/chats/${chatId}`);
    // The page reads the history again while the run is open: it ends without a reload.
    await expect
      .poll(() => page.locator(".runs .run").first().getAttribute("data-status"), { timeout: 60_000 })
      .toBe("completed");
    await link.click();
    await page.locator('.message.agent[data-status="completed"]', { hasText: "Notes drafted" }).waitFor();
    expect(errors).toEqual([]);
    await context.close();
  });

  it("fits a phone-sized screen and works from the keyboard", async () => {
    const { context } = await signedInContext(browser(), { viewport: { width: 390, height: 800 } });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto("/schedules");
    await page.getByRole("heading", { name: "No schedules yet" }).waitFor();
    // The new-schedule link is reachable by Tab, with a visible focus ring, and opens with Enter.
    const link = page.getByRole("link", { name: "+ New schedule" });
    for (let i = 0; i < 10 && !(await link.evaluate((el) => el === document.activeElement)); i++) {
      await page.keyboard.press("Tab");
    }
    expect(await link.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await link.evaluate((el) => getComputedStyle(el).outlineStyle)).not.toBe("none");
    await page.keyboard.press("Enter");
    await page.waitForURL("**/schedules/new");
    await page.getByLabel("Name", { exact: true }).focus();
    await page.keyboard.type("From the phone");
    await page.keyboard.press("Tab");
    await page.keyboard.type("check the build");
    await page.keyboard.press("Tab");
    await page.keyboard.type("0 8 * * *");
    await expect.poll(() => page.locator(".preview .occurrences li").count()).toBe(5);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await screenshot(page, "phone-schedule-form");
    await page.getByRole("button", { name: "Create schedule" }).focus();
    await page.keyboard.press("Enter");
    await page.waitForURL(SAVED_SCHEDULE_PAGE);
    await page.getByRole("heading", { name: "From the phone" }).waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, "phone-schedule-detail");
    expect(errors).toEqual([]);
    await context.close();
  });
});
