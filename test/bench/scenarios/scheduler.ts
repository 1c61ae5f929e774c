/**
 * One scheduler tick at scale: 10,000 schedules of which 1,000 are due, each due one making a new
 * chat whose run goes to an instant sandbox provider. Per repetition: D1 round trips the tick
 * issued (counted on the binding, not by the tick itself) and statements, its wall time, runs
 * dispatched; then how long until every one of those runs completed, and the next tick, which
 * settles them all from D1 (reconciliation). Each repetition has its own user and an earlier hour,
 * so schedules of earlier repetitions are never due again.
 */
import { bench, signUp, wallNow } from "../clients.ts";
import type { Context } from "../context.ts";
import { startFastProvider } from "../fast-provider.ts";
import { figure, median, note, sleep } from "../stats.ts";

const SCHEDULES = 10_000;
const DUE = 1_000;
/** Text deltas of each run's reply (a short answer). */
const DELTAS = 3;
const HOUR = 3_600_000;
/**
 * Repetitions (`--scheduler-reps=N`, default 1, not `--reps`): each starts a thousand runs in the one
 * local workerd process, which takes minutes on the 2-vCPU dev machine.
 */
const REPS = Number(process.argv.find((a) => a.startsWith("--scheduler-reps="))?.split("=")[1] ?? 1);

type Meter = { queries: number; statements: number };
type TickResult = {
  report: {
    claimed: number;
    dispatched: number;
    queued: number;
    undelivered: number;
    settled: number;
    deferred: boolean;
    ms: { reconcile: number; claim: number; handOver: number; record: number };
  };
  meter: Meter;
  ms: number;
};
type Progress = { rows: { run: string; message: string; n: number }[] };

type Rep = {
  queries: number;
  statements: number;
  tickMs: number;
  tickWallMs: number;
  claimMs: number;
  handOverMs: number;
  recordMs: number;
  dispatched: number;
  allCompletedMs: number;
  reconcileQueries: number;
  reconcileMs: number;
  settled: number;
};

async function userId(origin: string, cookie: string): Promise<string> {
  const res = await fetch(`${origin}/api/auth/me`, { headers: { cookie } });
  return ((await res.json()) as { user: { id: string } }).user.id;
}

/** Polls until every run claimed at `at` has a completed message; returns when (wall ms). */
async function allCompleted(origin: string, user: string, at: number): Promise<number> {
  const deadline = wallNow() + 10 * 60_000;
  for (;;) {
    const { rows } = await bench<Progress>(origin, "schedules/progress", { user, at });
    const completed = rows.filter((r) => r.message === "completed").reduce((sum, r) => sum + r.n, 0);
    const ended = rows.filter((r) => r.message === "failed" || r.message === "cancelled");
    if (ended.length > 0) throw new Error(`scheduled runs did not complete: ${JSON.stringify(rows)}`);
    if (completed >= DUE) return wallNow();
    if (wallNow() > deadline) throw new Error(`runs still open after 10 minutes: ${JSON.stringify(rows)}`);
    await sleep(250);
  }
}

async function repetition(ctx: Context, index: number, base: number): Promise<Rep> {
  const api = await signUp(ctx.origin);
  const user = await userId(ctx.origin, api.cookie);
  const at = base - index * 48 * HOUR;
  await bench(ctx.origin, "schedules/seed", { user, n: SCHEDULES, due: DUE, at });

  const started = wallNow();
  const tick = await bench<TickResult>(ctx.origin, "schedules/tick", { at });
  const tickWallMs = wallNow() - started;
  if (tick.report.claimed !== DUE || tick.report.deferred) {
    throw new Error(`the tick claimed ${tick.report.claimed} of ${DUE} (deferred: ${tick.report.deferred})`);
  }
  const done = await allCompleted(ctx.origin, user, at);
  const reconcile = await bench<TickResult>(ctx.origin, "schedules/tick", { at: at + 60_000 });
  const rep: Rep = {
    queries: tick.meter.queries,
    statements: tick.meter.statements,
    tickMs: tick.ms,
    tickWallMs,
    claimMs: tick.report.ms.claim,
    handOverMs: tick.report.ms.handOver,
    recordMs: tick.report.ms.record,
    dispatched: tick.report.dispatched + tick.report.queued,
    allCompletedMs: done - started,
    reconcileQueries: reconcile.meter.queries,
    reconcileMs: reconcile.ms,
    settled: reconcile.report.settled,
  };
  note(
    `scheduler run ${index + 1}: tick ${rep.tickMs} ms (${rep.tickWallMs.toFixed(0)} ms from outside; reading and ` +
      `claiming ${rep.claimMs} ms, handing over ${rep.handOverMs} ms, recording ${rep.recordMs} ms), ` +
      `${rep.queries} D1 queries / ${rep.statements} statements, ${rep.dispatched} runs dispatched, ` +
      `${tick.report.undelivered} undelivered; all ${DUE} runs completed after ${rep.allCompletedMs.toFixed(0)} ms; ` +
      `the next tick settled ${rep.settled} in ${rep.reconcileMs} ms with ${rep.reconcileQueries} D1 queries`,
  );
  return rep;
}

export async function scheduler(ctx: Context): Promise<void> {
  note(
    `scheduler: one tick over ${SCHEDULES} schedules, ${DUE} due (each a new chat), runs against an instant ` +
      `provider (${DELTAS} text deltas each); D1 queries counted on the binding; ${REPS} run(s) per figure (median)`,
  );
  const fast = await startFastProvider();
  fast.stageEvery({ deltas: DELTAS, text: "hello " });
  await bench(ctx.origin, "provider-for-all", { url: fast.url, token: fast.token });
  try {
    const base = Math.floor(Date.now() / HOUR) * HOUR - 24 * HOUR;
    const reps: Rep[] = [];
    for (let index = 0; index < REPS; index++) reps.push(await repetition(ctx, index, base));
    const figures: [string, (rep: Rep) => number, string][] = [
      ["scheduler_tick_d1_queries", (r) => r.queries, "queries"],
      ["scheduler_tick_d1_queries_per_100_due", (r) => (r.queries / DUE) * 100, "queries"],
      ["scheduler_tick_d1_statements", (r) => r.statements, "statements"],
      ["scheduler_tick_ms", (r) => r.tickMs, "ms"],
      ["scheduler_tick_claim_ms", (r) => r.claimMs, "ms"],
      ["scheduler_tick_hand_over_ms", (r) => r.handOverMs, "ms"],
      ["scheduler_tick_record_ms", (r) => r.recordMs, "ms"],
      ["scheduler_tick_runs_dispatched", (r) => r.dispatched, "runs"],
      ["scheduler_all_runs_completed_ms", (r) => r.allCompletedMs, "ms"],
      ["scheduler_reconcile_tick_d1_queries", (r) => r.reconcileQueries, "queries"],
      ["scheduler_reconcile_tick_ms", (r) => r.reconcileMs, "ms"],
      ["scheduler_reconcile_runs_settled", (r) => r.settled, "runs"],
    ];
    for (const [name, pick, unit] of figures) figure(name, median(reps.map(pick)), unit);
  } finally {
    await bench(ctx.origin, "provider-for-all", { url: "" });
    await fast.close();
  }
}
