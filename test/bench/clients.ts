/**
 * Load-generating clients for the bench runner: an account and chats through the public API, and
 * WebSocket (`ws` package) and SSE (node:http) listeners that hand each raw frame to a
 * callback with its arrival time. Frames are not validated here: the cost must stay in the server.
 */
import { get as httpGet } from "node:http";
import WebSocket from "ws";

export type Api = { origin: string; cookie: string };

/** Wall-clock milliseconds with sub-millisecond resolution (comparable with workerd's Date.now()). */
export const wallNow = () => performance.timeOrigin + performance.now();

export async function signUp(origin: string): Promise<Api> {
  const res = await fetch(`${origin}/api/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: `bench-${crypto.randomUUID()}@example.com`, password: "bench password 1234" }),
  });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${await res.text()}`);
  const cookie = res.headers.get("set-cookie")?.split(";")[0];
  if (!cookie) throw new Error("signup set no cookie");
  await res.arrayBuffer();
  return { origin, cookie };
}

export async function createChat(api: Api): Promise<string> {
  const res = await fetch(`${api.origin}/api/chats`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: api.cookie },
    body: "{}",
  });
  if (res.status !== 201) throw new Error(`create chat failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { chat: { id: string } }).chat.id;
}

/** POSTs a /bench/* route and returns its JSON. */
export async function bench<T>(origin: string, path: string, params: Record<string, string | number>): Promise<T> {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  const res = await fetch(`${origin}/bench/${path}?${query}`, { method: "POST" });
  if (!res.ok) throw new Error(`/bench/${path} failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export type Listener = {
  /** Resolves when the `ready` frame arrived (replay done), with the time it arrived. */
  ready: Promise<number>;
  close(): void;
};

/** One text frame (WS message, or one SSE event block) and its arrival time. */
export type OnFrame = (frame: string, at: number) => void;

/**
 * A WebSocket listener. `onFrame` gets every frame as text; when `rawMatch` is given, frames are
 * not decoded to text at all, only tested for those bytes (a cheap end-of-run marker check).
 */
export function openWs(url: string, cookie: string | null, onFrame?: OnFrame, rawMatch?: RawMatch): Listener {
  const socket = new WebSocket(url, { headers: cookie ? { cookie } : {}, perMessageDeflate: false });
  let seenReady = false;
  const ready = new Promise<number>((resolve, reject) => {
    socket.on("error", reject);
    socket.on("close", (code) => {
      if (!seenReady) reject(new Error(`socket closed before ready (${code})`));
    });
    socket.on("message", (data: Buffer) => {
      const at = wallNow();
      if (!seenReady) {
        if (data.length < 200 && data.toString().startsWith('{"type":"ready"')) {
          seenReady = true;
          resolve(at);
        }
        return;
      }
      if (rawMatch) rawMatch.test(data, at);
      else onFrame?.(data.toString(), at);
    });
  });
  ready.catch(() => {});
  return { ready, close: () => socket.terminate() };
}

/** Waits for frames containing a byte marker, without decoding them. */
export class RawMatch {
  readonly #marker: Buffer;
  #hit: ((at: number) => void) | null = null;
  frames = 0;

  constructor(marker: string) {
    this.#marker = Buffer.from(marker);
  }

  test(data: Buffer, at: number): void {
    this.frames += 1;
    if (this.#hit && data.includes(this.#marker)) this.#hit(at);
  }

  /** The next arrival time of a frame with the marker. */
  next(): Promise<number> {
    return new Promise((resolve) => {
      this.#hit = (at) => {
        this.#hit = null;
        resolve(at);
      };
    });
  }
}

/**
 * An SSE listener over node:http (lighter than fetch's web streams, so the client does not
 * measure itself). `onFrame` gets each event block's `data:` text; `ready` resolves at the
 * `event: ready` block.
 */
export function openSse(url: string, cookie: string, onFrame?: OnFrame): Listener {
  let resolveReady: (at: number) => void = () => {};
  let rejectReady: (error: unknown) => void = () => {};
  let readyAt = 0;
  const ready = new Promise<number>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => {});
  let buffer = "";
  const request = httpGet(url, { headers: { cookie } }, (res) => {
    if (res.statusCode !== 200) {
      rejectReady(new Error(`SSE refused: ${res.statusCode}`));
      res.resume();
      return;
    }
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      const at = wallNow();
      buffer += chunk;
      let start = 0;
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        if (readyAt > 0) {
          const data = buffer.indexOf("\ndata: ", start);
          if (data >= 0 && data < end) onFrame?.(buffer.slice(data + 7, end), at);
        } else if (buffer.startsWith("event: ready", start)) {
          readyAt = at;
          resolveReady(at);
        }
        start = end + 2;
        end = buffer.indexOf("\n\n", start);
      }
      buffer = buffer.slice(start);
    });
    res.on("end", () => rejectReady(new Error("SSE ended before ready")));
  });
  request.on("error", (error) => rejectReady(error));
  return { ready, close: () => request.destroy() };
}
