/**
 * Scheduled runs end to end: the real Cron Trigger handler claims an occurrence and hands it to the
 * chat's Durable Object, which runs it through the same wrapped bootstrap as a user's message (the
 * real reference provider, the real Claude Code CLI, the scripted model). A scheduled run streams
 * to the chat's listeners and can be cancelled; a bootstrap failure is a failed message and a failed
 * run row, and the third failure in a row pauses the schedule; run now; deleting a schedule or a
 * chat while its run streams. Outcomes reach the run rows through the tick's reconciliation (and
 * `reportRunOutcome`, which the chat's object calls when wired, is checked to count once).
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { snapshotText } from "../../worker/protocol/snapshot";
import { reportRunOutcome } from "../../worker/scheduler/settle";
import { api, createChat, expectError, json, must, signUp } from "./helpers";
import { modelRequests, script, slow, storedSnapshot, text, useProvider, Watcher } from "./run-helpers";
import {
  at,
  clearSchedules,
  createSchedule,
  flushChat,
  getSchedule,
  type RunView,
  runsOf,
  setNextRunAt,
  tick,
} from "./schedule-helpers";
import { room } from "./stream-helpers";

afterEach(clearSchedules);

const terminalKinds = /^run_(completed|failed|cancelled)$/;
const HOUR = 3_600_000;

describe("scheduled runs", () => {
  it("stream to a WebSocket listener of the chat, and a cancel stops them", async () => {
    const session = await signUp();
    const chat = await createChat(session, { permissionMode: "bypassPermissions" });
    const reply = await script([slow("a scheduled answer that takes a while to stream out", 8000)]);
    const schedule = await createSchedule(session, {
      prompt: `${reply.marker} the scheduled task`,
      cron: "0 * * * *",
      target: { type: "chat", chatId: chat.id },
    });
    const watcher = await Watcher.open(session, chat.id);
    const due = at("2026-04-10T09:00:00Z");
    await setNextRunAt(schedule.id, due);
    await tick(due);

    const [run] = await runsOf(session, schedule.id);
    const messageId = run?.message?.id ?? "";
    const user = await watcher.until((e) => e.kind === "user_message", "the scheduled user message");
    expect(user.payload).toMatchObject({ content: `${reply.marker} the scheduled task`, source: "schedule" });
    await watcher.until((e) => e.kind === "text_delta" && e.messageId === messageId, "the first delta");

    const cancel = await api(`/api/chats/${chat.id}/cancel`, { session, method: "POST" });
    expect(await json(cancel)).toEqual({ cancelled: true });
    const end = await watcher.terminalOf(messageId);
    expect(end).toMatchObject({ kind: "run_cancelled", payload: { reason: "user" } });
    expect(watcher.of(messageId).filter((e) => terminalKinds.test(e.kind))).toHaveLength(1);
    const partial = text(watcher.of(messageId));
    expect(partial.length).toBeGreaterThan(0);
    watcher.close();

    const stored = await storedSnapshot(chat.id, messageId);
    expect(stored).toMatchObject({ status: "cancelled", lastSeq: end.seq });
    expect(snapshotText(must(stored))).toBe(partial);
    await tick(due + 60_000);
    expect((await runsOf(session, schedule.id))[0]).toMatchObject({
      status: "cancelled",
      message: { status: "cancelled" },
    });
    // A cancel is not a failure of the schedule.
    expect(await getSchedule(session, schedule.id)).toMatchObject({ enabled: true, consecutiveFailures: 0 });
  });

  it("a bootstrap failure is a failed message and a failed run row; the third failure in a row pauses", async () => {
    const session = await signUp();
    const chat = await createChat(session, { permissionMode: "bypassPermissions" });
    await room(chat.id).head();
    const dead = () => useProvider(chat.id, "http://127.0.0.1:9");
    await dead();
    const schedule = await createSchedule(session, {
      prompt: "check the nightly build",
      cron: "0 * * * *",
      target: { type: "chat", chatId: chat.id },
    });
    const watcher = await Watcher.open(session, chat.id);
    const start = at("2026-04-01T00:00:00Z");
    await setNextRunAt(schedule.id, start);

    /** Ticks at hour `h` (settling the previous run, claiming this one) and waits for this run's end. */
    const runHour = async (h: number) => {
      await tick(start + h * HOUR);
      const run = (await runsOf(session, schedule.id)).find((r) => r.scheduledFor === start + h * HOUR);
      const end = await watcher.terminalOf(run?.message?.id ?? "");
      await flushChat(chat.id);
      return { run, end };
    };

    /** The schedule once the chat's report of the last run's end has landed (it is sent after the end). */
    const scheduleAfter = async (failures: number) => {
      let view = await getSchedule(session, schedule.id);
      for (let i = 0; i < 50 && view.consecutiveFailures !== failures; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        view = await getSchedule(session, schedule.id);
      }
      return view;
    };

    const first = await runHour(0);
    expect(first.end).toMatchObject({ kind: "run_failed", payload: { code: "provider_unreachable" } });
    const stored = await storedSnapshot(chat.id, first.run?.message?.id ?? "");
    expect(stored).toMatchObject({ status: "failed", lastSeq: first.end.seq, error: { code: "provider_unreachable" } });
    expect(await scheduleAfter(1)).toMatchObject({ consecutiveFailures: 1, enabled: true });
    await runHour(1);
    expect(await scheduleAfter(2)).toMatchObject({ consecutiveFailures: 2, enabled: true });

    // A completed run restarts the count.
    await useProvider(chat.id, env.SANDBOX_URL ?? "");
    const ok = await runHour(2);
    expect(ok.end.kind).toBe("run_completed");
    expect(await scheduleAfter(0)).toMatchObject({ consecutiveFailures: 0, enabled: true });
    await dead();
    await runHour(3);
    await runHour(4);
    expect(await scheduleAfter(2)).toMatchObject({ consecutiveFailures: 2, enabled: true });
    const last = await runHour(5);

    // The chat's object reported the run's end; a repeat, or the tick, does not count it again.
    const outcome = {
      assistantMessageId: last.run?.message?.id ?? "",
      status: "failed" as const,
      errorCode: "provider_unreachable",
      errorText: (last.end.payload as { error: string }).error,
      endedAt: Date.now(),
    };
    const paused = await scheduleAfter(3);
    expect(await reportRunOutcome(env.DB, outcome)).toEqual({ settled: false });
    await tick(start + 6 * HOUR);
    expect(await getSchedule(session, schedule.id)).toEqual(paused);
    expect(paused).toMatchObject({
      enabled: false,
      nextRunAt: null,
      consecutiveFailures: 3,
      paused: { code: "failures" },
    });
    expect(paused.paused?.reason).toMatch(
      /^Paused after 3 failed runs in a row\. Last error: The sandbox provider cannot be reached/,
    );
    const runs: RunView[] = [...(await runsOf(session, schedule.id))].reverse();
    expect(runs.map((r) => r.status)).toEqual(["failed", "failed", "completed", "failed", "failed", "failed"]);
    for (const r of runs.filter((x) => x.status === "failed")) {
      expect(r.errorCode).toBe("provider_unreachable");
      expect(r.message?.status).toBe("failed");
      expect(watcher.of(r.message?.id ?? "").filter((e) => terminalKinds.test(e.kind))).toHaveLength(1);
    }
    watcher.close();

    // Resuming clears the count and the reason.
    const resumed = await json<{ schedule: { enabled: boolean; consecutiveFailures: number; paused: unknown } }>(
      await api(`/api/schedules/${schedule.id}/resume`, { session, method: "POST" }),
    );
    expect(resumed.schedule).toMatchObject({ enabled: true, consecutiveFailures: 0, paused: null });
  });

  it("run now runs a schedule at once, also a paused one, without moving its next occurrence", async () => {
    const session = await signUp();
    const enabled = await createSchedule(session, {
      name: "Report",
      prompt: "write the weekly report",
      permissionMode: "bypassPermissions",
    });
    const res = await api(`/api/schedules/${enabled.id}/run`, { session, method: "POST" });
    expect(res.status).toBe(202);
    const { run } = await json<{ run: RunView }>(res);
    expect(run).toMatchObject({ trigger: "manual", status: "dispatched", chat: { deleted: false } });
    expect(run.chat?.title).toMatch(/^Report · \d{4}-\d\d-\d\d \d\d:\d\d$/);
    const watcher = await Watcher.open(session, run.chat?.id ?? "");
    expect((await watcher.terminalOf(run.message?.id ?? "")).kind).toBe("run_completed");
    watcher.close();
    expect((await getSchedule(session, enabled.id)).nextRunAt).toBe(enabled.nextRunAt);
    await flushChat(run.chat?.id ?? "");
    await tick(at("2026-04-20T00:00:00Z"));
    expect((await runsOf(session, enabled.id))[0]).toMatchObject({ id: run.id, status: "completed" });

    const paused = await createSchedule(session, { enabled: false });
    const again = await api(`/api/schedules/${paused.id}/run`, { session, method: "POST" });
    expect(again.status).toBe(202);
    expect(await getSchedule(session, paused.id)).toMatchObject({ enabled: false, nextRunAt: null });
    const manual = (await json<{ run: RunView }>(again)).run;
    const w2 = await Watcher.open(session, manual.chat?.id ?? "");
    expect((await w2.terminalOf(manual.message?.id ?? "")).kind).toBe("run_completed");
    w2.close();
  });

  it("the chat reports a scheduled run's end to its run row at once; a repeated hand-over runs it once", async () => {
    const session = await signUp();
    const chat = await createChat(session, { permissionMode: "bypassPermissions" });
    const reply = await script([{ blocks: [{ type: "text", text: "scheduled and reported" }] }]);
    const schedule = await createSchedule(session, {
      prompt: `${reply.marker} report yourself`,
      cron: "0 * * * *",
      target: { type: "chat", chatId: chat.id },
    });
    const watcher = await Watcher.open(session, chat.id);
    const due = at("2026-05-01T08:00:00Z");
    await setNextRunAt(schedule.id, due);
    await tick(due);
    const [run] = await runsOf(session, schedule.id);
    const messageId = run?.message?.id ?? "";
    expect((await watcher.terminalOf(messageId)).kind).toBe("run_completed");
    // No second tick: the chat's object settles the row itself (its report is sent after the run ends).
    let settled = await runsOf(session, schedule.id);
    for (let i = 0; i < 50 && settled[0]?.status !== "completed"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      settled = await runsOf(session, schedule.id);
    }
    expect(settled[0]).toMatchObject({ id: run?.id, status: "completed" });

    // The tick hands a run over again when it cannot tell it arrived: the chat runs it once.
    const user = watcher.events.find((e) => e.kind === "user_message");
    const again = await room(chat.id).sendMessage(
      chat.id,
      {
        userMessageId: user?.messageId ?? "",
        assistantMessageId: messageId,
        content: `${reply.marker} report yourself`,
        model: "claude-sonnet-4-5",
        permissionMode: "bypassPermissions",
        source: "schedule",
      },
      "queue",
    );
    expect(again.status).toBe("started");
    await flushChat(chat.id);
    expect(watcher.events.filter((e) => e.kind === "user_message")).toHaveLength(1);
    expect(watcher.events.filter((e) => e.kind === "run_started")).toHaveLength(1);
    expect(await modelRequests(reply.id)).toHaveLength(1);
    watcher.close();
  });

  it("deleting a schedule while its run streams: the run ends normally and nothing dangles", async () => {
    const session = await signUp();
    const chat = await createChat(session, { permissionMode: "bypassPermissions" });
    const answer = "the whole scheduled answer, streamed slowly";
    const reply = await script([slow(answer, 3000)]);
    const schedule = await createSchedule(session, {
      prompt: `${reply.marker} go`,
      cron: "0 * * * *",
      target: { type: "chat", chatId: chat.id },
    });
    const watcher = await Watcher.open(session, chat.id);
    const due = at("2026-04-11T09:00:00Z");
    await setNextRunAt(schedule.id, due);
    await tick(due);
    const messageId = (await runsOf(session, schedule.id))[0]?.message?.id ?? "";
    await watcher.until((e) => e.kind === "text_delta" && e.messageId === messageId, "the first delta");

    expect((await api(`/api/schedules/${schedule.id}`, { session, method: "DELETE" })).status).toBe(204);
    expect((await watcher.terminalOf(messageId)).kind).toBe("run_completed");
    expect(text(watcher.of(messageId))).toBe(answer);
    watcher.close();
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM schedule_runs WHERE schedule_id = ?")
      .bind(schedule.id)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
    // The chat's report of that run finds nothing to settle; ticks go on.
    const report = { assistantMessageId: messageId, status: "completed" as const, endedAt: Date.now() };
    expect(await reportRunOutcome(env.DB, report)).toEqual({ settled: false });
    await flushChat(chat.id);
    await tick(due + 60_000);
    expect((await storedSnapshot(chat.id, messageId))?.status).toBe("completed");
    await expectError(await api(`/api/schedules/${schedule.id}/runs`, { session }), 404, "schedule_not_found");
  });

  it("a target chat deleted while the run streams: the run fails with chat_deleted and the schedule pauses", async () => {
    const session = await signUp();
    const chat = await createChat(session, { permissionMode: "bypassPermissions" });
    const reply = await script([slow("streaming until the chat is gone", 6000)]);
    const schedule = await createSchedule(session, {
      prompt: `${reply.marker} go`,
      cron: "0 * * * *",
      target: { type: "chat", chatId: chat.id },
    });
    const watcher = await Watcher.open(session, chat.id);
    const due = at("2026-04-12T09:00:00Z");
    await setNextRunAt(schedule.id, due);
    await tick(due);
    const messageId = (await runsOf(session, schedule.id))[0]?.message?.id ?? "";
    await watcher.until((e) => e.kind === "text_delta" && e.messageId === messageId, "the first delta");
    expect((await api(`/api/chats/${chat.id}`, { session, method: "DELETE" })).status).toBe(204);
    watcher.close();

    await tick(due + 60_000);
    expect((await runsOf(session, schedule.id))[0]).toMatchObject({
      status: "failed",
      errorCode: "chat_deleted",
      chat: { id: chat.id, deleted: true },
    });
    expect(await getSchedule(session, schedule.id)).toMatchObject({
      enabled: false,
      target: { type: "chat", chatId: null },
      paused: { code: "chat_deleted" },
    });
  });

  it("deleting the chat a new_chat run made drops that run (cancelled) and leaves the schedule running", async () => {
    const session = await signUp();
    const reply = await script([slow("streaming until its chat is gone", 6000)]);
    const schedule = await createSchedule(session, {
      prompt: `${reply.marker} go`,
      cron: "0 * * * *",
      permissionMode: "bypassPermissions",
    });
    const due = at("2026-04-13T09:00:00Z");
    await setNextRunAt(schedule.id, due);
    await tick(due);
    const [run] = await runsOf(session, schedule.id);
    const watcher = await Watcher.open(session, run?.chat?.id ?? "");
    await watcher.until((e) => e.kind === "text_delta", "the first delta");
    expect((await api(`/api/chats/${run?.chat?.id}`, { session, method: "DELETE" })).status).toBe(204);
    watcher.close();

    await tick(due + 60_000);
    expect((await runsOf(session, schedule.id))[0]).toMatchObject({ status: "cancelled", errorCode: "chat_deleted" });
    expect(await getSchedule(session, schedule.id)).toMatchObject({
      enabled: true,
      consecutiveFailures: 0,
      nextRunAt: due + HOUR,
    });
  });
});
