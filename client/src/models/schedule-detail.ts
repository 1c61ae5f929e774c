/**
 * One schedule's page: the schedule, its run history (newest first, paged), and its actions (pause,
 * resume, run now, delete). While a run on the first page is still open, the page reads the
 * schedule and the history again every few seconds (only while the document is visible), so a run
 * is seen to start and end without a reload.
 */
import { computed, signal } from "@preact/signals";
import { ApiError, messageOf } from "../api/http";
import type { Schedule, ScheduleApi, ScheduleRun } from "../api/schedules";
import type { Timers } from "./schedule-form";
import type { ScheduleList } from "./schedule-list";

export const RUN_PAGE = 20;
export const RUN_POLL_MS = 3_000;
type DetailApi = Pick<
  ScheduleApi,
  "getSchedule" | "listRuns" | "pauseSchedule" | "resumeSchedule" | "runNow" | "deleteSchedule"
>;
export type Action = "pause" | "resume" | "run" | "delete";
/** The page's document as far as polling cares: whether it is visible, and when that changes. */
export type VisibleDocument = {
  readonly visibilityState: DocumentVisibilityState;
  addEventListener(type: "visibilitychange", listener: () => void): void;
  removeEventListener(type: "visibilitychange", listener: () => void): void;
};

const openStatuses: ReadonlySet<ScheduleRun["status"]> = new Set(["pending", "dispatched", "queued"]);
const endedMessage: ReadonlySet<string> = new Set(["completed", "failed", "cancelled"]);

/** A run is open until its row or its chat message says it ended. */
export function runIsOpen(run: ScheduleRun): boolean {
  return openStatuses.has(run.status) && !(run.message?.status && endedMessage.has(run.message.status));
}

export class ScheduleDetail {
  readonly id: string;
  readonly schedule = signal<Schedule | null>(null);
  readonly notFound = signal(false);
  readonly loadError = signal<string | null>(null);
  readonly busy = signal<Action | null>(null);
  readonly actionError = signal<string | null>(null);
  /** Set once the schedule is deleted: the page leaves. */
  readonly deleted = signal(false);
  readonly runs = signal<readonly ScheduleRun[]>([]);
  readonly runsCursor = signal<string | null>(null);
  readonly runsLoaded = signal(false);
  readonly runsLoading = signal(false);
  readonly runsError = signal<string | null>(null);
  readonly hasOpenRuns = computed(() => this.runs.value.some(runIsOpen));
  /** A run seen open that has now ended ("A run completed."), for a live region to read out. */
  readonly announcement = signal<string | null>(null);
  readonly #api: DetailApi;
  readonly #list: ScheduleList;
  readonly #timers: Timers;
  #runsGeneration = 0;

  constructor(id: string, deps: { api: DetailApi; list: ScheduleList; timers: Timers }) {
    this.id = id;
    this.#api = deps.api;
    this.#list = deps.list;
    this.#timers = deps.timers;
  }

  async load(): Promise<void> {
    await Promise.all([this.loadSchedule(), this.refreshRuns()]);
  }

  /** Reads the schedule alone (the edit form needs no history). */
  async loadSchedule(): Promise<void> {
    try {
      const { schedule } = await this.#api.getSchedule(this.id);
      this.schedule.value = schedule;
      this.#list.put(schedule);
      this.loadError.value = null;
    } catch (error: unknown) {
      if (error instanceof ApiError && error.code === "schedule_not_found") this.notFound.value = true;
      else this.loadError.value = messageOf(error);
    }
  }

