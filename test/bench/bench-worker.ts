/**
 * The benchmark's Worker (workerd side), started by `npm run bench` from wrangler.bench.toml: the
 * real worker and ChatRoom (extended with bench-only RPCs that generate load inside the object), two
 * comparison rooms, and /bench/* routes. Every room receives the same drafts and listeners get the
 * same frames, so figures differ only by what each design does per event.
 */
import { DurableObject } from "cloudflare:workers";
import { ChatRoom as RealChatRoom, type RoomSeams, roomSeams } from "../../worker/chat/chat-room";
import { streamConfig } from "../../worker/chat/config";
import type { EventText, ListenerAttachment, ListenerFormat } from "../../worker/chat/listener-frames";
import { controlFrame, encodeEvents, eventFrames } from "../../worker/chat/listener-frames";
import { broadcast, Fanout } from "../../worker/chat/listeners";
import { sseResponse } from "../../worker/http/sse-bridge";
import worker from "../../worker/index";
import { type EventDraft, parseDraft } from "../../worker/protocol/events";
import { createHttpProvider } from "../../worker/sandbox/http-provider";
import { schedulerBenchRoute } from "./scheduler-routes";

type BenchEnv = Env & {
  RAW_ROOM: DurableObjectNamespace<RawBroadcastRoom>;
  NAIVE_ROOM: DurableObjectNamespace<NaiveD1Room>;
};
type Draft = { kind: string; messageId: string | null; payload: unknown };
type D1Counter = { batches: number; statements: number };
export type TokenRun = { tokens: number; elapsedMs: number; batches: number; statements: number; head: number };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * `n` text deltas of `size` bytes, then one `usage` event that marks the end. Consecutive deltas
 * alternate between two messages (a fresh pair every 200), so the real room's coalescer passes each
 * one on as its own event: merging them would flatter the persistent design.
 */
function* throughputDrafts(n: number, size: number): Generator<Draft> {
  const text = "x".repeat(size);
  let pair = ["", ""];
  for (let i = 0; i < n; i++) {
    if (i % 200 === 0) pair = [crypto.randomUUID(), crypto.randomUUID()];
    yield { kind: "text_delta", messageId: pair[i % 2] ?? null, payload: { text } };
  }
  yield { kind: "usage", messageId: pair[0] || null, payload: { inputTokens: 0, outputTokens: n } };
}

/** The latency scenario's events: tool cards opening and closing (never merged). */
function tickDraft(messageId: string, i: number): Draft {
  const toolUseId = `t${i >> 1}`;
  return i % 2 === 0
    ? { kind: "tool_started", messageId, payload: { toolUseId, name: "Bash", input: { command: "ls" } } }
    : { kind: "tool_completed", messageId, payload: { toolUseId, output: "a\nb" } };
}

/**
 * A chat history as an agent writes it, for the client bench: exchanges of a prompt, a reply of
 * eight steps (a markdown paragraph, then a tool call and its output; the tool events keep the
 * paragraphs from merging) and a closing paragraph with a code block, until `n` events. The last
 * reply ends with `lastMarker`, so a page can tell when it has rendered the end.
 */
function* conversationDrafts(n: number, lastMarker: string): Generator<Draft> {
  const perExchange = 29;
  const exchanges = Math.max(1, Math.floor(n / perExchange));
  for (let x = 0; x < exchanges; x++) {
    const [user, reply] = [crypto.randomUUID(), crypto.randomUUID()];
    const content = `Exchange ${x}: look at the build and fix what fails.`;
    yield { kind: "user_message", messageId: user, payload: { content, assistantMessageId: reply, source: "user" } };
    yield { kind: "run_started", messageId: reply, payload: { userMessageId: user, model: "bench" } };
    for (let step = 0; step < 8; step++) {
      const text = `Step ${step}: I read \`src/module-${step}.ts\` and the **test** around it; the next command shows why it fails.\n\n`;
      yield { kind: "text_delta", messageId: reply, payload: { text } };
      const toolUseId = `t${x}-${step}`;
      const input = { command: `npm test -- module-${step}` };
      yield { kind: "tool_started", messageId: reply, payload: { toolUseId, name: "Bash", input } };
      const output = Array.from({ length: 12 }, (_, i) => `  ✓ case ${i} of module ${step}`).join("\n");
      yield { kind: "tool_completed", messageId: reply, payload: { toolUseId, output } };
    }
    const end = x === exchanges - 1 ? lastMarker : `end of exchange ${x}`;
    const text = `All steps pass now:\n\n\`\`\`ts\nexport const fixed = ${x};\n\`\`\`\n\n${end}`;
    yield { kind: "text_delta", messageId: reply, payload: { text } };
    yield { kind: "usage", messageId: reply, payload: { inputTokens: 1200, outputTokens: 480 } };
    yield { kind: "run_completed", messageId: reply, payload: { numTurns: 9 } };
  }
}

