/**
 * The edges a stream connection needs, passed in so the connection logic runs under Node with
 * fakes: socket constructors, timers, randomness and the page's URLs. `browserTransport` is the
 * real thing.
 */

export interface SocketLike {
  onopen: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number }) => void) | null;
  onerror: (() => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface EventSourceLike {
  onopen: (() => void) | null;
  onerror: (() => void) | null;
  addEventListener(type: string, listener: (event: { data: unknown }) => void): void;
  close(): void;
}

export type TimerId = ReturnType<typeof setTimeout>;

export interface Transport {
  webSocket(path: string): SocketLike;
  eventSource(path: string): EventSourceLike;
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
  random(): number;
}

export const browserTransport: Transport = {
  webSocket(path) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return new WebSocket(`${scheme}//${location.host}${path}`) as unknown as SocketLike;
  },
  eventSource(path) {
    return new EventSource(path) as unknown as EventSourceLike;
  },
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
  random: () => Math.random(),
};