  /** Reads the newest runs again (as many as are shown, up to 100), replacing the history. */
  async refreshRuns(): Promise<void> {
    const generation = ++this.#runsGeneration;
    const limit = Math.min(100, Math.max(RUN_PAGE, this.runs.peek().length));
    try {
      const page = await this.#api.listRuns(this.id, null, limit);
      if (generation !== this.#runsGeneration) return;
      this.#announceEnded(this.runs.peek(), page.runs);
      this.runs.value = page.runs;
      this.runsCursor.value = page.nextCursor;
      this.runsLoaded.value = true;
      this.runsError.value = null;
    } catch (error: unknown) {
      if (generation !== this.#runsGeneration) return;
      if (error instanceof ApiError && error.code === "schedule_not_found") this.notFound.value = true;
      else this.runsError.value = messageOf(error);
    }
  }

  async moreRuns(): Promise<void> {
    const cursor = this.runsCursor.peek();
    if (!cursor || this.runsLoading.peek()) return;
    const generation = this.#runsGeneration;
    this.runsLoading.value = true;
    try {
      const page = await this.#api.listRuns(this.id, cursor, RUN_PAGE);
      if (generation !== this.#runsGeneration) return;
      const known = new Set(this.runs.peek().map((r) => r.id));
      this.runs.value = [...this.runs.peek(), ...page.runs.filter((r) => !known.has(r.id))];
      this.runsCursor.value = page.nextCursor;
    } catch (error: unknown) {
      if (generation === this.#runsGeneration) this.runsError.value = messageOf(error);
    } finally {
      this.runsLoading.value = false;
    }
  }

  pause(): Promise<boolean> {
    return this.#act("pause", async () => this.#saved((await this.#api.pauseSchedule(this.id)).schedule));
  }

  resume(): Promise<boolean> {
    return this.#act("resume", async () => this.#saved((await this.#api.resumeSchedule(this.id)).schedule));
  }

  /** Runs the schedule now, outside its cron; the new run heads the history. */
  runNow(): Promise<boolean> {
    return this.#act("run", async () => {
      const { run } = await this.#api.runNow(this.id);
      this.#runsGeneration++;
      this.runs.value = [run, ...this.runs.peek().filter((r) => r.id !== run.id)];
    });
  }

  remove(): Promise<boolean> {
    return this.#act("delete", async () => {
      await this.#api.deleteSchedule(this.id);
      this.#list.drop(this.id);
      this.deleted.value = true;
    });
  }

  /**
   * Reads the schedule and its runs again every few seconds while a run is open and the document
   * is visible, and when the document becomes visible. Returns the stop function.
   */
  watch(doc: VisibleDocument): () => void {
    let timer: ReturnType<Timers["setTimeout"]> | null = null;
    let stopped = false;
    const arm = () => {
      if (timer !== null) this.#timers.clearTimeout(timer);
      timer = stopped ? null : this.#timers.setTimeout(tick, RUN_POLL_MS);
    };
    const tick = () => {
      timer = null;
      if (doc.visibilityState === "visible" && this.hasOpenRuns.peek() && !this.deleted.peek()) {
        void this.load().finally(arm);
      } else {
        arm();
      }
    };
    const onVisible = () => {
      if (doc.visibilityState === "visible" && !this.deleted.peek()) void this.load();
    };
    doc.addEventListener("visibilitychange", onVisible);
    arm();
    return () => {
      stopped = true;
      if (timer !== null) this.#timers.clearTimeout(timer);
      doc.removeEventListener("visibilitychange", onVisible);
    };
  }

  #announceEnded(before: readonly ScheduleRun[], after: readonly ScheduleRun[]): void {
    const wasOpen = new Set(before.filter(runIsOpen).map((r) => r.id));
    const ended = after.filter((r) => wasOpen.has(r.id) && !runIsOpen(r));
    const last = ended[0];
    if (!last) return;
    // The row settles a moment after its message ended; until then the message says how it went.
    const outcome = openStatuses.has(last.status) ? (last.message?.status ?? last.status) : last.status;
    this.announcement.value =
      outcome === "completed" || outcome === "failed" ? `A run ${outcome}.` : `A run ended: ${outcome}.`;
  }

  #saved(schedule: Schedule): void {
    this.schedule.value = schedule;
    this.#list.put(schedule);
  }

  async #act(action: Action, work: () => Promise<void>): Promise<boolean> {
    if (this.busy.peek()) return false;
    this.busy.value = action;
    this.actionError.value = null;
    try {
      await work();
      return true;
    } catch (error: unknown) {
      this.actionError.value = messageOf(error);
      return false;
    } finally {
      this.busy.value = null;
    }
  }
}
