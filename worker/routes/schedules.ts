/**
 * Schedules: create, list, get, update, delete, pause, resume, run now, run history, and a preview
 * of the next occurrences of any cron + zone. Scoped to the signed-in owner (another user's
 * schedule, or another user's chat as a target, is a 404). Cron and zone are checked on input;
 * `next_run_at` is set here whenever the schedule is enabled, and is NULL while it is paused.
 */
import { Hono } from "hono";
import { z } from "zod";
import { chatRoom } from "../chat/stub";
import {
  countSchedules,
  deleteSchedule,
  findRun,
  findSchedule,
  insertSchedule,
  listRuns,
  listSchedules,
  type SchedulePatch,
  type ScheduleRow,
  updateSchedule,
} from "../db/schedules";
import { AppError } from "../errors";
import type { AppEnv } from "../http/context";
import { decodeCursor, encodeCursor } from "../http/cursor";
import { enforceLimit } from "../http/rate-limit";
import { jsonBody, pageLimit, query } from "../http/validate";
import { isId, newId } from "../ids";
import { type CronSpec, checkCron, localIso, nextOccurrence, nextOccurrences } from "../scheduler/cron";
import { runNow } from "../scheduler/run-now";
import { DEFAULT_MODEL, modelSchema, ownedChat, permissionModeSchema } from "./chats";
import { runView, scheduleView } from "./schedule-views";

/** The longest prompt a schedule keeps (the tick reads many schedules at once). */
export const MAX_SCHEDULE_PROMPT_CHARS = 20_000;
/** Schedules one user may have. */
export const MAX_SCHEDULES_PER_USER = 100;
const MAX_PREVIEW = 20;

const promptSchema = z
  .string()
  .max(MAX_SCHEDULE_PROMPT_CHARS, `at most ${MAX_SCHEDULE_PROMPT_CHARS} characters`)
  .refine((s) => s.trim().length > 0, "must not be empty");
const nameSchema = z.string().trim().min(1).max(200);
const targetSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("new_chat") }),
  z.strictObject({ type: z.literal("chat"), chatId: z.string().max(100) }),
]);
const fields = {
  name: nameSchema,
  prompt: promptSchema,
  cron: z.string().max(200),
  timezone: z.string().max(100),
  target: targetSchema,
  model: modelSchema,
  permissionMode: permissionModeSchema,
};

/** The schedule of the signed-in user, or a 404 (also for ids that are not ours in shape). */
async function ownedSchedule(c: { var: AppEnv["Variables"] }, id: string): Promise<ScheduleRow> {
  const schedule = isId(id) ? await findSchedule(c.var.db, c.var.userId, id) : undefined;
  if (!schedule) throw new AppError("schedule_not_found", "No such schedule");
  return schedule;
}

function validCron(cron: string, timezone: string, now: number): CronSpec {
  const checked = checkCron(cron, timezone, now);
  if (!checked.ok) throw new AppError(checked.code, checked.message);
  return checked.spec;
}

function firstAfter(spec: CronSpec, now: number): number {
  const next = nextOccurrence(spec, now);
  if (next === null) throw new AppError("invalid_cron", "This cron expression never fires");
  return next;
}

