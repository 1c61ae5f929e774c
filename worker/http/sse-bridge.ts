/**
 * The Worker's SSE bridge: the Worker holds the browser's SSE response and feeds it from an
 * internal WebSocket to the chat's Durable Object, so the object can hibernate while listeners
 * wait. The object already sends SSE text on such sockets; the bridge copies it in order, adds
 * heartbeats, ends the stream after a while (the browser reconnects with its cursor), and stops
 * at the first failed write (a gone client).
 */
import { SSE_HEARTBEAT } from "../protocol/frames";

export type SseBridgeOptions = { heartbeatMs: number; maxMs: number };

/** Turns an accepted listener socket (SSE format) into an SSE response. */
export function sseResponse(socket: WebSocket, options: SseBridgeOptions): Response {
  const stream = new TransformStream<Uint8Array, Uint8Array>();
  const writer = stream.writable.getWriter();
  const encoder = new TextEncoder();
  let closed = false;
  let pending: Promise<void> = Promise.resolve();

  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    clearTimeout(deadline);
    try {
      socket.close(1000, "stream ended");
    } catch {
      // Already closed.
    }
    pending.finally(() => writer.close()).catch(() => {});
  };
  // Writes are chained so frames keep their order; the first failure (client gone) ends everything.
  const write = (text: string) => {
    if (closed) return;
    pending = pending.then(() => writer.write(encoder.encode(text))).catch(() => close());
  };

  const heartbeat = setInterval(() => write(SSE_HEARTBEAT), options.heartbeatMs);
  const deadline = setTimeout(close, options.maxMs);
  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") write(event.data);
  });
  socket.addEventListener("close", close);
  socket.addEventListener("error", close);
  socket.accept();
  write("retry: 1000\n\n");

  return new Response(stream.readable, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
