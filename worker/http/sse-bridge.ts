/**
 * The Worker's SSE bridge: the Worker holds the browser's SSE response and feeds it from an
 * internal WebSocket to the chat's Durable Object, so the object can hibernate while listeners
 * wait. The object already sends SSE bytes on such sockets; the bridge copies them in order, adds
 * heartbeats, ends the stream after a while (the browser reconnects with its cursor), and stops when
 * the response is abandoned (a gone client) or when a slow client lets too much pile up.
 */
import { SSE_HEARTBEAT } from "../protocol/frames";

export type SseBridgeOptions = { heartbeatMs: number; maxMs: number };

/** Bytes queued for a client that does not read before the stream is ended (it resumes by cursor). */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

const encoder = new TextEncoder();

/** Turns an accepted listener socket (SSE format) into an SSE response. */
export function sseResponse(socket: WebSocket, options: SseBridgeOptions): Response {
  // A JS stream the runtime drains into the response: enqueueing costs no promise per frame (a
  // native IdentityTransformStream write costs about twice as much per event here).
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  const stream = new ReadableStream<Uint8Array>(
    {
      start: (c) => {
        controller = c;
      },
      // The response was abandoned (client gone): nothing more to read.
      cancel: () => close(),
    },
    { highWaterMark: MAX_BUFFERED_BYTES, size: (chunk) => chunk.byteLength },
  );
  let closed = false;

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
    try {
      controller?.close();
    } catch {
      // Already closed or cancelled.
    }
  };
  // Frames queue in call order; a client that lets too much pile up is ended (it resumes by cursor).
  const write = (bytes: Uint8Array) => {
    if (closed || !controller) return;
    if ((controller.desiredSize ?? 0) <= 0) {
      close();
      return;
    }
    controller.enqueue(bytes);
  };

  const heartbeat = setInterval(() => write(encoder.encode(SSE_HEARTBEAT)), options.heartbeatMs);
  const deadline = setTimeout(close, options.maxMs);
  socket.binaryType = "arraybuffer";
  socket.addEventListener("message", (event) => {
    const data: unknown = event.data;
    if (typeof data === "string") write(encoder.encode(data));
    else if (data instanceof ArrayBuffer) write(new Uint8Array(data));
  });
  socket.addEventListener("close", close);
  socket.addEventListener("error", close);
  socket.accept();
  write(encoder.encode("retry: 1000\n\n"));

  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
