/**
 * The user's schedules, newest first, a page at a time (`GET /api/schedules`). The pages that
 * change one schedule hand the saved copy back with `put` (or `drop`), so the list shows it at once.
 */
import { signal } from "@preact/signals";
import { messageOf } from "../api/http";
import type { Schedule, ScheduleApi } from "../api/schedules";

export const SCHEDULE_PAGE = 20;

export class ScheduleList {
  readonly items = signal<readonly Schedule[]>([]);
  readonly nextCursor = signal<string | null>(null);
  readonly loaded = signal(false);
  readonly loading = signal(false);
  readonly error = signal<string | null>(null);
  readonly #api: Pick<ScheduleApi, "listSchedules">;
  #generation = 0;

  constructor(api: Pick<ScheduleApi, "listSchedules">) {
    this.#api = api;
  }

  /** Reloads from the top, as many rows as are shown now (at most 100), replacing the list. */
  async refresh(): Promise<void> {
    const generation = ++this.#generation;
    const limit = Math.min(100, Math.max(SCHEDULE_PAGE, this.items.peek().length));
    try {
      const page = await this.#api.listSchedules(null, limit);
      if (generation !== this.#generation) return;
      this.items.value = page.schedules;
      this.nextCursor.value = page.nextCursor;
      this.loaded.value = true;
      this.error.value = null;
    } catch (error: unknown) {
      if (generation === this.#generation) this.error.value = messageOf(error);
    }
  }

  async loadMore(): Promise<void> {
    const cursor = this.nextCursor.peek();
    if (!cursor || this.loading.peek()) return;
    const generation = this.#generation;
    this.loading.value = true;
    try {
      const page = await this.#api.listSchedules(cursor, SCHEDULE_PAGE);
      if (generation !== this.#generation) return;
      const known = new Set(this.items.peek().map((s) => s.id));
      this.items.value = [...this.items.peek(), ...page.schedules.filter((s) => !known.has(s.id))];
      this.nextCursor.value = page.nextCursor;
      this.error.value = null;
    } catch (error: unknown) {
      if (generation === this.#generation) this.error.value = messageOf(error);
    } finally {
      this.loading.value = false;
    }
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

  /** Forgets everything (another user signed in). */
  reset(): void {
    this.#generation++;
    this.items.value = [];
    this.nextCursor.value = null;
    this.loaded.value = false;
    this.error.value = null;
  }
}
