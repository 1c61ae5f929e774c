/**
 * The schedules list and one schedule's page, as models under Node: pages of schedules and runs,
 * saved copies shown at once, actions and their errors, and the history read again while a run is
 * open (only while the page is visible), with a live announcement when it ends. A fake API that
 * keeps state; a manual clock.
 */
import { describe, expect, it } from "vitest";
import { ApiError } from "../../client/src/api/http";
import type { Schedule, ScheduleRun } from "../../client/src/api/schedules";
import { RUN_POLL_MS, ScheduleDetail } from "../../client/src/models/schedule-detail";
import { ScheduleList } from "../../client/src/models/schedule-list";
import { FakeTransport } from "./fakes";

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

function scheduleNamed(id: string, patch: Partial<Schedule> = {}): Schedule {
  return {
    id,
    name: `Schedule ${id}`,
    prompt: "p",
    cron: "0 9 * * *",
    timezone: "Europe/Berlin",
    target: { type: "new_chat" },
    model: "m",
    permissionMode: "acceptEdits",
    enabled: true,
    nextRunAt: 1,
    nextRunLocal: "x",
    consecutiveFailures: 0,
    paused: null,
    createdAt: 1,
    updatedAt: 1,
    ...patch,
  };
}

function runNamed(id: string, patch: Partial<ScheduleRun> = {}): ScheduleRun {
  return {
    id,
    scheduleId: "s1",
    scheduledFor: 1,
    trigger: "schedule",
    status: "completed",
    missed: 0,
    chat: { id: `chat-${id}`, title: "t", deleted: false },
    userMessageId: `u-${id}`,
    message: { id: `a-${id}`, status: "completed", error: null },
    errorCode: null,
    errorText: null,
    dispatchAttempts: 1,
    claimedAt: 1,
    dispatchedAt: 1,
    endedAt: 2,
    ...patch,
  };
}

/** The server's side: schedules and runs, newest first, paged by index cursors. */
function fakeServer() {
  const state = {
    schedules: [] as Schedule[],
    runs: [] as ScheduleRun[],
    calls: [] as string[],
    fail: null as ApiError | null,
  };
  const page = <T>(all: T[], cursor: string | null, limit: number) => {
    const start = cursor ? Number(cursor) : 0;
    const end = start + limit;
    return { items: all.slice(start, end), next: end < all.length ? String(end) : null };
  };
  const check = (what: string) => {
    state.calls.push(what);
    if (state.fail) throw state.fail;
  };
  const find = (id: string) => {
    const s = state.schedules.find((x) => x.id === id);
    if (!s) throw new ApiError(404, "schedule_not_found", "No such schedule");
    return s;
  };
  const patch = (id: string, change: Partial<Schedule>) => {
    const next = { ...find(id), ...change };
    state.schedules = state.schedules.map((s) => (s.id === id ? next : s));
    return { schedule: next };
  };
  const api = {
    listSchedules: async (cursor: string | null, limit: number) => {
      check(`list ${cursor ?? "-"} ${limit}`);
      const p = page(state.schedules, cursor, limit);
      return { schedules: p.items, nextCursor: p.next };
    },
    getSchedule: async (id: string) => {
      check(`get ${id}`);
      return { schedule: find(id) };
    },
    listRuns: async (id: string, cursor: string | null, limit: number) => {
      check(`runs ${id} ${cursor ?? "-"} ${limit}`);
      find(id);
      const p = page(state.runs, cursor, limit);
      return { runs: p.items, nextCursor: p.next };
    },
    pauseSchedule: async (id: string) => {
      check(`pause ${id}`);
      return patch(id, { enabled: false, nextRunAt: null, paused: { code: "user", reason: "Paused by its owner." } });
    },
    resumeSchedule: async (id: string) => {
      check(`resume ${id}`);
      return patch(id, { enabled: true, nextRunAt: 5, paused: null });
    },
    runNow: async (id: string) => {
      check(`run ${id}`);
      const run = runNamed(`r${state.runs.length + 1}`, {
        trigger: "manual",
        status: "dispatched",
        message: { id: "a-new", status: null, error: null },
        endedAt: null,
      });
      state.runs = [run, ...state.runs];
      return { run };
    },
    deleteSchedule: async (id: string) => {
      check(`delete ${id}`);
      find(id);
      state.schedules = state.schedules.filter((s) => s.id !== id);
      return null;
    },
  };
  return { state, api };
}

class FakeDocument {
  visibilityState: DocumentVisibilityState = "visible";
  listeners = new Set<() => void>();
  addEventListener(_type: string, listener: () => void) {
    this.listeners.add(listener);
  }
  removeEventListener(_type: string, listener: () => void) {
    this.listeners.delete(listener);
  }
  show(state: DocumentVisibilityState) {
    this.visibilityState = state;
    for (const l of this.listeners) l();
  }
}

