/**
 * An HTTP proxy that refuses WebSocket upgrades, like a corporate proxy that lets only plain HTTP
 * through: requests and streamed responses (SSE) pass byte for byte, upgrades are cut. `cut()`
 * destroys every open connection, to break an SSE stream mid-reply.
 */
import { createServer, request } from "node:http";
import type { Socket } from "node:net";

export type NoWebSocketProxy = { origin: string; upgradesRefused(): number; cut(): void; close(): Promise<void> };

export async function startNoWebSocketProxy(target: string): Promise<NoWebSocketProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let refused = 0;
  const server = createServer((req, res) => {
    const upstream = request(
      { host: hostname, port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("upgrade", (_req, socket: Socket) => {
    refused++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const proxyPort = typeof address === "object" && address ? address.port : 0;
  return {
    origin: `http://127.0.0.1:${proxyPort}`,
    upgradesRefused: () => refused,
    cut() {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
