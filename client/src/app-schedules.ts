/**
 * The schedules pages' instances, loaded with their chunk (not with the first page): the list, and
 * a detail or form model per page shown. A change of user empties the list.
 */

import type { Schedule } from "./api/schedules";
import { scheduleApi } from "./api/schedules";
import { auth } from "./app";
import { ScheduleDetail } from "./models/schedule-detail";
import { type FormDefaults, ScheduleForm } from "./models/schedule-form";
import { ScheduleList } from "./models/schedule-list";
import { browserTransport } from "./stream/transport";

export const scheduleList = new ScheduleList(scheduleApi);

export const scheduleDetail = (id: string) =>
  new ScheduleDetail(id, { api: scheduleApi, list: scheduleList, timers: browserTransport });

export const scheduleForm = (start: { schedule: Schedule } | { defaults: FormDefaults }) =>
  new ScheduleForm({ api: scheduleApi, timers: browserTransport }, start);

let userId = auth.user.peek()?.id ?? null;
auth.user.subscribe((user) => {
  const next = user?.id ?? null;
  if (next !== userId) scheduleList.reset();
  userId = next;
});