/** The event as the real room hands it to `broadcast`: its payload serialized once. */
function eventText(seq: number, draft: EventDraft): EventText {
  return {
    seq,
    messageId: draft.messageId,
    kind: draft.kind,
    payloadJson: JSON.stringify(draft.payload),
    at: Date.now(),
  };
}

/** Accepts a listener the way the real room does (hibernatable, tagged, attachment), minus replay. */
function acceptPlain(ctx: DurableObjectState, head: number, format: ListenerFormat = "ws"): Response {
  const pair = new WebSocketPair();
  const attachment: ListenerAttachment = { userId: "bench", format, after: head, connectedAt: Date.now() };
  ctx.acceptWebSocket(pair[1], [format]);
  pair[1].serializeAttachment(attachment);
  pair[1].send(controlFrame(format, "ready", head));
  return new Response(null, { status: 101, webSocket: pair[0] });
}

/** Wraps a D1 binding to count `batch` calls (the outbox's flushes); everything else passes through. */
function countingD1(db: D1Database, counter: D1Counter): D1Database {
  return new Proxy(db, {
    get(target, key) {
      if (key === "batch") {
        return (statements: D1PreparedStatement[]) => {
          counter.batches += 1;
          counter.statements += statements.length;
          return target.batch(statements);
        };
      }
      const value: unknown = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * Set by /bench/next-room-replays-from-sqlite: the next ChatRoom constructed holds no recent events
 * in memory, so its replays read SQLite (what a reconnect to a freshly woken chat does).
 */
let nextRoomWithoutRecentEvents = false;

/**
 * Set by /bench/provider-for-all: the sandbox provider every ChatRoom's runs go to (the scheduler
 * scenario's chats are made by the tick, so no per-chat call can aim them); null means configured.
 * Its calls may take long: a thousand chats starting at once share this one local workerd process
 * (in production they are spread over many machines), so the wait is here, not at the provider.
 */
let providerForAll: { url: string; token: string } | null = null;

/** How often each ChatRoom was constructed in this isolate: 2+ means it hibernated and woke again. */
const constructions = new Map<string, number>();

/**
 * The production ChatRoom, untouched, plus RPCs that drive its writer from inside (through its
 * `roomSeams`, each draft validated first as a client's would be).
 */
export class ChatRoom extends RealChatRoom {
  readonly #d1: D1Counter;
  readonly #seams: RoomSeams;

  constructor(ctx: DurableObjectState, env: Env) {
    const d1: D1Counter = { batches: 0, statements: 0 };
    const noRecent = nextRoomWithoutRecentEvents ? { RECENT_EVENTS_CHARS: "0" } : {};
    nextRoomWithoutRecentEvents = false;
    super(ctx, { ...env, DB: countingD1(env.DB, d1), ...noRecent });
    this.#d1 = d1;
    this.#seams = this[roomSeams]();
    // Rooms made while the scheduler bench aims every chat at its instant provider use that one.
    const aimed = providerForAll;
    if (aimed) {
      this.#seams.useProvider(() => createHttpProvider({ baseUrl: aimed.url, token: aimed.token, timeoutMs: 600_000 }));
    }
    const key = ctx.id.toString();
    constructions.set(key, (constructions.get(key) ?? 0) + 1);
  }

  /** One draft, validated, through the writer (synchronous, like the raw room's loop). */
  #appendOne(chatId: string, draft: Draft): void {
    this.#seams.emit(chatId, [parseDraft(draft)]);
  }

  async head(): Promise<number> {
    return this.#seams.head();
  }

  async flush(chatId: string): Promise<{ head: number; flushedSeq: number }> {
    return this.#seams.flush(chatId);
  }

  /** Appends the throughput drafts, yielding the turn after every `burst` appends. */
  async benchAppend(chatId: string, n: number, size: number, burst: number): Promise<{ head: number }> {
    let i = 0;
    for (const draft of throughputDrafts(n, size)) {
      this.#appendOne(chatId, draft);
      if (++i % burst === 0) await sleep(0);
    }
    return { head: await this.head() };
  }

  /** `n` tool events (never merged), one every `intervalMs`; each envelope's `at` is its append time. */
  async benchTicks(chatId: string, n: number, intervalMs: number): Promise<{ head: number }> {
    const messageId = crypto.randomUUID();
    for (let i = 0; i < n; i++) {
      await sleep(intervalMs);
      this.#appendOne(chatId, tickDraft(messageId, i));
    }
    return { head: await this.head() };
  }

  /**
   * One assistant message streamed like a model: bursts of 1-4 small text deltas 2-5 ms apart
   * (about one token per 1.5 ms), until `tokens` were sent or `durationMs` passed; then
   * `run_completed`. Counts the outbox's D1 batches during the stream (before the terminal flush).
   */
  async benchTokens(chatId: string, tokens: number, durationMs: number): Promise<TokenRun> {
    const messageId = crypto.randomUUID();
    this.#appendOne(chatId, {
      kind: "run_started",
      messageId,
      payload: { userMessageId: crypto.randomUUID(), model: "bench" },
    });
    const before = { ...this.#d1 };
    const start = Date.now();
    let sent = 0;
    while (tokens > 0 ? sent < tokens : Date.now() - start < durationMs) {
      await sleep(2 + Math.floor(Math.random() * 4));
      const burst = 1 + Math.floor(Math.random() * 4);
      for (let k = 0; k < burst && (tokens === 0 || sent < tokens); k++, sent++) {
        this.#appendOne(chatId, { kind: "text_delta", messageId, payload: { text: ` tok${sent % 10}` } });
      }
    }
    const elapsedMs = Date.now() - start;
    const batches = this.#d1.batches - before.batches;
    const statements = this.#d1.statements - before.statements;
    this.#appendOne(chatId, { kind: "run_completed", messageId, payload: {} });
    return { tokens: sent, elapsedMs, batches, statements, head: await this.head() };
  }

  /** Writes a chat history of about `n` events (see `conversationDrafts`) and copies it to D1. */
  async benchConversation(chatId: string, n: number, lastMarker: string): Promise<{ head: number }> {
    let i = 0;
    for (const draft of conversationDrafts(n, lastMarker)) {
      await this.#appendOne(chatId, draft);
      if (++i % 500 === 0) await sleep(0);
    }
    await this.flush(chatId);
    return { head: await this.head() };
  }

  /**
   * A prompt and a reply streamed like a fast model (bursts of 1-4 tokens 2-5 ms apart) in
   * paragraphs of 60 tokens, each token unique (` w<i>x`) so a page can tell exactly when each one
   * reached the screen; then `run_completed`.
   */
  async benchStream(chatId: string, tokens: number): Promise<{ head: number }> {
    const [user, reply] = [crypto.randomUUID(), crypto.randomUUID()];
    await this.#appendOne(chatId, {
      kind: "user_message",
      messageId: user,
      payload: { content: "stream as fast as you can", assistantMessageId: reply, source: "user" },
    });
    await this.#appendOne(chatId, {
      kind: "run_started",
      messageId: reply,
      payload: { userMessageId: user, model: "bench" },
    });
    for (let sent = 0; sent < tokens; ) {
      await sleep(2 + Math.floor(Math.random() * 4));
      const burst = 1 + Math.floor(Math.random() * 4);
      for (let k = 0; k < burst && sent < tokens; k++, sent++) {
        const text = sent % 60 === 59 ? ` w${sent}x.\n\n` : ` w${sent}x`;
        await this.#appendOne(chatId, { kind: "text_delta", messageId: reply, payload: { text } });
      }
    }
    await this.#appendOne(chatId, { kind: "run_completed", messageId: reply, payload: {} });
    return { head: await this.head() };
  }

  /**
   * Replay's steps without a socket, for timing from outside (Date.now() stands still within a
   * turn): "none" returns at once, "read" reads the log like replay, "frames" also builds the frames.
   */
  async benchReplaySteps(chatId: string, step: "none" | "read" | "frames"): Promise<number> {
    if (step === "none") return 0;
    const rows: EventText[] = [];
    for (const [seq, messageId, kind, payloadJson, at] of this.ctx.storage.sql
      .exec("SELECT seq, message_id, kind, payload, at FROM events WHERE seq > 0 ORDER BY seq")
      .raw()) {
      rows.push({
        seq: Number(seq),
        messageId: typeof messageId === "string" ? messageId : null,
        kind: String(kind),
        payloadJson: String(payloadJson),
        at: Number(at),
      });
    }
    return step === "read" ? rows.length : eventFrames(encodeEvents(JSON.stringify(chatId), rows), "ws").length;
  }

  /**
   * Aims this chat's runs at another sandbox provider (the runs scenario's fast fake one) through
   * its seams. Held in memory only: the scenario keeps a listener connected and sends its message
   * right away, so the object is not evicted in between.
   */
  async benchUseProvider(baseUrl: string, token: string): Promise<void> {
    this.#seams.useProvider(() => createHttpProvider({ baseUrl, token }));
  }

  async benchStats(): Promise<{ constructions: number } & D1Counter> {
    return { constructions: constructions.get(this.ctx.id.toString()) ?? 0, ...this.#d1 };
  }
}

