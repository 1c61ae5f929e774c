/**
 * The scheduler's minute tick (called by the Cron Trigger beside the stuck-message sweep). First it
 * reconciles open runs from their messages in D1, then it claims due schedules a page at a time and
 * hands each claimed run to its chat with bounded concurrency. Its D1 work is a few queries per
 * page, never one per schedule, and it stops before its subrequest budget runs out: what does not
 * fit stays due (or open) and the next tick takes it, so nothing is lost.
 */
import type { Claim } from "./claims";
import { claimDue, type Progress, progressStatement, selectDue } from "./claims";
import type { SchedulerConfig } from "./config";
import { CronCache } from "./cron";
import { type Dispatch, dispatchAll } from "./dispatch";
import { type IoCounts, TickIo } from "./io";
import { selectOpen } from "./open-runs";
import { decide } from "./reconcile";
import { CHAT_DELETED, type Handover, type RunOutcome } from "./run-types";
import { settleStatements } from "./settle";

export type TickDeps = {
  db: D1Database;
  dispatch: Dispatch;
  config: SchedulerConfig;
  /** The tick's minute (the Cron Trigger's scheduledTime): what is due, and when a claim happened. */
  now: number;
  /** Wall clock for row timestamps. */
  clock: () => number;
  newId: () => string;
};

export type TickReport = {
  /** Occurrences claimed by this tick (runs created), and of them handed to a chat. */
  claimed: number;
  dispatched: number;
  queued: number;
  /** Claimed runs that failed at once (their target chat was deleted). */
  failedAtClaim: number;
  /** Claimed runs whose chat could not be reached (left `pending`, handed over again later). */
  undelivered: number;
  /** Open runs settled, moved on, or handed over again by reconciliation. */
  settled: number;
  progressed: number;
  redispatched: number;
  /** True when the budget ran out with schedules still due (the next tick continues). */
  deferred: boolean;
  io: IoCounts;
  /** Where the time went (ms): reconciliation, reading and claiming due schedules, handing runs over and recording that. */
  ms: { reconcile: number; claim: number; handOver: number; record: number };
};

/** Round trips one due page costs besides its dispatches: the read, the claim and the record. */
const PAGE_QUERIES = 3;
/** Bounds on rounds per tick (the budget normally ends a tick long before these). */
const MAX_DUE_PAGES = 100;
const MAX_OPEN_PAGES = 20;

export async function runTick(deps: TickDeps): Promise<TickReport> {
  const io = new TickIo(deps.db, deps.config.subrequestBudget);
  const report: TickReport = {
    claimed: 0,
    dispatched: 0,
    queued: 0,
    failedAtClaim: 0,
    undelivered: 0,
    settled: 0,
    progressed: 0,
    redispatched: 0,
    deferred: false,
    io: io.counts,
    ms: { reconcile: 0, claim: 0, handOver: 0, record: 0 },
  };
  const started = deps.clock();
  await reconcile(io, deps, report);
  report.ms.reconcile = deps.clock() - started;
  await claimAndDispatch(io, deps, report);
  return report;
}

async function reconcile(io: TickIo, deps: TickDeps, report: TickReport): Promise<void> {
  const { config } = deps;
  let after = { claimedAt: -1, id: "" };
  for (let page = 0; page < MAX_OPEN_PAGES && io.remaining > PAGE_QUERIES; page++) {
    const rows = await selectOpen(io, after, config.pageSize);
    const last = rows.at(-1);
    if (!last) return;
    after = { claimedAt: last.claimed_at, id: last.id };
    const outcomes: RunOutcome[] = [];
    const progress: Progress[] = [];
    const handovers: Handover[] = [];
    const rules = {
      now: deps.now,
      pendingGraceMs: config.pendingGraceMs,
      maxDispatchAttempts: config.maxDispatchAttempts,
    };
    for (const row of rows) {
      const decision = decide(row, rules);
      if (decision.kind === "settle") outcomes.push(decision.outcome);
      else if (decision.kind === "progress")
        progress.push({ runId: row.id, status: decision.status, attempted: false });
      else if (decision.kind === "redispatch" && handovers.length < io.remaining - PAGE_QUERIES) {
        handovers.push(decision.handover);
      }
    }
    const delivered = await dispatchAll(io, handovers, deps.dispatch, config.concurrency);
    await io.batch([
      ...progressStatement(io.db, [...progress, ...delivered], deps.clock()),
      ...settleStatements(io.db, outcomes, deps.clock(), config.maxFailures),
    ]);
    report.settled += outcomes.length;
    report.progressed += progress.length;
    report.redispatched += delivered.filter((d) => d.status !== "pending").length;
    if (rows.length < config.pageSize) return;
  }
}

async function claimAndDispatch(io: TickIo, deps: TickDeps, report: TickReport): Promise<void> {
  const { config } = deps;
  const cache = new CronCache();
  for (let page = 0; page < MAX_DUE_PAGES; page++) {
    const room = io.remaining - PAGE_QUERIES;
    if (room <= 0) {
      // Out of budget: whatever is still due waits for the next tick.
      report.deferred = (await moreDue(io, deps.now)) || report.deferred;
      return;
    }
    const limit = Math.min(config.pageSize, room);
    const started = deps.clock();
    const rows = await selectDue(io, deps.now, limit);
    const claims = rows.length === 0 ? [] : await claimDue(io, rows, deps.now, deps.clock(), deps.newId, cache);
    report.ms.claim += deps.clock() - started;
    if (rows.length === 0) return;
    await handOver(io, deps, claims, report);
    if (rows.length < limit) return;
  }
}

/** True when a schedule is still due (one more read, only when the budget allows it). */
async function moreDue(io: TickIo, now: number): Promise<boolean> {
  if (io.remaining < 1) return true;
  return (await selectDue(io, now, 1)).length > 0;
}

async function handOver(io: TickIo, deps: TickDeps, claims: readonly Claim[], report: TickReport): Promise<void> {
  const handovers: Handover[] = [];
  const gone: RunOutcome[] = [];
  for (const claim of claims) {
    if (claim.chatId === null) {
      gone.push({
        assistantMessageId: claim.assistantMessageId,
        status: "failed",
        errorCode: CHAT_DELETED,
        errorText: "The target chat was deleted.",
        endedAt: deps.clock(),
      });
    } else {
      handovers.push({ ...claim, chatId: claim.chatId });
    }
  }
  const started = deps.clock();
  const progress = await dispatchAll(io, handovers, deps.dispatch, deps.config.concurrency);
  const handedOver = deps.clock();
  report.ms.handOver += handedOver - started;
  await io.batch([
    ...progressStatement(io.db, progress, deps.clock()),
    ...settleStatements(io.db, gone, deps.clock(), deps.config.maxFailures),
  ]);
  report.ms.record += deps.clock() - handedOver;
  report.claimed += claims.length;
  report.failedAtClaim += gone.length;
  for (const p of progress) {
    if (p.status === "dispatched") report.dispatched++;
    else if (p.status === "queued") report.queued++;
    else report.undelivered++;
  }
}
