/**
 * Append-to-listener latency: 100 listeners on one chat (50 WebSocket straight to the ChatRoom,
 * 50 SSE through the Worker's bridge) while the room appends a tool event every 10 ms. Latency is
 * arrival time minus the envelope's `at` (the room's clock when it appended; same host clock).
 * The same run against a room that stores nothing gives the runtime's floor for this fan-out.
 */
import { bench, createChat, type Listener, openSse, openWs } from "../clients.ts";
import type { Context } from "../context.ts";
import { figure, median, note, percentile, sleep } from "../stats.ts";

const EVENTS = 300;
const INTERVAL_MS = 10;
const PER_KIND = 50;

type Variant = "real" | "raw";

async function run(ctx: Context, variant: Variant): Promise<{ ws: number[]; sse: number[] }> {
  const chat = variant === "real" ? await createChat(ctx.api) : crypto.randomUUID();
  const samples = { ws: [] as number[], sse: [] as number[] };
  const wsUrl =
    variant === "real"
      ? `${ctx.origin.replace("http", "ws")}/api/chats/${chat}/ws`
      : `${ctx.origin.replace("http", "ws")}/bench/listen?variant=raw&chat=${chat}`;
  const sseUrl =
    variant === "real" ? `${ctx.origin}/api/chats/${chat}/stream` : `${ctx.origin}/bench/listen-sse?chat=${chat}`;
  const listeners: Listener[] = [];
  for (let i = 0; i < PER_KIND; i++) {
    listeners.push(
      openWs(wsUrl, ctx.api.cookie, (frame, at) => {
        for (const event of (JSON.parse(frame) as { events: { at: number }[] }).events) samples.ws.push(at - event.at);
      }),
    );
    listeners.push(
      openSse(sseUrl, ctx.api.cookie, (data, at) => {
        samples.sse.push(at - (JSON.parse(data) as { at: number }).at);
      }),
    );
  }
  try {
    await Promise.all(listeners.map((l) => l.ready));
    await sleep(200);
    await bench(ctx.origin, "ticks", { variant, chat, n: EVENTS, interval: INTERVAL_MS });
    await sleep(200);
  } finally {
    for (const l of listeners) l.close();
  }
  const expected = EVENTS * PER_KIND;
  if (samples.ws.length !== expected || samples.sse.length !== expected) {
    throw new Error(
      `latency: expected ${expected} deliveries per kind, got ws ${samples.ws.length}, sse ${samples.sse.length}`,
    );
  }
  return samples;
}

export async function latency(ctx: Context): Promise<void> {
  note(`latency: ${PER_KIND} WS + ${PER_KIND} SSE listeners, ${EVENTS} tool events ${INTERVAL_MS} ms apart`);
  note("raw: the same listeners and SSE bridge on a room that stores nothing (the runtime's own floor)");
  const p50: Record<Variant, number[]> = { real: [], raw: [] };
  const p99: Record<Variant, number[]> = { real: [], raw: [] };
  for (let rep = 0; rep < ctx.reps; rep++) {
    for (const variant of ["real", "raw"] as const) {
      const { ws, sse } = await run(ctx, variant);
      const all = [...ws, ...sse];
      p50[variant].push(percentile(all, 50));
      p99[variant].push(percentile(all, 99));
      note(
        `run ${rep + 1} ${variant}: all p50 ${percentile(all, 50).toFixed(2)} p99 ${percentile(all, 99).toFixed(2)} max ${Math.max(...all).toFixed(1)} ms; ` +
          `WS p50 ${percentile(ws, 50).toFixed(2)} p99 ${percentile(ws, 99).toFixed(2)}; SSE p50 ${percentile(sse, 50).toFixed(2)} p99 ${percentile(sse, 99).toFixed(2)}`,
      );
    }
  }
  figure("latency_p50_100_listeners", median(p50.real), "ms");
  figure("latency_p99_100_listeners", median(p99.real), "ms");
  figure("latency_p50_100_listeners_raw_runtime", median(p50.raw), "ms");
  figure("latency_p99_100_listeners_raw_runtime", median(p99.raw), "ms");
}
