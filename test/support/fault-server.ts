/**
 * A fault injector in front of the real reference provider, for the failure tests of agent runs.
 * `/proxy/<key>/...` forwards to the provider byte for byte; `POST /__admin/<key>/drop` cuts every
 * open proxied response of that key mid-stream, `POST /__admin/<key>/down` makes the key refuse
 * connections (a dead provider) and `/up` lets them through again. A rule for the next request
 * whose `METHOD path` matches a pattern: `POST /__admin/<key>/hold?match=RE&ms=N` lets the provider
 * act on it but holds its answer for N ms, `/lose?match=RE` lets the provider act on it and then
 * cuts the connection instead of answering, `/answer?match=RE` answers it with the request's own
 * JSON body (200) without asking the provider; `GET /__admin/<key>/held` answers once such a
 * request has reached the provider. `/status500/...` answers every request with a 500 and `/garbage/...`
 * with JSON that does not match the protocol: failures the real provider cannot be made to produce
 * on demand. Keys keep concurrent tests apart.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export type FaultServer = { url: string; close(): Promise<void> };

type Rule = { match: RegExp; action: "hold" | "lose" | "answer"; ms: number; body?: string };

export async function startFaultServer(target: string): Promise<FaultServer> {
  const open = new Map<string, Set<Socket>>();
  const down = new Set<string>();
  const rules = new Map<string, Rule[]>();
  /** Per key: requests a rule has taken, and callers waiting for the next one. */
  const taken = new Map<string, number>();
  const takenWaiters = new Map<string, (() => void)[]>();
  const targetUrl = new URL(target);

  /** The first rule of the key matching this request, removed (each rule applies once). */
  const takeRule = (key: string, method: string, path: string): Rule | undefined => {
    const list = rules.get(key) ?? [];
    const index = list.findIndex((r) => r.match.test(`${method} ${path.split("?")[0]}`));
    if (index < 0) return undefined;
    const [rule] = list.splice(index, 1);
    taken.set(key, (taken.get(key) ?? 0) + 1);
    for (const wake of takenWaiters.get(key)?.splice(0) ?? []) wake();
    return rule;
  };

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
    const rule = takeRule(key, req.method ?? "GET", rest);
    if (rule?.action === "answer") {
      req.resume();
      res.writeHead(200, { "content-type": "application/json" }).end(rule.body ?? "{}");
      return;
    }
    const upstream = httpRequest(
      { host: targetUrl.hostname, port: targetUrl.port, method: req.method, path: rest, headers: req.headers },
      (up) => {
        if (rule?.action === "lose") {
          up.resume();
          up.on("end", () => socket.destroy());
          return;
        }
        const answer = () => {
          if (socket.destroyed) return up.resume();
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        };
        if (rule?.action === "hold") setTimeout(answer, rule.ms);
        else answer();
      },
    );
    upstream.on("error", () => req.socket.destroy());
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    const url = req.url ?? "/";
    const ruleAdmin = /^\/__admin\/([\w-]+)\/(hold|lose|answer|held)(\?.*)?$/.exec(url);
    if (ruleAdmin?.[1] && ruleAdmin[2]) {
      const key = ruleAdmin[1];
      const params = new URLSearchParams(ruleAdmin[3]?.slice(1) ?? "");
      const action = ruleAdmin[2];
      if (action === "answer") {
        const parts: Buffer[] = [];
        req.on("data", (chunk: Buffer) => parts.push(chunk));
        req.on("end", () => {
          const list = rules.get(key) ?? [];
          list.push({
            match: new RegExp(params.get("match") ?? "^$"),
            action,
            ms: 0,
            body: Buffer.concat(parts).toString(),
          });
          rules.set(key, list);
          res.writeHead(204).end();
        });
        return;
      }
      req.resume();
      if (action === "held") {
        const reply = () =>
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ taken: taken.get(key) }));
        if ((taken.get(key) ?? 0) > 0) return reply();
        takenWaiters.set(key, [...(takenWaiters.get(key) ?? []), reply]);
        return;
      }
      const list = rules.get(key) ?? [];
      list.push({
        match: new RegExp(params.get("match") ?? "^$"),
        action: ruleAdmin[2] === "hold" ? "hold" : "lose",
        ms: Number(params.get("ms") ?? 0),
      });
      rules.set(key, list);
      res.writeHead(204).end();
      return;
    }
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
