/**
 * Resident memory per idle listener: workerd's VmRSS before and after 1,000 WebSocket listeners
 * join one chat and sit idle long enough for the ChatRoom to hibernate (checked afterwards: a
 * woken room has been constructed twice). Each run adds a fresh chat on top of the previous ones;
 * a first batch on the fresh process (which also grows workerd's pools) is reported on its own.
 */
import { createChat, type Listener, openWs } from "../clients.ts";
import type { Context } from "../context.ts";
import { rssBytes } from "../server.ts";
import { figure, median, note, sleep } from "../stats.ts";

const LISTENERS = 1000;
const IDLE_MS = 13_000;
const CONNECT_AT_ONCE = 50;

export async function memory(ctx: Context): Promise<void> {
  const perListener: number[] = [];
  let firstBatch = 0;
  const open: Listener[] = [];
  try {
    for (let rep = 0; rep <= ctx.reps; rep++) {
      const chat = await createChat(ctx.api);
      const url = `${ctx.origin.replace("http", "ws")}/api/chats/${chat}/ws`;
      // The room itself (and one listener) exist before the baseline: only listeners are counted.
      const first = openWs(url, ctx.api.cookie);
      open.push(first);
      await first.ready;
      await sleep(2000);
      const before = { worker: rssBytes(ctx.server.workerPid), proxy: rssBytes(ctx.server.proxyPid) };
      for (let i = 0; i < LISTENERS; i += CONNECT_AT_ONCE) {
        const batch = Array.from({ length: Math.min(CONNECT_AT_ONCE, LISTENERS - i) }, () =>
          openWs(url, ctx.api.cookie),
        );
        open.push(...batch);
        await Promise.all(batch.map((l) => l.ready));
      }
      await sleep(IDLE_MS);
      const after = { worker: rssBytes(ctx.server.workerPid), proxy: rssBytes(ctx.server.proxyPid) };
      const { constructions } = await (await fetch(`${ctx.origin}/bench/stats?chat=${chat}`)).json();
      const kb = (after.worker - before.worker) / LISTENERS / 1024;
      if (rep === 0) firstBatch = kb;
      else perListener.push(kb);
      note(
        `${rep === 0 ? "first batch (fresh workerd)" : `run ${rep}`}: workerd RSS ${(before.worker / 2 ** 20).toFixed(0)} -> ${(after.worker / 2 ** 20).toFixed(0)} MB ` +
          `(${kb.toFixed(0)} KB per listener), ` +
          (ctx.viaProxy
            ? `wrangler proxy +${((after.proxy - before.proxy) / LISTENERS / 1024).toFixed(0)} KB per listener, `
            : "") +
          `room ${constructions > 1 ? "hibernated and woke" : "never hibernated"} (constructed ${constructions}x)`,
      );
    }
  } finally {
    for (const l of open) l.close();
  }
  figure("memory_per_idle_ws_listener", median(perListener), "KB");
  figure("memory_per_idle_ws_listener_first_1000_fresh_workerd", firstBatch, "KB");
}
