/**
 * Replay to a reconnecting listener: a chat holding 10,000 events, then listeners from cursor 0
 * over WebSocket and over SSE, each timed from the connect request to its `ready` frame (auth,
 * the chat lookup and the whole replay included).
 */
import { bench, createChat, openSse, openWs, wallNow } from "../clients.ts";
import type { Context } from "../context.ts";
import { figure, median, note } from "../stats.ts";

const EVENTS = 10_000;
const SIZE = 100;

async function timeToReady(open: () => { ready: Promise<number>; close(): void }): Promise<number> {
  const start = wallNow();
  const listener = open();
  try {
    return (await listener.ready) - start;
  } finally {
    listener.close();
  }
}

/** A chat holding `EVENTS` events; `fromSqlite`: its room keeps none in memory, so replays read SQLite. */
async function filledChat(ctx: Context, fromSqlite: boolean): Promise<string> {
  const chat = await createChat(ctx.api);
  if (fromSqlite) await bench(ctx.origin, "next-room-replays-from-sqlite", {});
  // 9,999 deltas + the closing usage event.
  const { head } = await bench<{ head: number }>(ctx.origin, "append", {
    chat,
    n: EVENTS - 1,
    size: SIZE,
    burst: 1000,
  });
  if (head !== EVENTS) throw new Error(`replay: chat holds ${head} events, wanted ${EVENTS}`);
  await bench(ctx.origin, "flush", { chat });
  return chat;
}

export async function replay(ctx: Context): Promise<void> {
  note(
    `replay: ${EVENTS} events of ${SIZE}-byte text from cursor 0, connect request to ready; ` +
      "from the recent events the room holds in memory, and from SQLite (a room that holds none)",
  );
  const times: Record<string, number[]> = { ws: [], sse: [], ws_from_sqlite: [], sse_from_sqlite: [] };
  for (const fromSqlite of [false, true]) {
    const chat = await filledChat(ctx, fromSqlite);
    const wsUrl = `${ctx.origin.replace("http", "ws")}/api/chats/${chat}/ws?after=0`;
    const sseUrl = `${ctx.origin}/api/chats/${chat}/stream?after=0`;
    // One untimed round warms the routes and the object.
    await timeToReady(() => openWs(wsUrl, ctx.api.cookie));
    await timeToReady(() => openSse(sseUrl, ctx.api.cookie));
    const suffix = fromSqlite ? "_from_sqlite" : "";
    for (let rep = 0; rep < ctx.reps; rep++) {
      times[`ws${suffix}`]?.push(await timeToReady(() => openWs(wsUrl, ctx.api.cookie)));
      times[`sse${suffix}`]?.push(await timeToReady(() => openSse(sseUrl, ctx.api.cookie)));
    }
  }
  const chat = await filledChat(ctx, true);
  // Where the time goes inside the room: each step timed as an RPC round trip minus an empty one.
  const steps: Record<string, number[]> = { none: [], read: [], frames: [] };
  for (let rep = 0; rep < 5; rep++) {
    for (const step of ["none", "read", "frames"]) {
      const start = wallNow();
      await bench(ctx.origin, "replay-steps", { chat, step });
      steps[step]?.push(wallNow() - start);
    }
  }
  const base = median(steps.none ?? []);
  const empty = await createChat(ctx.api);
  const emptyUrl = `${ctx.origin.replace("http", "ws")}/api/chats/${empty}/ws?after=0`;
  const connectOnly: number[] = [];
  for (let rep = 0; rep < 3; rep++) connectOnly.push(await timeToReady(() => openWs(emptyUrl, ctx.api.cookie)));
  note(`connect to ready on an empty chat (auth, chat lookup, upgrade): ${median(connectOnly).toFixed(1)} ms over WS`);
  note(
    `replay from SQLite inside the room: read of ${EVENTS} rows ${(median(steps.read ?? []) - base).toFixed(1)} ms, ` +
      `read + frame building ${(median(steps.frames ?? []) - base).toFixed(1)} ms (empty RPC ${base.toFixed(1)} ms)`,
  );
  for (const [name, values] of Object.entries(times)) {
    note(`replay runs ${name}: ${values.map((v) => v.toFixed(1)).join(", ")} ms`);
  }
  for (const [name, values] of Object.entries(times)) figure(`replay_10k_${name}`, median(values), "ms");
}