/** How the raw room handles each event: sent at once, through the real fan-out, or stored first. */
type RawMode = "plain" | "packed" | "stored";
/** Events the stored variant writes per INSERT batch: what the real room's 4 KiB coalescing gives 100-byte deltas. */
const STORED_BATCH = 40;

/**
 * The same accept and fan-out as ChatRoom, validating each draft. Plain, it stores nothing and
 * sends each event at once (what the runtime does unaided); packed, it stores nothing and goes
 * through the real room's `Fanout` (events of one turn in one frame); stored, it also writes each
 * batch of events to its SQLite with the real log's 20-row INSERTs first (and nothing else: no
 * coalescer, fold, outbox or alarm), which is the floor of any design that commits before it sends.
 */
export class RawBroadcastRoom extends DurableObject<BenchEnv> {
  #seq = 0;
  // The real room's listener age check too (its default), so raw-packed differs only in storing.
  readonly #fanout = new Fanout(this.ctx, { recentChars: 0, listenerMaxAgeMs: streamConfig({}).wsMaxMs });
  #tableReady = false;

  override async fetch(request: Request): Promise<Response> {
    const format = new URL(request.url).searchParams.get("format") === "sse" ? "sse" : "ws";
    return acceptPlain(this.ctx, this.#seq, format);
  }

  /** The latency scenario's ticks, each sent to every listener at once (nothing to commit first). */
  async benchTicks(chatId: string, n: number, intervalMs: number): Promise<{ head: number }> {
    const messageId = crypto.randomUUID();
    const chatIdJson = JSON.stringify(chatId);
    for (let i = 0; i < n; i++) {
      await sleep(intervalMs);
      this.#seq += 1;
      broadcast(this.ctx, encodeEvents(chatIdJson, [eventText(this.#seq, parseDraft(tickDraft(messageId, i)))]));
    }
    return { head: this.#seq };
  }

  async benchAppend(chatId: string, n: number, size: number, burst: number, mode: RawMode): Promise<{ head: number }> {
    let i = 0;
    const chatIdJson = JSON.stringify(chatId);
    let batch: EventText[] = [];
    for (const draft of throughputDrafts(n, size)) {
      this.#seq += 1;
      const event = eventText(this.#seq, parseDraft(draft));
      if (mode === "stored") {
        batch.push(event);
        if (batch.length === STORED_BATCH) {
          this.#store(batch);
          this.#fanout.push(encodeEvents(chatIdJson, batch));
          batch = [];
        }
      } else if (mode === "packed") this.#fanout.push(encodeEvents(chatIdJson, [event]));
      else broadcast(this.ctx, encodeEvents(chatIdJson, [event]));
      if (++i % burst === 0) await sleep(0);
    }
    if (batch.length > 0) {
      this.#store(batch);
      this.#fanout.push(encodeEvents(chatIdJson, batch));
    }
    return { head: this.#seq };
  }

  /** The real log's write: 20-row INSERTs of the same five columns. */
  #store(events: EventText[]): void {
    const sql = this.ctx.storage.sql;
    if (!this.#tableReady) {
      sql.exec(
        "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, message_id TEXT, kind TEXT NOT NULL, payload TEXT NOT NULL, at INTEGER NOT NULL)",
      );
      this.#tableReady = true;
    }
    for (let start = 0; start < events.length; start += 20) {
      const chunk = events.slice(start, start + 20);
      const params = chunk.flatMap((e) => [e.seq, e.messageId, e.kind, e.payloadJson, e.at]);
      sql.exec(
        `INSERT INTO events (seq, message_id, kind, payload, at) VALUES ${chunk.map(() => "(?, ?, ?, ?, ?)").join(", ")}`,
        ...params,
      );
    }
  }
}

/** The naive design: every event awaits its own D1 INSERT before it is broadcast. */
export class NaiveD1Room extends DurableObject<BenchEnv> {
  #seq = 0;

  override async fetch(): Promise<Response> {
    return acceptPlain(this.ctx, this.#seq);
  }

  async benchAppend(chatId: string, n: number, size: number): Promise<{ head: number }> {
    const insert = this.env.DB.prepare(
      "INSERT INTO chat_events (chat_id, seq, message_id, kind, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    for (const draft of throughputDrafts(n, size)) {
      const event = eventText(this.#seq + 1, parseDraft(draft));
      await insert.bind(chatId, event.seq, event.messageId, event.kind, event.payloadJson, event.at).run();
      this.#seq = event.seq;
      broadcast(this.ctx, encodeEvents(JSON.stringify(chatId), [event]));
    }
    return { head: this.#seq };
  }
}

function int(url: URL, name: string, fallback: number): number {
  const value = Number(url.searchParams.get(name) ?? fallback);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`bad ${name}`);
  return value;
}

async function benchRoute(request: Request, env: BenchEnv): Promise<Response> {
  const scheduler = await schedulerBenchRoute(request, env);
  if (scheduler) return scheduler;
  const url = new URL(request.url);
  const chat = url.searchParams.get("chat") ?? "";
  const variant = url.searchParams.get("variant") ?? "real";
  const real = (env.CHAT_ROOM as unknown as DurableObjectNamespace<ChatRoom>).getByName(chat);
  const [n, size, burst] = [int(url, "n", 1000), int(url, "size", 100), Math.max(1, int(url, "burst", 1))];
  switch (url.pathname) {
    case "/bench/append":
      if (variant === "raw" || variant === "raw-packed" || variant === "raw-stored") {
        const mode: RawMode = variant === "raw" ? "plain" : variant === "raw-packed" ? "packed" : "stored";
        return Response.json(await env.RAW_ROOM.getByName(chat).benchAppend(chat, n, size, burst, mode));
      }
      if (variant === "naive") return Response.json(await env.NAIVE_ROOM.getByName(chat).benchAppend(chat, n, size));
      return Response.json(await real.benchAppend(chat, n, size, burst));
    case "/bench/listen":
      return (variant === "naive" ? env.NAIVE_ROOM : env.RAW_ROOM).getByName(chat).fetch(request);
    case "/bench/listen-sse": {
      // A raw room's listener through the real SSE bridge, as the stream route does it.
      const upgrade = new Request("https://raw-room/listen?format=sse", { headers: { upgrade: "websocket" } });
      const socket = (await env.RAW_ROOM.getByName(chat).fetch(upgrade)).webSocket;
      if (!socket) throw new Error("raw room refused the SSE bridge");
      const config = streamConfig(env as unknown as Record<string, unknown>);
      return sseResponse(socket, { heartbeatMs: config.sseHeartbeatMs, maxMs: config.sseMaxMs });
    }
    case "/bench/ticks":
      if (variant === "raw")
        return Response.json(await env.RAW_ROOM.getByName(chat).benchTicks(chat, n, int(url, "interval", 10)));
      return Response.json(await real.benchTicks(chat, n, int(url, "interval", 10)));
    case "/bench/conversation":
      return Response.json(await real.benchConversation(chat, n, url.searchParams.get("marker") ?? "the end"));
    case "/bench/stream":
      return Response.json(await real.benchStream(chat, int(url, "tokens", 1000)));
    case "/bench/tokens":
      return Response.json(await real.benchTokens(chat, int(url, "tokens", 0), int(url, "duration", 0)));
    case "/bench/flush":
      return Response.json(await real.flush(chat));
    case "/bench/replay-steps": {
      const step = url.searchParams.get("step");
      if (step !== "none" && step !== "read" && step !== "frames") throw new Error("bad step");
      return Response.json(await real.benchReplaySteps(chat, step));
    }
    case "/bench/next-room-replays-from-sqlite":
      nextRoomWithoutRecentEvents = true;
      return Response.json({ ok: true });
    case "/bench/stats":
      return Response.json(await real.benchStats());
    case "/bench/provider-for-all": {
      const target = url.searchParams.get("url") ?? "";
      providerForAll = target === "" ? null : { url: target, token: url.searchParams.get("token") ?? "" };
      return Response.json({ ok: true });
    }
    case "/bench/use-provider":
      await real.benchUseProvider(url.searchParams.get("url") ?? "", url.searchParams.get("token") ?? "");
      return Response.json({ ok: true });
    case "/bench/d1-rows": {
      const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM chat_events WHERE chat_id = ?")
        .bind(chat)
        .first<{ n: number }>();
      return Response.json({ rows: row?.n ?? 0 });
    }
    default:
      return new Response("no such bench route", { status: 404 });
  }
}

export default {
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname.startsWith("/bench/")) return benchRoute(request, env as BenchEnv);
    return worker.fetch(request, env, ctx);
  },
  scheduled: worker.scheduled,
} satisfies ExportedHandler<Env>;
