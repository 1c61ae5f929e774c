/**
 * The bench runner (`npm run bench [-- scenario... --reps=N --burst=N --via-proxy]`): starts the
 * scripted model and the reference sandbox provider in this process and the bench worker aimed at
 * them, runs each scenario (every figure the median of `reps` runs), prints `bench <name> <value> <unit>`
 * lines, and always stops the server, also on failure or Ctrl-C.
 */
import { startTestServers } from "../support/servers.ts";
import { signUp } from "./clients.ts";
import type { Context } from "./context.ts";
import { client } from "./scenarios/client.ts";
import { coalescing } from "./scenarios/coalescing.ts";
import { latency } from "./scenarios/latency.ts";
import { memory } from "./scenarios/memory.ts";
import { profile } from "./scenarios/profile.ts";
import { replay } from "./scenarios/replay.ts";
import { runs } from "./scenarios/runs.ts";
import { scheduler } from "./scenarios/scheduler.ts";
import { throughput } from "./scenarios/throughput.ts";
import { startServer } from "./server.ts";
import { note } from "./stats.ts";

// Memory first: later runs would reuse memory freed by the other scenarios and look cheaper.
const scenarios = { memory, throughput, latency, replay, coalescing, runs, scheduler } as const;
/** Diagnostics that run only when named; `client` drives real Chromium (`npm run bench -- client`). */
const extras = { profile, client } as const;
const all = { ...scenarios, ...extras };
type Name = keyof typeof all;

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const raw = args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  return raw === undefined ? fallback : Number(raw);
};
const names = args.filter((a) => !a.startsWith("--"));
const unknown = names.filter((n) => !(n in all));
if (unknown.length > 0) {
  console.error(`unknown scenario(s): ${unknown.join(", ")}; known: ${Object.keys(all).join(", ")}`);
  process.exit(2);
}
const selected = (names.length > 0 ? names : Object.keys(scenarios)) as Name[];

const started = Date.now();
const sandbox = await startTestServers();
const server = await startServer({ SANDBOX_URL: sandbox.sandboxUrl, SANDBOX_TOKEN: sandbox.sandboxToken });
const stop = () => {
  void Promise.allSettled([server.stop(), sandbox.close()]).finally(() => process.exit(130));
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
let failed = false;
try {
  const viaProxy = args.includes("--via-proxy");
  const origin = viaProxy ? server.origin : server.directOrigin;
  const api = await signUp(origin);
  const ctx: Context = {
    server,
    origin,
    viaProxy,
    api,
    sandbox,
    reps: option("reps", 3),
    burst: option("burst", 1_000_000),
  };
  note(
    `clients connect to ${ctx.viaProxy ? "wrangler's dev proxy" : "the worker's workerd entry socket (wrangler's dev proxy skipped; --via-proxy to include it)"}; ` +
      `${ctx.reps} runs per figure (median)`,
  );
  for (const name of selected) {
    const t = Date.now();
    await all[name](ctx);
    note(`${name} took ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
} catch (error: unknown) {
  failed = true;
  console.error(error);
  console.error(`--- wrangler output (last 4 KB) ---\n${server.log().slice(-4096)}`);
} finally {
  await server.stop();
  await sandbox.close();
}
note(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(failed ? 1 : 0);
