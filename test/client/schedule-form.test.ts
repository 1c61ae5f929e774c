/**
 * The schedule form's model under Node: defaults, the live preview (debounced, only the newest
 * answer shown, the server's cron and zone errors beside their fields), checks before saving, the
 * create body, and edits that send only what changed (on/off through pause and resume). The API is
 * a fake that records calls; its errors are the real `ApiError`s the HTTP layer makes.
 */
import { describe, expect, it } from "vitest";
import { ApiError } from "../../client/src/api/http";
import type { Preview, Schedule, ScheduleInput, SchedulePatch } from "../../client/src/api/schedules";
import { PREVIEW_COUNT, PREVIEW_DEBOUNCE_MS, ScheduleForm } from "../../client/src/models/schedule-form";
import { FakeTransport } from "./fakes";

const schedule: Schedule = {
  id: "s1",
  name: "Triage",
  prompt: "Triage the new issues.",
  cron: "30 7 * * 1-5",
  timezone: "Europe/Berlin",
  target: { type: "new_chat" },
  model: "claude-sonnet-4-5",
  permissionMode: "acceptEdits",
  enabled: true,
  nextRunAt: 1_800_000_000_000,
  nextRunLocal: "2027-01-15T09:20:00+01:00",
  consecutiveFailures: 0,
  paused: null,
  createdAt: 1,
  updatedAt: 1,
};

function previewOf(cron: string, timezone: string): Preview {
  return {
    cron,
    timezone,
    occurrences: [{ at: 1_800_000_000_000, utc: "2027-01-15T08:20:00.000Z", local: "2027-01-15T09:20:00+01:00" }],
  };
}

type Pending = {
  cron: string;
  timezone: string;
  signal: AbortSignal | undefined;
  resolve: (p: Preview) => void;
  reject: (e: unknown) => void;
};

/** A fake schedules API over one stored schedule: previews wait until the test answers them; saves record their bodies. */
function fakeApi(stored: Schedule = schedule) {
  const previews: Pending[] = [];
  const calls: { method: string; args: unknown[] }[] = [];
  let saveError: unknown = null;
  let current = stored;
  const saved = (patch: object = {}) => {
    if (saveError) throw saveError;
    current = { ...current, ...patch } as Schedule;
    return { schedule: current };
  };
  const api = {
    preview: (cron: string, timezone: string, count: number, signal?: AbortSignal) => {
      expect(count).toBe(PREVIEW_COUNT);
      return new Promise<Preview>((resolve, reject) => previews.push({ cron, timezone, signal, resolve, reject }));
    },
    createSchedule: async (input: ScheduleInput) => {
      calls.push({ method: "create", args: [input] });
      return saved({ ...input, id: "s2" });
    },
    updateSchedule: async (id: string, patch: SchedulePatch) => {
      calls.push({ method: "update", args: [id, patch] });
      return saved(patch);
    },
    pauseSchedule: async (id: string) => {
      calls.push({ method: "pause", args: [id] });
      return saved({ enabled: false, nextRunAt: null, paused: { code: "user", reason: "Paused by its owner." } });
    },
    resumeSchedule: async (id: string) => {
      calls.push({ method: "resume", args: [id] });
      return saved({ enabled: true });
    },
  };
  return { api, previews, calls, failSaves: (e: unknown) => (saveError = e) };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));
const defaults = { model: "claude-opus-4-1", permissionMode: "default" as const, timezone: "America/New_York" };

function newForm() {
  const timers = new FakeTransport();
  const fake = fakeApi();
  const form = new ScheduleForm({ api: fake.api, timers }, { defaults });
  return { timers, form, ...fake };
}

