/**
 * Typed calls and response schemas for the schedules API (`/api/schedules`, see README "API").
 * Imported only by the schedules pages, so it loads with their chunk, not with the first page.
 */
import { z } from "zod";
import { request } from "./http";
import { anySchema, type PermissionMode, permissionModeSchema } from "./schemas";

export const scheduleTargetSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("new_chat") }),
  // `chatId` is null once the target chat was deleted (the schedule then waits for a new target).
  z.object({ type: z.literal("chat"), chatId: z.string().nullable() }),
]);
export type ScheduleTarget = z.infer<typeof scheduleTargetSchema>;

export const scheduleSchema = z.object({
  id: z.string(),
  name: z.string(),
  prompt: z.string(),
  cron: z.string(),
  timezone: z.string(),
  target: scheduleTargetSchema,
  model: z.string(),
  permissionMode: permissionModeSchema,
  enabled: z.boolean(),
  nextRunAt: z.number().nullable(),
  nextRunLocal: z.string().nullable(),
  consecutiveFailures: z.number().int().nonnegative(),
  paused: z.object({ code: z.string(), reason: z.string() }).nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Schedule = z.infer<typeof scheduleSchema>;

export const runStatuses = ["pending", "dispatched", "queued", "completed", "failed", "cancelled", "skipped"] as const;
export const scheduleRunSchema = z.object({
  id: z.string(),
  scheduleId: z.string(),
  scheduledFor: z.number(),
  trigger: z.enum(["schedule", "manual"]),
  status: z.enum(runStatuses),
  missed: z.number().int().nonnegative(),
  chat: z.object({ id: z.string(), title: z.string().nullable(), deleted: z.boolean() }).nullable(),
  userMessageId: z.string().nullable(),
  message: z.object({ id: z.string(), status: z.string().nullable(), error: z.string().nullable() }).nullable(),
  errorCode: z.string().nullable(),
  errorText: z.string().nullable(),
  dispatchAttempts: z.number().int().nonnegative(),
  claimedAt: z.number(),
  dispatchedAt: z.number().nullable(),
  endedAt: z.number().nullable(),
});
export type ScheduleRun = z.infer<typeof scheduleRunSchema>;

export const occurrenceSchema = z.object({ at: z.number(), utc: z.string(), local: z.string() });
export type Occurrence = z.infer<typeof occurrenceSchema>;
export const previewSchema = z.object({
  cron: z.string(),
  timezone: z.string(),
  occurrences: z.array(occurrenceSchema),
});
export type Preview = z.infer<typeof previewSchema>;

const scheduleBodySchema = z.object({ schedule: scheduleSchema });
const scheduleListSchema = z.object({ schedules: z.array(scheduleSchema), nextCursor: z.string().nullable() });
const runListSchema = z.object({ runs: z.array(scheduleRunSchema), nextCursor: z.string().nullable() });

/** What a schedule is made of, as `POST /api/schedules` takes it (PATCH takes any part but `enabled`). */
export type ScheduleInput = {
  name: string;
  prompt: string;
  cron: string;
  timezone: string;
  target: { type: "new_chat" } | { type: "chat"; chatId: string };
  model: string;
  permissionMode: PermissionMode;
  enabled: boolean;
};
export type SchedulePatch = Partial<Omit<ScheduleInput, "enabled">>;

const schedule = (id: string) => `/api/schedules/${encodeURIComponent(id)}`;
const page = (cursor: string | null, limit: number) =>
  `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;

export const scheduleApi = {
  listSchedules: (cursor: string | null, limit: number) =>
    request("GET", `/api/schedules?${page(cursor, limit)}`, scheduleListSchema),
  getSchedule: (id: string) => request("GET", schedule(id), scheduleBodySchema),
  createSchedule: (input: ScheduleInput) => request("POST", "/api/schedules", scheduleBodySchema, { body: input }),
  updateSchedule: (id: string, patch: SchedulePatch) =>
    request("PATCH", schedule(id), scheduleBodySchema, { body: patch }),
  deleteSchedule: (id: string) => request("DELETE", schedule(id), anySchema),
  pauseSchedule: (id: string) => request("POST", `${schedule(id)}/pause`, scheduleBodySchema),
  resumeSchedule: (id: string) => request("POST", `${schedule(id)}/resume`, scheduleBodySchema),
  runNow: (id: string) => request("POST", `${schedule(id)}/run`, z.object({ run: scheduleRunSchema }), { body: {} }),
  listRuns: (id: string, cursor: string | null, limit: number) =>
    request("GET", `${schedule(id)}/runs?${page(cursor, limit)}`, runListSchema),
  preview: (cron: string, timezone: string, count: number, signal?: AbortSignal) =>
    request("POST", "/api/schedules/preview", previewSchema, {
      body: { cron, timezone, count },
      ...(signal ? { signal } : {}),
    }),
};

export type ScheduleApi = typeof scheduleApi;
