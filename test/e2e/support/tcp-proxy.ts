/**
 * A TCP proxy between the browser and the worker, so a test can cut the network: `cut()` destroys
 * every open connection (WebSockets and SSE included) and refuses new ones until `restore()`.
 * Playwright's offline mode cannot do this: it leaves open WebSockets working.
 */
import { createConnection, createServer, type Socket } from "node:net";

export type TcpProxy = {
  origin: string;
  cut(): void;
  restore(): void;
  /** Connections accepted so far (each a new TCP connection from the browser). */
  accepted(): number;
  close(): Promise<void>;
};

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let down = false;
  let accepted = 0;
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = createConnection({ host: hostname, port: Number(port) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const proxyPort = typeof address === "object" && address ? address.port : 0;
  return {
    origin: `http://127.0.0.1:${proxyPort}`,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