describe("the schedules list", () => {
  it("pages newest first without repeats, shows saved copies at once, and forgets everything on reset", async () => {
    const { state, api } = fakeServer();
    state.schedules = Array.from({ length: 25 }, (_, i) => scheduleNamed(`s${25 - i}`));
    const list = new ScheduleList(api);
    await list.refresh();
    expect(list.items.value.map((s) => s.id).slice(0, 2)).toEqual(["s25", "s24"]);
    expect(list.items.value).toHaveLength(20);
    expect(list.nextCursor.value).toBe("20");
    await list.loadMore();
    expect(list.items.value).toHaveLength(25);
    expect(new Set(list.items.value.map((s) => s.id)).size).toBe(25);
    expect(list.nextCursor.value).toBeNull();

    list.put(scheduleNamed("s24", { name: "Renamed" }));
    expect(list.items.value[1]?.name).toBe("Renamed");
    list.put(scheduleNamed("s26"));
    expect(list.items.value[0]?.id).toBe("s26");
    list.drop("s26");
    expect(list.items.value[0]?.id).toBe("s25");
    // A refresh reads as many rows as are shown.
    await list.refresh();
    expect(state.calls.at(-1)).toBe("list - 25");

    const late = list.refresh();
    list.reset();
    await late;
    expect(list.items.value).toEqual([]);
    expect(list.loaded.value).toBe(false);
  });

  it("shows a failed load as an error and keeps what it had", async () => {
    const { state, api } = fakeServer();
    state.schedules = [scheduleNamed("s1")];
    const list = new ScheduleList(api);
    await list.refresh();
    state.fail = new ApiError(0, "network_error", "Cannot reach the server.");
    await list.refresh();
    expect(list.error.value).toBe("Cannot reach the server.");
    expect(list.items.value).toHaveLength(1);
  });
});

function setup() {
  const server = fakeServer();
  server.state.schedules = [scheduleNamed("s1")];
  const list = new ScheduleList(server.api);
  const timers = new FakeTransport();
  const detail = new ScheduleDetail("s1", { api: server.api, list, timers });
  return { ...server, list, timers, detail };
}

describe("a schedule's page", () => {
  it("loads the schedule and its runs, newest first, older on demand", async () => {
    const { state, detail } = setup();
    state.runs = Array.from({ length: 23 }, (_, i) => runNamed(`r${23 - i}`));
    await detail.load();
    expect(detail.schedule.value?.id).toBe("s1");
    expect(detail.runs.value).toHaveLength(20);
    expect(detail.runs.value[0]?.id).toBe("r23");
    await detail.moreRuns();
    expect(detail.runs.value.map((r) => r.id).at(-1)).toBe("r1");
    expect(detail.runsCursor.value).toBeNull();
  });

  it("a schedule that does not exist (or is another user's) is 'not found', not an error", async () => {
    const { detail, state } = setup();
    state.schedules = [];
    await detail.load();
    expect(detail.notFound.value).toBe(true);
    expect(detail.loadError.value).toBeNull();
  });

  it("pauses and resumes, updating the list too; a refused action says why", async () => {
    const { detail, list, state } = setup();
    await list.refresh();
    await detail.load();
    expect(await detail.pause()).toBe(true);
    expect(detail.schedule.value?.paused?.reason).toBe("Paused by its owner.");
    expect(list.items.value[0]?.enabled).toBe(false);
    state.fail = new ApiError(409, "target_chat_deleted", "The target chat was deleted; choose another target first");
    expect(await detail.resume()).toBe(false);
    expect(detail.actionError.value).toBe("The target chat was deleted; choose another target first");
    expect(detail.busy.value).toBeNull();
    state.fail = null;
    expect(await detail.resume()).toBe(true);
    expect(detail.actionError.value).toBeNull();
    expect(list.items.value[0]?.enabled).toBe(true);
  });

  it("run now puts the new run first; the page reads it again every few seconds until it ends, then says so", async () => {
    const { detail, state, timers } = setup();
    state.runs = [runNamed("r1")];
    const doc = new FakeDocument();
    await detail.load();
    const stop = detail.watch(doc);
    timers.advance(RUN_POLL_MS * 3);
    // Nothing open: no polling.
    expect(state.calls.filter((c) => c.startsWith("runs"))).toHaveLength(1);

    expect(await detail.runNow()).toBe(true);
    expect(detail.runs.value.map((r) => r.id)).toEqual(["r2", "r1"]);
    expect(detail.hasOpenRuns.value).toBe(true);
    timers.advance(RUN_POLL_MS);
    await flush();
    expect(state.calls.filter((c) => c.startsWith("runs"))).toHaveLength(2);

    // Hidden: no reads; shown again: read at once.
    doc.show("hidden");
    timers.advance(RUN_POLL_MS * 3);
    await flush();
    expect(state.calls.filter((c) => c.startsWith("runs"))).toHaveLength(2);
    // Its chat message ended before the run row settled: that already counts as ended.
    state.runs = state.runs.map((r) =>
      r.id === "r2" ? { ...r, message: { id: "a-new", status: "failed", error: "model_error" } } : r,
    );
    doc.show("visible");
    await flush();
    expect(detail.hasOpenRuns.value).toBe(false);
    expect(detail.announcement.value).toBe("A run failed.");
    const reads = state.calls.filter((c) => c.startsWith("runs")).length;
    timers.advance(RUN_POLL_MS * 3);
    await flush();
    expect(state.calls.filter((c) => c.startsWith("runs"))).toHaveLength(reads);
    stop();
    expect(doc.listeners.size).toBe(0);
  });

  it("deletes: the page learns it is gone and the list drops it", async () => {
    const { detail, list } = setup();
    await list.refresh();
    await detail.load();
    expect(await detail.remove()).toBe(true);
    expect(detail.deleted.value).toBe(true);
    expect(list.items.value).toEqual([]);
  });

  it("one action at a time", async () => {
    const { detail, state } = setup();
    await detail.load();
    const first = detail.runNow();
    expect(await detail.pause()).toBe(false);
    await first;
    expect(state.calls.filter((c) => c.startsWith("pause"))).toEqual([]);
  });
});
