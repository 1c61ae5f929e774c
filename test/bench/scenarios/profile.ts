/**
 * A diagnostic, not a figure (`npm run bench -- profile`): samples workerd's CPU through wrangler's
 * inspector while the real ChatRoom and the raw room take the throughput load, and prints where
 * the time goes (self time per function, inclusive time of the stream core's steps).
 */
import WebSocket from "ws";
import { bench, createChat, openSse, openWs, RawMatch } from "../clients.ts";
import type { Context } from "../context.ts";
import { note } from "../stats.ts";

type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type Profile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };

/** Functions whose inclusive time answers "SQLite, JSON, validation, fold or sends?". */
const STEPS = [
  "append", // ChatRoom.append (RPC method) and EventLog.append
  "parseDraft",
  "fitDraft",
  "push", // Coalescer
  "exec", // SqlStorage
  "reduce",
  "broadcast",
  "liveFrames",
  "send",
  "stringify",
  "utf8ByteLength",
  "getWebSockets",
  "ensureAlarm",
];

class Inspector {
  #socket: WebSocket;
  #id = 0;
  #waiting = new Map<number, (result: unknown) => void>();

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.on("message", (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: unknown };
      if (message.id !== undefined) this.#waiting.get(message.id)?.(message.result);
    });
  }

  static async connect(port: number): Promise<Inspector> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as {
      webSocketDebuggerUrl: string;
      title?: string;
    }[];
    const target = targets.find((t) => !t.title?.includes("proxy")) ?? targets[0];
    if (!target) throw new Error("no inspector target");
    const socket = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    return new Inspector(socket);
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.#id;
    this.#socket.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve) => this.#waiting.set(id, (r) => resolve(r as T)));
  }

  close(): void {
    this.#socket.close();
  }
}

function summarize(profile: Profile): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const label = (n: ProfileNode) =>
    `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").at(-1)}:${n.callFrame.lineNumber + 1}`;
  const selfByLabel = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (node) selfByLabel.set(label(node), (selfByLabel.get(label(node)) ?? 0) + us);
  }
  const idle = [...selfByLabel].filter(([l]) => l.startsWith("(idle)")).reduce((a, [, us]) => a + us, 0);
  note(`profile: ${(total / 1000).toFixed(0)} ms sampled, ${(idle / 1000).toFixed(0)} ms idle; top self time:`);
  for (const [name, us] of [...selfByLabel].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    note(`  ${(us / 1000).toFixed(1).padStart(7)} ms  ${name}`);
  }
  // Inclusive time per step name, not counting a step nested inside itself twice.
  const inclusive = new Map<string, number>();
  const walk = (id: number, open: Set<string>): number => {
    const node = byId.get(id);
    if (!node) return 0;
    let sum = self.get(id) ?? 0;
    const name = node.callFrame.functionName;
    const fresh = STEPS.includes(name) && !open.has(name);
    if (fresh) open.add(name);
    for (const child of node.children ?? []) sum += walk(child, open);
    if (fresh) {
      open.delete(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + sum);
    }
    return sum;
  };
  const rootNode = profile.nodes[0];
  if (rootNode) walk(rootNode.id, new Set());
  note("inclusive time of the stream core's steps:");
  for (const step of STEPS) note(`  ${((inclusive.get(step) ?? 0) / 1000).toFixed(1).padStart(7)} ms  ${step}`);
}

/** One throughput run; `during` wraps just the appends (the outbox is drained after it). */
async function load<T>(
  ctx: Context,
  variant: "real" | "raw",
  n: number,
  during: (run: () => Promise<void>) => Promise<T>,
): Promise<T> {
  const chat = await createChat(ctx.api);
  const wsOrigin = ctx.origin.replace("http", "ws");
  const url =
    variant === "real" ? `${wsOrigin}/api/chats/${chat}/ws` : `${wsOrigin}/bench/listen?variant=raw&chat=${chat}`;
  const match = new RawMatch('"kind":"usage"');
  const listener = openWs(url, variant === "real" ? ctx.api.cookie : null, undefined, match);
  await listener.ready;
  const result = await during(async () => {
    const done = match.next();
    await bench(ctx.origin, "append", { variant, chat, n, size: 100, burst: ctx.burst });
    await done;
  });
  listener.close();
  if (variant === "real") await bench(ctx.origin, "flush", { chat });
  return result;
}

/** Ticks (one tool event per 10 ms) to `ws` WebSocket and `sse` SSE listeners. */
async function ticks(ctx: Context, ws: number, sse: number, during: (run: () => Promise<void>) => Promise<Profile>) {
  const chat = await createChat(ctx.api);
  const listeners = [
    ...Array.from({ length: ws }, () =>
      openWs(`${ctx.origin.replace("http", "ws")}/api/chats/${chat}/ws`, ctx.api.cookie),
    ),
    ...Array.from({ length: sse }, () => openSse(`${ctx.origin}/api/chats/${chat}/stream`, ctx.api.cookie)),
  ];
  await Promise.all(listeners.map((l) => l.ready));
  const result = await during(async () => {
    await bench(ctx.origin, "ticks", { chat, n: 200, interval: 10 });
  });
  for (const l of listeners) l.close();
  return result;
}

export async function profile(ctx: Context): Promise<void> {
  const inspector = await Inspector.connect(ctx.server.inspectorPort);
  const sampled = async (run: () => Promise<void>) => {
    await inspector.call("Profiler.start");
    await run();
    return (await inspector.call<{ profile: Profile }>("Profiler.stop")).profile;
  };
  try {
    await inspector.call("Profiler.enable");
    await inspector.call("Profiler.setSamplingInterval", { interval: 50 });
    for (const [ws, sse] of [
      [1, 0],
      [0, 50],
    ] as const) {
      note(`--- 200 tool events 10 ms apart to ${ws} WS + ${sse} SSE listeners ---`);
      summarize(await ticks(ctx, ws, sse, sampled));
    }
    for (const variant of ["real", "raw"] as const) {
      await load(ctx, variant, 2000, (run) => run()); // warm up
      const result = await load(ctx, variant, 20_000, async (run) => {
        await inspector.call("Profiler.start");
        await run();
        return (await inspector.call<{ profile: Profile }>("Profiler.stop")).profile;
      });
      note(`--- ${variant} room, 20,000 appends, 1 listener ---`);
      summarize(result);
    }
  } finally {
    inspector.close();
  }
}
