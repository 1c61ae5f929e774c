/**
 * The schedules API through the real worker: create, list (cursor pages), get, update, delete,
 * pause and resume, the preview of next occurrences, owner scoping (another user's schedule or chat
 * is a 404 on every route), and a table of bad input, each with its status and stable code.
 * Schedules here fire once a year, so no tick runs them.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { nextOccurrence } from "../../worker/scheduler/cron";
import { api, createChat, expectError, json, type Session, signUp } from "./helpers";
import { createSchedule, getSchedule, type RunView, runsOf, type ScheduleView, YEARLY } from "./schedule-helpers";

const missing = "00000000-0000-4000-8000-000000000000";

describe("schedules", () => {
  it("creates a schedule for new chats with its first occurrence in the zone, and reads it back", async () => {
    const session = await signUp();
    const before = Date.now();
    const res = await api("/api/schedules", {
      session,
      body: {
        name: "  Weekday triage ",
        prompt: "Triage the new issues.",
        cron: "30  7 * * 1-5",
        timezone: "europe/berlin",
        target: { type: "new_chat" },
      },
    });
    expect(res.status).toBe(201);
    const { schedule } = await json<{ schedule: ScheduleView }>(res);
    expect(schedule).toMatchObject({
      name: "Weekday triage",
      prompt: "Triage the new issues.",
      cron: "30 7 * * 1-5",
      timezone: "Europe/Berlin",
      target: { type: "new_chat" },
      model: "claude-sonnet-4-5",
      permissionMode: "default",
      enabled: true,
      consecutiveFailures: 0,
      paused: null,
    });
    const expected = nextOccurrence({ cron: "30 7 * * 1-5", timezone: "Europe/Berlin" }, before);
    expect(schedule.nextRunAt).toBe(expected);
    expect(schedule.nextRunLocal).toMatch(/T07:30:00\+0[12]:00$/);
    expect(await getSchedule(session, schedule.id)).toEqual(schedule);
  });

  it("a chat target takes that chat's model and permission mode unless the schedule names its own", async () => {
    const session = await signUp();
    const chat = await createChat(session, { model: "claude-opus-4-1", permissionMode: "acceptEdits" });
    const inherited = await createSchedule(session, { target: { type: "chat", chatId: chat.id } });
    expect(inherited).toMatchObject({
      target: { type: "chat", chatId: chat.id },
      model: "claude-opus-4-1",
      permissionMode: "acceptEdits",
    });
    const own = await createSchedule(session, {
      target: { type: "chat", chatId: chat.id },
      model: "claude-haiku-4-5",
      permissionMode: "bypassPermissions",
    });
    expect(own).toMatchObject({ model: "claude-haiku-4-5", permissionMode: "bypassPermissions" });
  });

  it("can be created paused: no next run until resumed", async () => {
    const session = await signUp();
    const schedule = await createSchedule(session, { enabled: false });
    expect(schedule).toMatchObject({ enabled: false, nextRunAt: null, paused: { code: "user" } });
  });

  it("lists newest first in cursor pages that cover every schedule exactly once", async () => {
    const session = await signUp();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await createSchedule(session, { name: `s${i}` })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `/api/schedules?limit=3${cursor ? `&cursor=${cursor}` : ""}`;
      const page: { schedules: ScheduleView[]; nextCursor: string | null } = await json(await api(path, { session }));
      expect(page.schedules.length).toBeLessThanOrEqual(3);
      seen.push(...page.schedules.map((s) => s.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen)).toEqual(new Set(ids));
    const other = await signUp();
    expect((await json<{ schedules: unknown[] }>(await api("/api/schedules", { session: other }))).schedules).toEqual(
      [],
    );
  });

  it("updates fields; a new cron or zone moves the next run, a target must be the owner's chat", async () => {
    const session = await signUp();
    const schedule = await createSchedule(session, {});
    const chat = await createChat(session);
    const res = await api(`/api/schedules/${schedule.id}`, {
      session,
      method: "PATCH",
      body: {
        name: "renamed",
        cron: "0 9 * * *",
        timezone: "America/New_York",
        target: { type: "chat", chatId: chat.id },
      },
    });
    expect(res.status).toBe(200);
    const { schedule: updated } = await json<{ schedule: ScheduleView }>(res);
    expect(updated).toMatchObject({
      name: "renamed",
      cron: "0 9 * * *",
      timezone: "America/New_York",
      target: { type: "chat", chatId: chat.id },
    });
    expect(updated.nextRunLocal).toMatch(/T09:00:00-0[45]:00$/);
    expect(updated.nextRunAt).toBeLessThan(Date.now() + 25 * 3600_000);

    const alien = await createChat(await signUp());
    const stolen = await api(`/api/schedules/${schedule.id}`, {
      session,
      method: "PATCH",
      body: { target: { type: "chat", chatId: alien.id } },
    });
    await expectError(stolen, 404, "chat_not_found");
    expect((await getSchedule(session, schedule.id)).target).toEqual({ type: "chat", chatId: chat.id });
  });

  it("pauses and resumes: paused has no next run; resuming clears the failure count and the reason", async () => {
    const session = await signUp();
    const schedule = await createSchedule(session, { cron: "*/5 * * * *" });
    await env.DB.prepare("UPDATE schedules SET consecutive_failures = 2 WHERE id = ?").bind(schedule.id).run();
    const paused = await json<{ schedule: ScheduleView }>(
      await api(`/api/schedules/${schedule.id}/pause`, { session, method: "POST" }),
    );
    expect(paused.schedule).toMatchObject({ enabled: false, nextRunAt: null, paused: { code: "user" } });
    // Editing the cron of a paused schedule does not wake it.
    const edited = await json<{ schedule: ScheduleView }>(
      await api(`/api/schedules/${schedule.id}`, { session, method: "PATCH", body: { cron: "*/10 * * * *" } }),
    );
    expect(edited.schedule).toMatchObject({ enabled: false, nextRunAt: null });
    const resumed = await json<{ schedule: ScheduleView }>(
      await api(`/api/schedules/${schedule.id}/resume`, { session, method: "POST" }),
    );
    expect(resumed.schedule).toMatchObject({ enabled: true, consecutiveFailures: 0, paused: null });
    expect(resumed.schedule.nextRunAt).toBe(
      nextOccurrence({ cron: "*/10 * * * *", timezone: "UTC" }, Date.now() - 1000),
    );
  });

  it("will not resume a schedule whose target chat was deleted", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const schedule = await createSchedule(session, { target: { type: "chat", chatId: chat.id } });
    expect((await api(`/api/chats/${chat.id}`, { session, method: "DELETE" })).status).toBe(204);
    expect((await getSchedule(session, schedule.id)).target).toEqual({ type: "chat", chatId: null });
    await api(`/api/schedules/${schedule.id}/pause`, { session, method: "POST" });
    await expectError(
      await api(`/api/schedules/${schedule.id}/resume`, { session, method: "POST" }),
      409,
      "target_chat_deleted",
    );
    await expectError(
      await api(`/api/schedules/${schedule.id}/run`, { session, method: "POST" }),
      409,
      "target_chat_deleted",
    );
    const retargeted = await api(`/api/schedules/${schedule.id}`, {
      session,
      method: "PATCH",
      body: { target: { type: "new_chat" } },
    });
    expect(retargeted.status).toBe(200);
    expect((await api(`/api/schedules/${schedule.id}/resume`, { session, method: "POST" })).status).toBe(200);
  });

  it("deletes a schedule with its history", async () => {
    const session = await signUp();
    const schedule = await createSchedule(session, {});
    expect((await api(`/api/schedules/${schedule.id}`, { session, method: "DELETE" })).status).toBe(204);
    await expectError(await api(`/api/schedules/${schedule.id}`, { session }), 404, "schedule_not_found");
    await expectError(
      await api(`/api/schedules/${schedule.id}`, { session, method: "DELETE" }),
      404,
      "schedule_not_found",
    );
  });

  it("previews the next occurrences of any cron and zone, also before a schedule exists", async () => {
    const session = await signUp();
    const res = await api("/api/schedules/preview", {
      session,
      body: { cron: "0 7 * * 1-5", timezone: "Europe/Berlin", count: 10 },
    });
    expect(res.status).toBe(200);
    const body = await json<{
      cron: string;
      timezone: string;
      occurrences: { at: number; utc: string; local: string }[];
    }>(res);
    expect(body.occurrences).toHaveLength(10);
    for (const o of body.occurrences) {
      expect(o.local).toMatch(/T07:00:00\+0[12]:00$/);
      expect(new Date(o.utc).getTime()).toBe(o.at);
      expect([0, 6]).not.toContain(new Date(Date.parse(o.local.slice(0, 10))).getUTCDay());
    }
    const times = body.occurrences.map((o) => o.at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const fallback = await json<{ occurrences: unknown[] }>(
      await api("/api/schedules/preview", { session, body: { cron: "* * * * *", timezone: "UTC" } }),
    );
    expect(fallback.occurrences).toHaveLength(5);
  });

  it("another user's schedule is a 404 on every route", async () => {
    const alice = await signUp();
    const bob = await signUp();
    const schedule = await createSchedule(alice, {});
    const routes: [string, string, unknown?][] = [
      ["GET", `/api/schedules/${schedule.id}`],
      ["PATCH", `/api/schedules/${schedule.id}`, { name: "mine now" }],
      ["DELETE", `/api/schedules/${schedule.id}`],
      ["POST", `/api/schedules/${schedule.id}/pause`],
      ["POST", `/api/schedules/${schedule.id}/resume`],
      ["POST", `/api/schedules/${schedule.id}/run`],
      ["GET", `/api/schedules/${schedule.id}/runs`],
    ];
    for (const [method, path, body] of routes) {
      await expectError(
        await api(path, { session: bob, method, body }),
        404,
        "schedule_not_found",
        `${method} ${path}`,
      );
    }
    expect(await getSchedule(alice, schedule.id)).toEqual(schedule);
    expect(await runsOf(alice, schedule.id)).toEqual([]);
  });

  it("every schedules route needs a session", async () => {
    for (const [method, path] of [
      ["GET", "/api/schedules"],
      ["POST", "/api/schedules"],
      ["POST", "/api/schedules/preview"],
      ["GET", `/api/schedules/${missing}`],
      ["POST", `/api/schedules/${missing}/run`],
      ["GET", `/api/schedules/${missing}/runs`],
    ] as const) {
      await expectError(await api(path, { method, body: method === "POST" ? {} : undefined }), 401, "unauthorized");
    }
  });

  it("stops at 100 schedules per user", async () => {
    const session = await signUp();
    const now = Date.now();
    const values = Array.from({ length: 100 }, (_, i) => [crypto.randomUUID(), session.userId, `s${i}`, now + i]);
    for (let i = 0; i < values.length; i += 10) {
      await env.DB.batch(
        values.slice(i, i + 10).map(([id, user, name, t]) =>
          env.DB.prepare(
            `INSERT INTO schedules (id, user_id, name, prompt, cron, timezone, target, model, permission_mode, enabled,
               consecutive_failures, created_at, updated_at)
             VALUES (?, ?, ?, 'p', '${YEARLY}', 'UTC', 'new_chat', 'm', 'default', 0, 0, ?, ?)`,
          ).bind(id, user, name, t, t),
        ),
      );
    }
    const res = await api("/api/schedules", {
      session,
      body: { name: "one more", prompt: "p", cron: YEARLY, timezone: "UTC", target: { type: "new_chat" } },
    });
    await expectError(res, 409, "schedule_limit_reached");
  });
});