export const scheduleRoutes = new Hono<AppEnv>()
  .post("/preview", async (c) => {
    const body = await jsonBody(
      c,
      z.strictObject({
        cron: fields.cron,
        timezone: fields.timezone,
        count: z.number().int().min(1).max(MAX_PREVIEW).optional(),
      }),
    );
    const now = Date.now();
    const spec = validCron(body.cron, body.timezone, now);
    const occurrences = nextOccurrences(spec, now, body.count ?? 5).map((at) => ({
      at,
      utc: new Date(at).toISOString(),
      local: localIso(at, spec.timezone),
    }));
    return c.json({ cron: spec.cron, timezone: spec.timezone, occurrences });
  })
  .post("/", async (c) => {
    const body = await jsonBody(
      c,
      z.strictObject({
        ...fields,
        model: fields.model.optional(),
        permissionMode: fields.permissionMode.optional(),
        enabled: z.boolean().optional(),
      }),
    );
    const now = Date.now();
    const spec = validCron(body.cron, body.timezone, now);
    const chat = body.target.type === "chat" ? await ownedChat(c, body.target.chatId) : null;
    if ((await countSchedules(c.var.db, c.var.userId)) >= MAX_SCHEDULES_PER_USER) {
      throw new AppError("schedule_limit_reached", `A user can have at most ${MAX_SCHEDULES_PER_USER} schedules`);
    }
    const enabled = body.enabled ?? true;
    const row: ScheduleRow = {
      id: newId(),
      userId: c.var.userId,
      name: body.name,
      prompt: body.prompt,
      ...spec,
      target: body.target.type,
      chatId: chat?.id ?? null,
      // A chat target runs with that chat's settings unless the schedule says otherwise.
      model: body.model ?? chat?.model ?? DEFAULT_MODEL,
      permissionMode: body.permissionMode ?? chat?.permissionMode ?? "default",
      enabled,
      nextRunAt: enabled ? firstAfter(spec, now) : null,
      consecutiveFailures: 0,
      pauseCode: enabled ? null : "user",
      pauseReason: enabled ? null : "Created paused.",
      createdAt: now,
      updatedAt: now,
    };
    await insertSchedule(c.var.db, row);
    return c.json({ schedule: scheduleView(row) }, 201);
  })
  .get("/", async (c) => {
    const q = query(c, z.strictObject({ cursor: z.string().optional(), limit: pageLimit(100, 20) }));
    const cursor = q.cursor === undefined ? null : decodeCursor(q.cursor);
    const page = await listSchedules(
      c.var.db,
      c.var.userId,
      q.limit,
      cursor && { at: cursor.createdAt, id: cursor.id },
    );
    return c.json({
      schedules: page.rows.map(scheduleView),
      nextCursor: page.next ? encodeCursor(page.next.at, page.next.id) : null,
    });
  })
  .get("/:scheduleId", async (c) => {
    const schedule = await ownedSchedule(c, c.req.param("scheduleId"));
    return c.json({ schedule: scheduleView(schedule) });
  })
  .patch("/:scheduleId", async (c) => {
    const schedule = await ownedSchedule(c, c.req.param("scheduleId"));
    const body = await jsonBody(
      c,
      z
        .strictObject({
          name: fields.name.optional(),
          prompt: fields.prompt.optional(),
          cron: fields.cron.optional(),
          timezone: fields.timezone.optional(),
          target: fields.target.optional(),
          model: fields.model.optional(),
          permissionMode: fields.permissionMode.optional(),
        })
        .refine((p) => Object.keys(p).length > 0, "nothing to change"),
    );
    const now = Date.now();
    const patch: SchedulePatch = { updatedAt: now };
    for (const key of ["name", "prompt", "model", "permissionMode"] as const) {
      if (body[key] !== undefined) Object.assign(patch, { [key]: body[key] });
    }
    if (body.cron !== undefined || body.timezone !== undefined) {
      const spec = validCron(body.cron ?? schedule.cron, body.timezone ?? schedule.timezone, now);
      Object.assign(patch, spec);
      // The new rule applies from now on; a paused schedule gets its next time when resumed.
      if (schedule.enabled) patch.nextRunAt = firstAfter(spec, now);
    }
    if (body.target?.type === "chat") {
      const chat = await ownedChat(c, body.target.chatId);
      Object.assign(patch, { target: "chat", chatId: chat.id });
    } else if (body.target?.type === "new_chat") {
      Object.assign(patch, { target: "new_chat", chatId: null });
    }
    const updated = await updateSchedule(c.var.db, c.var.userId, schedule.id, patch);
    if (!updated) throw new AppError("schedule_not_found", "No such schedule");
    return c.json({ schedule: scheduleView(updated) });
  })
  .delete("/:scheduleId", async (c) => {
    const schedule = await ownedSchedule(c, c.req.param("scheduleId"));
    // Its run history goes with it (ON DELETE CASCADE); a run already in a chat ends there normally.
    if (!(await deleteSchedule(c.var.db, c.var.userId, schedule.id))) {
      throw new AppError("schedule_not_found", "No such schedule");
    }
    return c.body(null, 204);
  })
  .post("/:scheduleId/pause", async (c) => {
    const schedule = await ownedSchedule(c, c.req.param("scheduleId"));
    if (!schedule.enabled) return c.json({ schedule: scheduleView(schedule) });
    const updated = await updateSchedule(c.var.db, c.var.userId, schedule.id, {
      enabled: false,
      nextRunAt: null,
      pauseCode: "user",
      pauseReason: "Paused by its owner.",
      updatedAt: Date.now(),
    });
    if (!updated) throw new AppError("schedule_not_found", "No such schedule");
    return c.json({ schedule: scheduleView(updated) });
  })
  .post("/:scheduleId/resume", async (c) => {
    const schedule = await ownedSchedule(c, c.req.param("scheduleId"));
    if (schedule.target === "chat") {
      if (schedule.chatId === null) {
        throw new AppError("target_chat_deleted", "The target chat was deleted; choose another target first");
      }
      await ownedChat(c, schedule.chatId);
    }
    const now = Date.now();
    const updated = await updateSchedule(c.var.db, c.var.userId, schedule.id, {
      enabled: true,
      // Resuming starts from the next occurrence: what was due while paused does not run.
      nextRunAt: firstAfter({ cron: schedule.cron, timezone: schedule.timezone }, now),
      consecutiveFailures: 0,
      pauseCode: null,
      pauseReason: null,
      updatedAt: now,
    });
    if (!updated) throw new AppError("schedule_not_found", "No such schedule");
    return c.json({ schedule: scheduleView(updated) });
  })
  .post("/:scheduleId/run", async (c) => {
    const schedule = await ownedSchedule(c, c.req.param("scheduleId"));
    await jsonBody(c, z.strictObject({}));
    await enforceLimit(c.env.MESSAGE_LIMITER, `messages:${c.var.userId}`, "messages");
    const result = await runNow(
      {
        db: c.env.DB,
        dispatch: (chatId, request) => chatRoom(c.env, chatId).sendMessage(chatId, request, "queue"),
        clock: () => Date.now(),
        newId,
      },
      schedule,
    );
    if (!result.ok) {
      throw new AppError("target_chat_deleted", "The target chat was deleted; choose another target first");
    }
    const run = await findRun(c.var.db, schedule.id, result.runId);
    if (!run) throw new Error(`run ${result.runId} vanished after it was created`);
    return c.json({ run: runView(run) }, 202);
  })
  .get("/:scheduleId/runs", async (c) => {
    const schedule = await ownedSchedule(c, c.req.param("scheduleId"));
    const q = query(c, z.strictObject({ cursor: z.string().optional(), limit: pageLimit(100, 20) }));
    const cursor = q.cursor === undefined ? null : decodeCursor(q.cursor);
    const page = await listRuns(c.var.db, schedule.id, q.limit, cursor && { at: cursor.createdAt, id: cursor.id });
    return c.json({
      runs: page.rows.map(runView),
      nextCursor: page.next ? encodeCursor(page.next.at, page.next.id) : null,
    });
  });
