/**
 * A fault injector in front of the real reference provider, for the failure tests of agent runs.
 * `/proxy/<key>/...` forwards to the provider byte for byte; `POST /__admin/<key>/drop` cuts every
 * open proxied response of that key mid-stream, `POST /__admin/<key>/down` makes the key refuse
 * connections (a dead provider) and `/up` lets them through again. `/status500/...` answers every
 * request with a 500 and `/garbage/...` with JSON that does not match the protocol: failures the
 * real provider cannot be made to produce on demand. Keys keep concurrent tests apart.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export type FaultServer = { url: string; close(): Promise<void> };

export async function startFaultServer(target: string): Promise<FaultServer> {
  const open = new Map<string, Set<Socket>>();
  const down = new Set<string>();
  const targetUrl = new URL(target);

  const proxy = (key: string, rest: string, req: IncomingMessage, res: ServerResponse) => {
    if (down.has(key)) {
      req.socket.destroy();
      return;
    }
    // Only sockets with a proxied exchange in flight: an idle kept-alive socket may carry the next
    // request of anyone (an admin call from the test, another key), which a drop must not cut.
    const sockets = open.get(key) ?? new Set<Socket>();
    open.set(key, sockets);
    const socket = req.socket;
    sockets.add(socket);
    const done = () => sockets.delete(socket);
    res.once("finish", done);
    res.once("close", done);
    const upstream = httpRequest(
      { host: targetUrl.hostname, port: targetUrl.port, method: req.method, path: rest, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => req.socket.destroy());
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    const url = req.url ?? "/";
    const admin = /^\/__admin\/([\w-]+)\/(drop|down|up)$/.exec(url);
    if (admin?.[1] && admin[2]) {
      const key = admin[1];
      if (admin[2] === "down") down.add(key);
      if (admin[2] === "up") down.delete(key);
      if (admin[2] !== "up") for (const socket of open.get(key) ?? []) socket.destroy();
      res.writeHead(204).end();
      return;
    }
    const proxied = /^\/proxy\/([\w-]+)(\/.*)$/.exec(url);
    if (proxied?.[1] && proxied[2]) return proxy(proxied[1], proxied[2], req, res);
    req.resume();
    if (url.startsWith("/status500/")) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "internal", message: "injected provider failure" } }));
      return;
    }
    if (url.startsWith("/garbage/")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ surprise: true, runId: 42 }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const sockets of open.values()) for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
