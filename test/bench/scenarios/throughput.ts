/**
 * Append throughput of one chat: the real ChatRoom (validation, coalescing, DO SQLite, snapshot
 * fold, outbox, fan-out) against RawBroadcastRoom (no persistence: plain, and with the real
 * fan-out; and that fan-out after only the SQLite insert) and NaiveD1Room (one awaited D1 insert
 * per event), each fed the same drafts inside the object, measured side by side in every repetition.
 */
import { bench, createChat, type Listener, openWs, RawMatch, wallNow } from "../clients.ts";
import type { Context } from "../context.ts";
import { figure, median, note } from "../stats.ts";

type Variant = "real" | "raw" | "raw-packed" | "raw-stored" | "naive";

/** Events per run: enough for ~0.3-1 s of work at each design's speed. */
const EVENTS: Record<Variant, Record<number, number>> = {
  real: { 1: 20_000, 10: 20_000 },
  raw: { 1: 20_000, 10: 5_000 },
  "raw-packed": { 1: 20_000, 10: 20_000 },
  "raw-stored": { 1: 20_000, 10: 20_000 },
  naive: { 1: 1_000, 10: 1_000 },
};
const SIZE = 100;

/** Events per second from the append request until every listener has the last event. */
export async function measure(
  ctx: Context,
  variant: Variant,
  listeners: number,
  burst: number,
  n = EVENTS[variant][listeners] ?? 1000,
): Promise<number> {
  const chat = await createChat(ctx.api);
  const wsOrigin = ctx.origin.replace("http", "ws");
  const url =
    variant === "real"
      ? `${wsOrigin}/api/chats/${chat}/ws`
      : `${wsOrigin}/bench/listen?variant=${variant === "naive" ? "naive" : "raw"}&chat=${chat}`;
  const matches: RawMatch[] = [];
  const sockets: Listener[] = [];
  for (let i = 0; i < listeners; i++) {
    const match = new RawMatch('"kind":"usage"');
    matches.push(match);
    sockets.push(openWs(url, variant === "real" ? ctx.api.cookie : null, undefined, match));
  }
  try {
    await Promise.all(sockets.map((s) => s.ready));
    const arrivals = Promise.all(matches.map((m) => m.next()));
    const start = wallNow();
    await bench(ctx.origin, "append", { variant, chat, n, size: SIZE, burst });
    const end = Math.max(...(await arrivals));
    return (n + 1) / ((end - start) / 1000);
  } finally {
    for (const s of sockets) s.close();
    // Drain the outbox outside the timed window, so one run's D1 copy does not slow the next.
    if (variant === "real") await bench(ctx.origin, "flush", { chat });
  }
}

export async function throughput(ctx: Context): Promise<void> {
  const burst = ctx.burst;
  const turns = burst >= 20_000 ? "all appends in one DO turn" : `${burst} appends per DO turn`;
  note(`append throughput: ${SIZE}-byte text deltas (never merged), ${turns}, WS listeners`);
  note(
    "raw sends each event at once; raw-packed uses the real room's fan-out (events committed together share a frame), so real/raw-packed is the cost of persistence; raw-stored adds only the SQLite insert of each 40-event batch (the floor for committing before sending)",
  );
  for (const listeners of [1, 10]) {
    const rates: Record<Variant, number[]> = { real: [], raw: [], "raw-packed": [], "raw-stored": [], naive: [] };
    const storedVsPacked: number[] = [];
    const vsRaw: number[] = [];
    const vsPacked: number[] = [];
    const vsNaive: number[] = [];
    for (let rep = 0; rep < ctx.reps; rep++) {
      const real = await measure(ctx, "real", listeners, burst);
      const raw = await measure(ctx, "raw", listeners, burst);
      const packed = await measure(ctx, "raw-packed", listeners, burst);
      const stored = await measure(ctx, "raw-stored", listeners, burst);
      const naive = await measure(ctx, "naive", listeners, burst);
      rates.real.push(real);
      rates.raw.push(raw);
      rates["raw-packed"].push(packed);
      rates["raw-stored"].push(stored);
      storedVsPacked.push(stored / packed);
      rates.naive.push(naive);
      vsRaw.push(real / raw);
      vsPacked.push(real / packed);
      vsNaive.push(real / naive);
      note(
        `run ${rep + 1}, ${listeners} listener(s): persisted ${real.toFixed(0)}/s, raw ${raw.toFixed(0)}/s, raw-packed ${packed.toFixed(0)}/s, raw-stored ${stored.toFixed(0)}/s, naive D1 ${naive.toFixed(0)}/s`,
      );
    }
    const tag = `${listeners}_listener${listeners === 1 ? "" : "s"}`;
    figure(`append_ratio_vs_raw_${tag}`, median(vsRaw), "ratio");
    figure(`append_ratio_vs_raw_packed_${tag}`, median(vsPacked), "ratio");
    figure(`append_rate_persisted_${tag}`, median(rates.real), "events/s");
    figure(`append_rate_raw_${tag}`, median(rates.raw), "events/s");
    figure(`append_rate_raw_packed_${tag}`, median(rates["raw-packed"]), "events/s");
    figure(`append_ratio_raw_stored_vs_raw_packed_${tag}`, median(storedVsPacked), "ratio");
    figure(`append_rate_raw_stored_${tag}`, median(rates["raw-stored"]), "events/s");
    figure(`append_ratio_vs_naive_d1_${tag}`, median(vsNaive), "x");
    figure(`append_rate_naive_d1_${tag}`, median(rates.naive), "events/s");
  }
}
