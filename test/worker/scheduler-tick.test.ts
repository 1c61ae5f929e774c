/**
 * The scheduler's tick through the worker's real Cron Trigger handler, at chosen minutes: runs
 * created once per occurrence (also with two ticks at once, and with a tick retried after a real
 * D1 failure before or after its hand-overs), the right occurrences across DST changes in Berlin
 * and New York, one run after a day of downtime, a busy target chat (queued), a deleted target chat
 * (failed, paused), and a tick that runs out of budget (the rest waits, nothing lost). Runs go to
 * real chats: most here land in a chat kept busy, so they queue there and are removed afterwards.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { chatRoom } from "../../worker/chat/stub";
import { newId } from "../../worker/ids";
import { schedulerConfig } from "../../worker/scheduler/config";
import { localIso } from "../../worker/scheduler/cron";
import type { Dispatch } from "../../worker/scheduler/dispatch";
import { runTick } from "../../worker/scheduler/tick";
import { api, createChat, json, signUp } from "./helpers";
import { script, send, slow, Watcher } from "./run-helpers";
import {
  at,
  busyChat,
  clearSchedules,
  createSchedule,
  flushChat,
  getSchedule,
  queueOf,
  type RunView,
  runsOf,
  setNextRunAt,
  tick,
} from "./schedule-helpers";

afterEach(clearSchedules);

const byTime = (runs: RunView[]) => [...runs].sort((a, b) => a.scheduledFor - b.scheduledFor);

describe("the tick", () => {
  it("runs a due occurrence once in a new chat, moves to the next one, and settles the run when it ends", async () => {
    const session = await signUp();
    const schedule = await createSchedule(session, {
      name: "Hourly check",
      prompt: "Say hello from the schedule.",
      cron: "0 * * * *",
      timezone: "Europe/Berlin",
      permissionMode: "bypassPermissions",
    });
    const due = at("2026-06-01T10:00:00Z");
    await setNextRunAt(schedule.id, due);
    await tick(due);

    const [run, ...others] = await runsOf(session, schedule.id);
    expect(others).toEqual([]);
    expect(run).toMatchObject({ scheduledFor: due, trigger: "schedule", status: "dispatched", dispatchAttempts: 1 });
    expect(run?.chat?.title).toBe("Hourly check · 2026-06-01 12:00");
    expect((await getSchedule(session, schedule.id)).nextRunAt).toBe(due + 3600_000);
    const chatId = run?.chat?.id ?? "";
    const chat = await json<{ chat: { model: string; permissionMode: string } }>(
      await api(`/api/chats/${chatId}`, { session }),
    );
    expect(chat.chat).toMatchObject({ model: "claude-sonnet-4-5", permissionMode: "bypassPermissions" });

    // The run is an ordinary message of that chat, sourced from the schedule.
    const watcher = await Watcher.open(session, chatId);
    const end = await watcher.terminalOf(run?.message?.id ?? "");
    expect(end.kind).toBe("run_completed");
    const userMessage = watcher.events.find((e) => e.kind === "user_message");
    expect(userMessage?.payload).toMatchObject({ content: "Say hello from the schedule.", source: "schedule" });
    watcher.close();

    // The same minute again changes nothing; the next tick reconciles the run from D1.
    await tick(due);
    expect(await runsOf(session, schedule.id)).toHaveLength(1);
    await flushChat(chatId);
    await tick(due + 60_000);
    const [settled] = await runsOf(session, schedule.id);
    expect(settled).toMatchObject({ status: "completed", message: { status: "completed" }, errorCode: null });
    expect(settled?.endedAt).toBeGreaterThan(0);
  });

  it("two ticks for the same minute at once: each occurrence runs exactly once", async () => {
    const session = await signUp();
    const busy = await busyChat(session);
    const due = at("2026-05-04T07:00:00Z");
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await createSchedule(session, {
        prompt: `task ${i}`,
        cron: "0 7 * * *",
        target: { type: "chat", chatId: busy.id },
      });
      await setNextRunAt(s.id, due);
      ids.push(s.id);
    }
    await Promise.all([tick(due), tick(due), tick(due + 1000)]);

    const queue = await queueOf(session, busy.id);
    expect(queue.map((q) => q.content).sort()).toEqual(["task 0", "task 1", "task 2", "task 3"]);
    for (const id of ids) {
      const runs = await runsOf(session, id);
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ scheduledFor: due, status: "queued" });
      expect(queue.some((q) => q.assistantMessageId === runs[0]?.message?.id)).toBe(true);
    }
    await busy.release();
  });

  it("a tick retried after a D1 failure before its claim committed runs each occurrence once", async () => {
    const session = await signUp();
    const busy = await busyChat(session);
    const due = at("2026-05-05T07:00:00Z");
    const schedule = await createSchedule(session, { cron: "0 7 * * *", target: { type: "chat", chatId: busy.id } });
    await setNextRunAt(schedule.id, due);
    await env.DB.prepare(
      "CREATE TRIGGER fail_claims BEFORE INSERT ON schedule_runs BEGIN SELECT RAISE(ABORT, 'injected D1 failure'); END",
    ).run();
    try {
      await tick(due);
    } finally {
      await env.DB.prepare("DROP TRIGGER fail_claims").run();
    }
    // The failed batch left nothing behind: no run, the occurrence still due, nothing sent.
    expect(await runsOf(session, schedule.id)).toEqual([]);
    expect((await getSchedule(session, schedule.id)).nextRunAt).toBe(due);
    expect(await queueOf(session, busy.id)).toEqual([]);

    await tick(due);
    await tick(due);
    expect(await runsOf(session, schedule.id)).toHaveLength(1);
    expect(await queueOf(session, busy.id)).toHaveLength(1);
    await busy.release();
  });

  it("a tick that fails after handing runs over is not repeated by the retry; reconciliation records them", async () => {
    const session = await signUp();
    const busy = await busyChat(session);
    const due = at("2026-05-06T07:00:00Z");
    const schedule = await createSchedule(session, { cron: "0 7 * * *", target: { type: "chat", chatId: busy.id } });
    await setNextRunAt(schedule.id, due);
    await env.DB.prepare(
      `CREATE TRIGGER fail_progress BEFORE UPDATE OF status ON schedule_runs WHEN NEW.status IN ('dispatched', 'queued')
       BEGIN SELECT RAISE(ABORT, 'injected D1 failure'); END`,
    ).run();
    try {
      await tick(due);
    } finally {
      await env.DB.prepare("DROP TRIGGER fail_progress").run();
    }
    // Handed over, but the record of it failed: the row still says pending.
    expect((await runsOf(session, schedule.id))[0]).toMatchObject({ status: "pending" });
    expect(await queueOf(session, busy.id)).toHaveLength(1);

    // The retry finds the occurrence claimed; once the chat's message is in D1, the row follows it.
    await tick(due);
    await flushChat(busy.id);
    await tick(due + 60_000);
    const runs = await runsOf(session, schedule.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: "queued" });
    expect(runs[0]?.dispatchedAt).toBeGreaterThan(0);
    expect(await queueOf(session, busy.id)).toHaveLength(1);
    // Much later (past the hand-over grace) nothing is sent again either: the chat has the message.
    await tick(due + 3_600_000);
    expect(await queueOf(session, busy.id)).toHaveLength(1);
    await busy.release();
  });

  it("Berlin, the night the clocks go back: 02:30 runs once, every-30-minutes runs every 30 real minutes", async () => {
    const session = await signUp();
    const busy = await busyChat(session);
    const target = { type: "chat", chatId: busy.id };
    const nightly = await createSchedule(session, { cron: "30 2 * * *", timezone: "Europe/Berlin", target });
    const halfHourly = await createSchedule(session, { cron: "*/30 * * * *", timezone: "Europe/Berlin", target });
    await setNextRunAt(nightly.id, at("2026-10-25T00:30:00Z"));
    await setNextRunAt(halfHourly.id, at("2026-10-24T23:30:00Z"));
    for (let t = at("2026-10-24T23:30:00Z"); t <= at("2026-10-25T02:00:00Z"); t += 30 * 60_000) await tick(t);

    const nightlyRuns = await runsOf(session, nightly.id);
    expect(nightlyRuns.map((r) => localIso(r.scheduledFor, "Europe/Berlin"))).toEqual(["2026-10-25T02:30:00+02:00"]);
    expect(localIso((await getSchedule(session, nightly.id)).nextRunAt ?? 0, "Europe/Berlin")).toBe(
      "2026-10-26T02:30:00+01:00",
    );
    const halfHourlyRuns = byTime(await runsOf(session, halfHourly.id));
    expect(halfHourlyRuns.map((r) => localIso(r.scheduledFor, "Europe/Berlin"))).toEqual([
      "2026-10-25T01:30:00+02:00",
      "2026-10-25T02:00:00+02:00",
      "2026-10-25T02:30:00+02:00",
      "2026-10-25T02:00:00+01:00",
      "2026-10-25T02:30:00+01:00",
      "2026-10-25T03:00:00+01:00",
    ]);
    expect(halfHourlyRuns.every((r) => r.status === "queued")).toBe(true);
    expect(await queueOf(session, busy.id)).toHaveLength(7);
    await busy.release();
  });

  it("New York, the night the clocks go forward: 02:30 runs at 03:00, nothing in the lost hour is lost", async () => {
    const session = await signUp();
    const busy = await busyChat(session);
    const target = { type: "chat", chatId: busy.id };
    const nightly = await createSchedule(session, { cron: "30 2 * * *", timezone: "America/New_York", target });
    const halfHourly = await createSchedule(session, { cron: "*/30 * * * *", timezone: "America/New_York", target });
    await setNextRunAt(nightly.id, at("2026-03-08T07:00:00Z"));
    await setNextRunAt(halfHourly.id, at("2026-03-08T06:00:00Z"));
    for (let t = at("2026-03-08T06:00:00Z"); t <= at("2026-03-08T08:00:00Z"); t += 30 * 60_000) await tick(t);

    const nightlyRuns = await runsOf(session, nightly.id);
    expect(nightlyRuns.map((r) => localIso(r.scheduledFor, "America/New_York"))).toEqual(["2026-03-08T03:00:00-04:00"]);
    expect(localIso((await getSchedule(session, nightly.id)).nextRunAt ?? 0, "America/New_York")).toBe(
      "2026-03-09T02:30:00-04:00",
    );
    const halfHourlyRuns = byTime(await runsOf(session, halfHourly.id));
    expect(halfHourlyRuns.map((r) => localIso(r.scheduledFor, "America/New_York"))).toEqual([
      "2026-03-08T01:00:00-05:00",
      "2026-03-08T01:30:00-05:00",
      "2026-03-08T03:00:00-04:00",
      "2026-03-08T03:30:00-04:00",
      "2026-03-08T04:00:00-04:00",
    ]);
    expect(halfHourlyRuns.filter((r) => r.status === "skipped")).toEqual([]);
    await busy.release();
  });

  it("after a day of downtime an hourly schedule runs once, with one skipped row for the missed ones", async () => {
    const session = await signUp();
    const busy = await busyChat(session);
    const schedule = await createSchedule(session, {
      cron: "0 * * * *",
      timezone: "Europe/Berlin",
      target: { type: "chat", chatId: busy.id },
    });
    await setNextRunAt(schedule.id, at("2026-07-01T08:00:00Z"));
    await tick(at("2026-07-02T08:20:00Z"));

    const runs = byTime(await runsOf(session, schedule.id));
    expect(runs).toHaveLength(2);
    const [skipped, ran] = runs;
    expect(skipped).toMatchObject({
      status: "skipped",
      scheduledFor: at("2026-07-01T08:00:00Z"),
      missed: 24,
      chat: null,
      message: null,
    });
    expect(skipped?.errorText).toBe(
      "24 missed occurrences (2026-07-01T10:00:00+02:00 to 2026-07-02T09:00:00+02:00) ran once, as the run for 2026-07-02T10:00:00+02:00.",
    );
    expect(ran).toMatchObject({ status: "queued", scheduledFor: at("2026-07-02T08:00:00Z") });
    expect(await queueOf(session, busy.id)).toHaveLength(1);
    expect((await getSchedule(session, schedule.id)).nextRunAt).toBe(at("2026-07-02T09:00:00Z"));
    await busy.release();
  });

  it("a busy target chat gets the prompt queued, and it runs once the chat is free", async () => {
    const session = await signUp();
    const chat = await createChat(session, { permissionMode: "bypassPermissions" });
    const watcher = await Watcher.open(session, chat.id);
    // A reply that streams for about 4 s, so the chat is busy when the tick comes.
    const long = await script([slow("a slow answer ".repeat(5), 4000)]);
    const sent = await send(session, chat.id, `${long.marker} a user's own message`);
    const schedule = await createSchedule(session, {
      prompt: "the scheduled task",
      cron: "0 7 * * *",
      target: { type: "chat", chatId: chat.id },
    });
    const due = at("2026-05-07T07:00:00Z");
    await setNextRunAt(schedule.id, due);
    await tick(due);
    const [run] = await runsOf(session, schedule.id);
    expect(run).toMatchObject({ status: "queued" });
    expect((await queueOf(session, chat.id)).map((q) => q.content)).toEqual(["the scheduled task"]);

    expect((await watcher.terminalOf(sent.assistantMessageId)).kind).toBe("run_completed");
    expect((await watcher.terminalOf(run?.message?.id ?? "")).kind).toBe("run_completed");
    watcher.close();
    await flushChat(chat.id);
    await tick(due + 60_000);
    expect((await runsOf(session, schedule.id))[0]).toMatchObject({ status: "completed" });
  });

  it("a deleted target chat fails the run with chat_deleted and pauses the schedule", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const schedule = await createSchedule(session, { cron: "0 7 * * *", target: { type: "chat", chatId: chat.id } });
    const due = at("2026-05-08T07:00:00Z");
    await setNextRunAt(schedule.id, due);
    expect((await api(`/api/chats/${chat.id}`, { session, method: "DELETE" })).status).toBe(204);
    await tick(due);

    const [run, ...rest] = await runsOf(session, schedule.id);
    expect(rest).toEqual([]);
    expect(run).toMatchObject({
      status: "failed",
      errorCode: "chat_deleted",
      errorText: "The target chat was deleted.",
      chat: null,
    });
    const paused = await getSchedule(session, schedule.id);
    expect(paused).toMatchObject({
      enabled: false,
      nextRunAt: null,
      consecutiveFailures: 1,
      paused: { code: "chat_deleted" },
    });
    expect(paused.paused?.reason).toMatch(/target chat was deleted/);
    await tick(due + 86_400_000);
    expect(await runsOf(session, schedule.id)).toHaveLength(1);
  });

  it("a tick out of subrequest budget leaves the rest due for the next tick; every occurrence runs once", async () => {
    const session = await signUp();
    const busy = await busyChat(session);
    const due = at("2026-05-09T07:00:00Z");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await createSchedule(session, {
        prompt: `job ${i}`,
        cron: "0 7 * * *",
        target: { type: "chat", chatId: busy.id },
      });
      await setNextRunAt(s.id, due);
      ids.push(s.id);
    }
    // 6 subrequests: the open-run read, then a round of read + claim + record with room for 2 hand-overs.
    const config = { ...schedulerConfig({}), subrequestBudget: 6 };
    const deps = {
      db: env.DB,
      dispatch: ((chatId, request) => chatRoom(env, chatId).sendMessage(chatId, request, "queue")) satisfies Dispatch,
      config,
      now: due,
      clock: () => Date.now(),
      newId,
    };
    const first = await runTick(deps);
    expect(first).toMatchObject({ claimed: 2, queued: 2, deferred: true });
    expect(first.io.d1Queries + first.io.chatCalls).toBeLessThanOrEqual(6);
    const second = await runTick({ ...deps, now: due + 60_000 });
    expect(second).toMatchObject({ claimed: 2, deferred: true });
    const third = await runTick({ ...deps, now: due + 120_000 });
    expect(third).toMatchObject({ claimed: 1, deferred: false });

    expect((await queueOf(session, busy.id)).map((q) => q.content).sort()).toEqual([
      "job 0",
      "job 1",
      "job 2",
      "job 3",
      "job 4",
    ]);
    for (const id of ids) expect(await runsOf(session, id)).toHaveLength(1);
    await busy.release();
  });
});
