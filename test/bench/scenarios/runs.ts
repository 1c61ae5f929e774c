/**
 * Agent runs through the whole service. First delta: message POST → the first `text_delta` at a WS
 * listener, against the reference provider answering the same run directly (both start the real
 * Claude Code CLI against the scripted model), interleaved. Ingest: a provider that streams a run's
 * records as fast as it can, POST → `run_completed` at a listener, against the persisted append
 * rate of the stream core measured in the same repetition.
 */

import { randomUUID } from "node:crypto";
import { type Api, bench, createChat, openWs, signUp, wallNow } from "../clients.ts";
import type { Context } from "../context.ts";
import { type FastProvider, startFastProvider } from "../fast-provider.ts";
import { figure, median, note } from "../stats.ts";
import { measure } from "./throughput.ts";

/** The scripted model's reply in the first-delta runs: a short text, streamed in 16-character chunks. */
const REPLY = "Hello from the bench: a short reply.";
/** What a new chat runs with (the chats route's defaults). */
const MODEL = "claude-sonnet-4-5";
/**
 * Direct/ours pairs per repetition (each side's median is the repetition's value): one CLI start
 * varies by ±100 ms on this machine, more than the overhead being measured.
 */
const PAIRS = 3;
/** Text deltas per ingest run, and the text of each (a few tokens, as the model API sends them). */
const INGEST_DELTAS = 20_000;
const DELTA_TEXT = "lorem ipsum ";
/** Text deltas of the fast provider's short reply (REPLY's size). */
const SHORT_DELTAS = 3;
/** The append-rate comparison: the throughput scenario's 100-byte deltas, 1 listener. */
/** The throughput scenario's event size (its `measure` appends 100-byte text deltas). */
const APPEND_SIZE = 100;

type Kind = "text_delta" | "run_completed" | "run_failed" | "run_cancelled";

/** When event kinds first reached one listener, and how much delta text it got. */
class Arrivals {
  readonly #first = new Map<string, number>();
  readonly #waiters: { kinds: readonly Kind[]; resolve: (hit: { kind: string; at: number }) => void }[] = [];
  text = 0;
  terminal = "";

