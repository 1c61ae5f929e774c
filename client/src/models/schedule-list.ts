/**
 * The user's schedules, newest first, a page at a time (`GET /api/schedules`). The pages that
 * change one schedule hand the saved copy back with `put` (or `drop`), so the list shows it at once.
 */
import type { Schedule, ScheduleApi } from "../api/schedules";
import { PagedList } from "./paged-list";

const SCHEDULE_PAGE = 20;

export class ScheduleList extends PagedList<Schedule> {
  constructor(api: Pick<ScheduleApi, "listSchedules">) {
    super(async (cursor, limit) => {
      const page = await api.listSchedules(cursor, limit);
      return { items: page.schedules, nextCursor: page.nextCursor };
    }, SCHEDULE_PAGE);
  }

  /** A schedule as saved: replaced where it is, or first when it is new (the newest). */
  put(schedule: Schedule): void {
    const items = this.items.peek();
    this.items.value = items.some((s) => s.id === schedule.id)
      ? items.map((s) => (s.id === schedule.id ? schedule : s))
      : [schedule, ...items];
  }

  drop(id: string): void {
    this.items.value = this.items.peek().filter((s) => s.id !== id);
  }
}