describe("the schedule form", () => {
  it("starts from the defaults: the browser's zone, the default model and mode, a new chat per run, on", () => {
    const { form, previews } = newForm();
    expect(form.values.value).toEqual({
      name: "",
      prompt: "",
      cron: "",
      timezone: "America/New_York",
      targetType: "new_chat",
      chatId: "",
      model: "claude-opus-4-1",
      permissionMode: "default",
      enabled: true,
    });
    expect(previews).toHaveLength(0);
    expect(form.dirty.value).toBe(true);
  });

  it("asks for the preview once typing pauses, with what was typed last", async () => {
    const { form, timers, previews } = newForm();
    for (const partial of ["3", "30", "30 7", "30 7 * * 1-5"]) {
      form.set("cron", partial);
      timers.advance(PREVIEW_DEBOUNCE_MS - 50);
    }
    expect(previews).toHaveLength(0);
    timers.advance(50);
    expect(previews.map((p) => p.cron)).toEqual(["30 7 * * 1-5"]);
    expect(form.previewLoading.value).toBe(true);
    previews[0]?.resolve(previewOf("30 7 * * 1-5", "America/New_York"));
    await flush();
    expect(form.preview.value?.occurrences).toHaveLength(1);
    expect(form.previewLoading.value).toBe(false);
    // A change of zone previews again; other fields do not.
    form.set("name", "Triage");
    form.set("prompt", "Do it");
    timers.advance(PREVIEW_DEBOUNCE_MS * 2);
    expect(previews).toHaveLength(1);
    form.set("timezone", "Europe/Berlin");
    timers.advance(PREVIEW_DEBOUNCE_MS);
    expect(previews.map((p) => p.timezone)).toEqual(["America/New_York", "Europe/Berlin"]);
  });

  it("shows only the newest answer: an older request is aborted and its late answer ignored", async () => {
    const { form, timers, previews } = newForm();
    form.set("cron", "0 9 * * *");
    timers.advance(PREVIEW_DEBOUNCE_MS);
    form.set("cron", "0 10 * * *");
    timers.advance(PREVIEW_DEBOUNCE_MS);
    expect(previews).toHaveLength(2);
    expect(previews[0]?.signal?.aborted).toBe(true);
    expect(previews[1]?.signal?.aborted).toBe(false);
    previews[1]?.resolve(previewOf("0 10 * * *", "America/New_York"));
    await flush();
    previews[0]?.resolve(previewOf("0 9 * * *", "America/New_York"));
    await flush();
    expect(form.preview.value?.cron).toBe("0 10 * * *");
    // A late failure of the old request does not show either.
    previews[0]?.reject(new ApiError(400, "invalid_cron", "old"));
    await flush();
    expect(form.fieldErrors.value).toEqual({});
  });

  it("puts the server's invalid_cron and invalid_timezone messages beside their fields, and clears them on edit", async () => {
    const { form, timers, previews } = newForm();
    form.set("cron", "61 * * * *");
    timers.advance(PREVIEW_DEBOUNCE_MS);
    previews[0]?.reject(new ApiError(400, "invalid_cron", "Invalid cron expression: minute 61 is out of range"));
    await flush();
    expect(form.fieldErrors.value).toEqual({ cron: "Invalid cron expression: minute 61 is out of range" });
    expect(form.preview.value).toBeNull();
    expect(form.previewError.value).toBeNull();

    form.set("cron", "1 * * * *");
    expect(form.fieldErrors.value).toEqual({});
    form.set("timezone", "Mars/Olympus");
    timers.advance(PREVIEW_DEBOUNCE_MS);
    expect(previews).toHaveLength(2);
    previews[1]?.reject(new ApiError(400, "invalid_timezone", "Unknown time zone: Mars/Olympus"));
    await flush();
    expect(form.fieldErrors.value).toEqual({ timezone: "Unknown time zone: Mars/Olympus" });

    form.set("timezone", "Asia/Tokyo");
    timers.advance(PREVIEW_DEBOUNCE_MS);
    previews[2]?.resolve(previewOf("1 * * * *", "Asia/Tokyo"));
    await flush();
    expect(form.fieldErrors.value).toEqual({});
    expect(form.preview.value?.timezone).toBe("Asia/Tokyo");
  });

  it("a preview that fails otherwise says so apart from the fields; an empty rule asks nothing", async () => {
    const { form, timers, previews } = newForm();
    form.set("cron", "0 9 * * *");
    timers.advance(PREVIEW_DEBOUNCE_MS);
    previews[0]?.reject(new ApiError(0, "network_error", "Cannot reach the server."));
    await flush();
    expect(form.previewError.value).toBe("Cannot reach the server.");
    expect(form.fieldErrors.value).toEqual({});
    form.set("cron", "");
    timers.advance(PREVIEW_DEBOUNCE_MS);
    expect(previews).toHaveLength(1);
    expect(form.preview.value).toBeNull();
    expect(form.previewError.value).toBeNull();
  });

  it("stops previewing once disposed", async () => {
    const { form, timers, previews } = newForm();
    form.set("cron", "0 9 * * *");
    form.dispose();
    timers.advance(PREVIEW_DEBOUNCE_MS * 2);
    expect(previews).toHaveLength(0);
  });

  it("checks the fields before saving: nothing is sent while one is missing", async () => {
    const { form, calls } = newForm();
    form.set("targetType", "chat");
    form.set("model", "  ");
    expect(await form.submit()).toBeNull();
    expect(Object.keys(form.fieldErrors.value).sort()).toEqual(["chatId", "cron", "model", "name", "prompt"]);
    expect(calls).toHaveLength(0);
    // Editing a field clears its error only.
    form.set("name", "Nightly");
    expect(form.fieldErrors.value.name).toBeUndefined();
    expect(form.fieldErrors.value.prompt).toBeDefined();
  });

  it("creates with every field, trimmed, and the chosen chat as the target", async () => {
    const { form, calls } = newForm();
    form.set("name", "  Nightly report ");
    form.set("prompt", "Summarise today's commits.\n");
    form.set("cron", " 0 22 * * * ");
    form.set("targetType", "chat");
    form.set("chatId", "chat-1");
    form.set("permissionMode", "bypassPermissions");
    form.set("enabled", false);
    const saved = await form.submit();
    expect(saved?.id).toBe("s2");
    expect(calls).toEqual([
      {
        method: "create",
        args: [
          {
            name: "Nightly report",
            prompt: "Summarise today's commits.\n",
            cron: "0 22 * * *",
            timezone: "America/New_York",
            target: { type: "chat", chatId: "chat-1" },
            model: "claude-opus-4-1",
            permissionMode: "bypassPermissions",
            enabled: false,
          },
        ],
      },
    ]);
  });

  it("a refused save puts cron, zone and chat errors by their fields and anything else by the button", async () => {
    const { form, failSaves } = newForm();
    form.set("name", "n");
    form.set("prompt", "p");
    form.set("cron", "0 0 31 2 *");
    failSaves(new ApiError(400, "invalid_cron", "This cron expression never fires"));
    expect(await form.submit()).toBeNull();
    expect(form.fieldErrors.value).toEqual({ cron: "This cron expression never fires" });
    expect(form.error.value).toBeNull();
    failSaves(new ApiError(409, "schedule_limit_reached", "A user can have at most 100 schedules"));
    expect(await form.submit()).toBeNull();
    expect(form.error.value).toBe("A user can have at most 100 schedules");
    expect(form.saving.value).toBe(false);
  });

  it("editing previews the rule at once, sends only what changed, and turns it off or on by pause and resume", async () => {
    const timers = new FakeTransport();
    const { api, previews, calls } = fakeApi();
    const form = new ScheduleForm({ api, timers }, { schedule });
    timers.advance(0);
    expect(previews.map((p) => [p.cron, p.timezone])).toEqual([["30 7 * * 1-5", "Europe/Berlin"]]);
    expect(form.dirty.value).toBe(false);
    // Nothing changed: nothing is sent.
    expect((await form.submit())?.id).toBe("s1");
    expect(calls).toEqual([]);

    form.set("cron", "45 7 * * 1-5");
    form.set("name", "Triage ");
    expect(form.dirty.value).toBe(true);
    form.set("enabled", false);
    const saved = await form.submit();
    expect(calls).toEqual([
      { method: "update", args: ["s1", { cron: "45 7 * * 1-5" }] },
      { method: "pause", args: ["s1"] },
    ]);
    expect(saved?.enabled).toBe(false);
  });

  it("editing a schedule whose chat was deleted asks for a new chat before saving", async () => {
    const timers = new FakeTransport();
    const orphan: Schedule = { ...schedule, target: { type: "chat", chatId: null }, enabled: false };
    const { api, calls } = fakeApi(orphan);
    const form = new ScheduleForm({ api, timers }, { schedule: orphan });
    expect(form.values.value).toMatchObject({ targetType: "chat", chatId: "" });
    form.set("enabled", true);
    expect(await form.submit()).toBeNull();
    expect(form.fieldErrors.value.chatId).toBe("Choose the chat the runs go to.");
    form.set("chatId", "chat-2");
    await form.submit();
    expect(calls).toEqual([
      { method: "update", args: ["s1", { target: { type: "chat", chatId: "chat-2" } }] },
      { method: "resume", args: ["s1"] },
    ]);
  });
});