  see(frame: string, at: number): void {
    const { events } = JSON.parse(frame) as { events?: { kind: string; payload: { text?: string } }[] };
    for (const { kind, payload } of events ?? []) {
      if (kind === "text_delta") this.text += payload.text?.length ?? 0;
      if (kind.startsWith("run_") && kind !== "run_started") this.terminal = JSON.stringify(payload);
      if (this.#first.has(kind)) continue;
      this.#first.set(kind, at);
      for (const w of this.#waiters.filter((w) => w.kinds.includes(kind as Kind))) w.resolve({ kind, at });
    }
  }

  /** The first arrival of any of `kinds`. */
  next(kinds: readonly Kind[]): Promise<{ kind: string; at: number }> {
    const seen = kinds.flatMap((kind) => {
      const at = this.#first.get(kind);
      return at === undefined ? [] : [{ kind, at }];
    });
    const earliest = seen.sort((a, b) => a.at - b.at)[0];
    if (earliest) return Promise.resolve(earliest);
    return new Promise((resolve) => this.#waiters.push({ kinds, resolve }));
  }

  /** When `run_completed` arrived; throws when the run failed or was cancelled instead. */
  async completed(): Promise<number> {
    const end = await this.next(["run_completed", "run_failed", "run_cancelled"]);
    if (end.kind !== "run_completed") throw new Error(`run ended ${end.kind}: ${this.terminal}`);
    return end.at;
  }
}

async function postMessage(api: Api, chat: string, content: string): Promise<void> {
  const res = await fetch(`${api.origin}/api/chats/${chat}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: api.cookie },
    body: JSON.stringify({ content }),
  });
  if (res.status !== 202) throw new Error(`send message failed: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

type ChatRun = { firstDeltaMs: number; completedMs: number };

/**
 * Sends `prompt` to a new chat (its runs aimed at the fast provider when given, with a run staged)
 * and times from the POST to the first `text_delta` and to `run_completed` at a WS listener that
 * is caught up before the clock starts. Checks that the listener got `chars` characters of text.
 */
async function throughChat(
  ctx: Context,
  api: Api,
  prompt: string,
  chars: number,
  fast?: FastProvider,
): Promise<ChatRun> {
  const chat = await createChat(api);
  const arrivals = new Arrivals();
  const listener = openWs(`${ctx.origin.replace("http", "ws")}/api/chats/${chat}/ws`, api.cookie, (frame, at) =>
    arrivals.see(frame, at),
  );
  try {
    await listener.ready;
    if (fast) await bench(ctx.origin, "use-provider", { chat, url: fast.url, token: fast.token });
    const start = wallNow();
    await postMessage(api, chat, prompt);
    const first = await arrivals.next(["text_delta", "run_completed", "run_failed", "run_cancelled"]);
    const completed = await arrivals.completed();
    if (first.kind !== "text_delta") throw new Error(`no text delta before ${first.kind}`);
    if (arrivals.text !== chars) throw new Error(`listener got ${arrivals.text} of ${chars} characters of text`);
    return { firstDeltaMs: first.at - start, completedMs: completed - start };
  } finally {
    listener.close();
    // Drain the outbox outside the timed window, so one run's D1 copy does not slow the next.
    await bench(ctx.origin, "flush", { chat });
  }
}

/** POST message → first text delta at a listener, the real CLI's run going through the chat (ms). */
async function ours(ctx: Context, api: Api, prompt: string): Promise<number> {
  return (await throughChat(ctx, api, prompt, REPLY.length)).firstDeltaMs;
}

/** The same run asked of the reference provider directly: PUT sandbox → first text_delta record (ms). */
async function direct(ctx: Context, prompt: string): Promise<number> {
  const { sandboxUrl, sandboxToken } = ctx.sandbox;
  const headers = { authorization: `Bearer ${sandboxToken}`, "content-type": "application/json" };
  const sandbox = `${sandboxUrl}/v1/sandboxes/bench-${randomUUID()}`;
  const start = wallNow();
  const put = await fetch(sandbox, { method: "PUT", headers, body: "{}" });
  if (put.status !== 201) throw new Error(`PUT sandbox: ${put.status} ${await put.text()}`);
  await put.arrayBuffer();
  const run = { prompt, model: MODEL, permissionMode: "default", idempotencyKey: randomUUID() };
  const started = await fetch(`${sandbox}/runs`, { method: "POST", headers, body: JSON.stringify(run) });
  if (started.status !== 201) throw new Error(`POST run: ${started.status} ${await started.text()}`);
  const { runId } = (await started.json()) as { runId: string };
  const events = await fetch(`${sandbox}/runs/${runId}/events?after=0`, { headers });
  if (events.status !== 200 || !events.body) throw new Error(`GET events: ${events.status}`);
  let first = 0;
  let buffer = "";
  const decoder = new TextDecoder();
  for await (const chunk of events.body) {
    const at = wallNow();
    buffer += decoder.decode(chunk, { stream: true });
    const lines = buffer.split("\n");
    buffer = lines.pop() ?? "";
    for (const line of lines) {
      const record = JSON.parse(line) as { type: string; data?: { event?: { delta?: { type?: string } } } };
      if (first === 0 && record.type === "agent" && record.data?.event?.delta?.type === "text_delta") first = at;
    }
  }
  if (first === 0) throw new Error("the direct run printed no text delta");
  return first - start;
}

/** The chat's own part of a first delta: the same short reply from the fast provider (ms). */
async function oursInstant(ctx: Context, api: Api, fast: FastProvider): Promise<number> {
  fast.stage(SHORT_DELTAS, DELTA_TEXT);
  return (await throughChat(ctx, api, "say hello", SHORT_DELTAS * DELTA_TEXT.length, fast)).firstDeltaMs;
}

/** Provider records per second: POST message → `run_completed` at a listener, the fast provider streaming. */
async function ingest(ctx: Context, api: Api, fast: FastProvider): Promise<number> {
  fast.stage(INGEST_DELTAS, DELTA_TEXT);
  const run = await throughChat(ctx, api, "stream as fast as you can", INGEST_DELTAS * DELTA_TEXT.length, fast);
  return INGEST_DELTAS / (run.completedMs / 1000);
}

async function registerScript(modelUrl: string, id: string): Promise<void> {
  const turns = [{ blocks: [{ type: "text", text: REPLY }] }];
  const res = await fetch(`${modelUrl}/__scripts`, { method: "POST", body: JSON.stringify({ id, turns }) });
  if (res.status !== 201) throw new Error(`script registration failed: ${res.status}`);
  await res.arrayBuffer();
}

/** One repetition's first-delta times (medians of its pairs) and rates. */
type Rep = { direct: number; ours: number; extra: number; instant: number; ingest: number; append: number };

async function repetition(ctx: Context, fast: FastProvider, prompt: string, index: number): Promise<Rep> {
  // Its own account: the message rate limit (30 a minute per user) would stop a long bench.
  const api = await signUp(ctx.origin);
  const directMs: number[] = [];
  const oursMs: number[] = [];
  for (let pair = 0; pair < PAIRS; pair++) {
    // Alternate which goes first, so a drift in machine load does not favour one side.
    if ((index * PAIRS + pair) % 2 === 0) {
      directMs.push(await direct(ctx, prompt));
      oursMs.push(await ours(ctx, api, prompt));
    } else {
      oursMs.push(await ours(ctx, api, prompt));
      directMs.push(await direct(ctx, prompt));
    }
  }
  const rep: Rep = {
    direct: median(directMs),
    ours: median(oursMs),
    extra: median(oursMs.map((value, i) => value - (directMs[i] ?? Number.NaN))),
    instant: await oursInstant(ctx, api, fast),
    ingest: await ingest(ctx, api, fast),
    // The stream core's persisted append rate for as many events, 1 listener (the throughput scenario's measure).
    append: await measure(ctx, "real", 1, ctx.burst, INGEST_DELTAS),
  };
  const list = (values: number[]) => values.map((v) => v.toFixed(0)).join(", ");
  note(
    `run ${index + 1}: first delta direct ${list(directMs)} ms, through the chat ${list(oursMs)} ms ` +
      `(paired difference ${rep.extra.toFixed(0)} ms), from the instant provider ${rep.instant.toFixed(1)} ms; ` +
      `ingest ${rep.ingest.toFixed(0)} records/s, persisted append ${rep.append.toFixed(0)} events/s`,
  );
  return rep;
}

export async function runs(ctx: Context): Promise<void> {
  const script = `bench-${randomUUID()}`;
  await registerScript(ctx.sandbox.modelUrl, script);
  const prompt = `[script:${script}] Say hello.`;
  note(
    `runs: first text delta, POST message → WS listener, vs the reference provider asked directly (real CLI, ` +
      `${PAIRS} pairs per run) and from an instant provider; ingest of ${INGEST_DELTAS} text-delta records ` +
      `(${DELTA_TEXT.length} characters each) written at once, POST → run_completed at a WS listener, vs appending ` +
      `${INGEST_DELTAS} ${APPEND_SIZE}-byte deltas in the room, 1 listener`,
  );
  const fast = await startFastProvider();
  try {
    // Unmeasured: the first CLI start reads its ~380 MB binary from disk.
    await direct(ctx, prompt);
    await ours(ctx, ctx.api, prompt);
    const reps: Rep[] = [];
    for (let index = 0; index < ctx.reps; index++) reps.push(await repetition(ctx, fast, prompt, index));
    const figures: [string, (rep: Rep) => number, string][] = [
      ["run_first_delta_ms_direct", (r) => r.direct, "ms"],
      ["run_first_delta_ms_ours", (r) => r.ours, "ms"],
      ["run_first_delta_overhead_ratio", (r) => r.ours / r.direct, "ratio"],
      ["run_first_delta_overhead_ms", (r) => r.extra, "ms"],
      ["run_first_delta_ms_instant_provider", (r) => r.instant, "ms"],
      ["run_ingest_records_per_s", (r) => r.ingest, "records/s"],
      ["run_ingest_append_rate_persisted", (r) => r.append, "events/s"],
      ["run_ingest_ratio_vs_append", (r) => r.ingest / r.append, "ratio"],
    ];
    for (const [name, pick, unit] of figures) figure(name, median(reps.map(pick)), unit);
  } finally {
    await fast.close();
  }
}