type BadCase = {
  name: string;
  path?: string;
  method?: string;
  body?: unknown;
  rawBody?: string;
  status: number;
  code: string;
};

const valid = { name: "n", prompt: "p", cron: YEARLY, timezone: "UTC", target: { type: "new_chat" } };

const badCases: BadCase[] = [
  { name: "invalid cron", body: { ...valid, cron: "every day at 7" }, status: 400, code: "invalid_cron" },
  { name: "cron value out of range", body: { ...valid, cron: "61 * * * *" }, status: 400, code: "invalid_cron" },
  { name: "6-field cron (seconds)", body: { ...valid, cron: "0 0 7 * * *" }, status: 400, code: "invalid_cron" },
  { name: "cron nickname", body: { ...valid, cron: "@daily" }, status: 400, code: "invalid_cron" },
  { name: "cron that never fires", body: { ...valid, cron: "0 0 30 2 *" }, status: 400, code: "invalid_cron" },
  { name: "cron not a string", body: { ...valid, cron: 7 }, status: 400, code: "invalid_request" },
  { name: "unknown zone", body: { ...valid, timezone: "Europe/Atlantis" }, status: 400, code: "invalid_timezone" },
  { name: "offset instead of a zone", body: { ...valid, timezone: "+02:00" }, status: 400, code: "invalid_timezone" },
  { name: "empty prompt", body: { ...valid, prompt: "" }, status: 400, code: "invalid_request" },
  { name: "blank prompt", body: { ...valid, prompt: "  \n " }, status: 400, code: "invalid_request" },
  { name: "oversized prompt", body: { ...valid, prompt: "x".repeat(20_001) }, status: 400, code: "invalid_request" },
  { name: "empty name", body: { ...valid, name: " " }, status: 400, code: "invalid_request" },
  { name: "missing cron", body: { ...valid, cron: undefined }, status: 400, code: "invalid_request" },
  { name: "unknown field", body: { ...valid, retries: 3 }, status: 400, code: "invalid_request" },
  {
    name: "unknown target type",
    body: { ...valid, target: { type: "webhook" } },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "unknown field in target",
    body: { ...valid, target: { type: "new_chat", chatId: missing } },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "chat target without a chat",
    body: { ...valid, target: { type: "chat" } },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "chat target that does not exist",
    body: { ...valid, target: { type: "chat", chatId: missing } },
    status: 404,
    code: "chat_not_found",
  },
  {
    name: "chat target that is not an id",
    body: { ...valid, target: { type: "chat", chatId: "../../etc" } },
    status: 404,
    code: "chat_not_found",
  },
  { name: "bad permission mode", body: { ...valid, permissionMode: "yolo" }, status: 400, code: "invalid_request" },
  { name: "bad model", body: { ...valid, model: "a b" }, status: 400, code: "invalid_request" },
  { name: "enabled not boolean", body: { ...valid, enabled: "yes" }, status: 400, code: "invalid_request" },
  { name: "malformed JSON", rawBody: "{", status: 400, code: "invalid_json" },
  {
    name: "preview unknown field",
    path: "/api/schedules/preview",
    body: { cron: YEARLY, timezone: "UTC", from: 1 },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "preview count too large",
    path: "/api/schedules/preview",
    body: { cron: YEARLY, timezone: "UTC", count: 21 },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "preview 6-field cron",
    path: "/api/schedules/preview",
    body: { cron: "* * * * * *", timezone: "UTC" },
    status: 400,
    code: "invalid_cron",
  },
  {
    name: "preview unknown zone",
    path: "/api/schedules/preview",
    body: { cron: YEARLY, timezone: "Nowhere" },
    status: 400,
    code: "invalid_timezone",
  },
  { name: "patch with nothing", path: "SCHEDULE", method: "PATCH", body: {}, status: 400, code: "invalid_request" },
  {
    name: "patch unknown field",
    path: "SCHEDULE",
    method: "PATCH",
    body: { enabled: false },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "patch invalid cron",
    path: "SCHEDULE",
    method: "PATCH",
    body: { cron: "0 0 * *" },
    status: 400,
    code: "invalid_cron",
  },
  {
    name: "patch unknown zone",
    path: "SCHEDULE",
    method: "PATCH",
    body: { timezone: "Mars/Base" },
    status: 400,
    code: "invalid_timezone",
  },
  {
    name: "run now with a body",
    path: "SCHEDULE/run",
    method: "POST",
    body: { prompt: "other" },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "schedule id not an id",
    path: "/api/schedules/not-an-id",
    method: "GET",
    status: 404,
    code: "schedule_not_found",
  },
  {
    name: "unknown schedule",
    path: `/api/schedules/${missing}`,
    method: "GET",
    status: 404,
    code: "schedule_not_found",
  },
  { name: "list bad cursor", path: "/api/schedules?cursor=%%%", method: "GET", status: 400, code: "invalid_cursor" },
  { name: "list limit 0", path: "/api/schedules?limit=0", method: "GET", status: 400, code: "invalid_request" },
  { name: "runs bad cursor", path: "SCHEDULE/runs?cursor=bm9wZQ", method: "GET", status: 400, code: "invalid_cursor" },
  { name: "runs limit too big", path: "SCHEDULE/runs?limit=101", method: "GET", status: 400, code: "invalid_request" },
];

describe("schedules: bad input", () => {
  let session: Session;
  let schedule: ScheduleView;

  it.each(badCases)("$name → $status $code", async (c) => {
    session ??= await signUp();
    schedule ??= await createSchedule(session, {});
    const path = (c.path ?? "/api/schedules").replace("SCHEDULE", `/api/schedules/${schedule.id}`);
    const res = await api(path, {
      session,
      method: c.method ?? "POST",
      ...(c.rawBody !== undefined
        ? { rawBody: c.rawBody, headers: { "content-type": "application/json" } }
        : c.body !== undefined
          ? { body: c.body }
          : {}),
    });
    await expectError(res, c.status, c.code);
    // Nothing was written by a refused request.
    expect(await getSchedule(session, schedule.id)).toEqual(schedule);
    const runs: RunView[] = await runsOf(session, schedule.id);
    expect(runs).toEqual([]);
  });
});
