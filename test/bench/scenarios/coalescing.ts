/**
 * Coalescing and D1 load of a streaming chat: 1,000 small text-delta "tokens" paced like a model
 * (bursts, about one per 1.5 ms), then the chat's chat_events rows in D1; and the outbox's D1
 * batches per second during a steady 4 s stream (counted by the bench room's D1 wrapper).
 */
import { bench, createChat } from "../clients.ts";
import type { Context } from "../context.ts";
import { figure, median, note } from "../stats.ts";

type TokenRun = { tokens: number; elapsedMs: number; batches: number; statements: number; head: number };

const TOKENS = 1000;
const STEADY_MS = 4000;

export async function coalescing(ctx: Context): Promise<void> {
  const rowsPer1k: number[] = [];
  const batchesPerS: number[] = [];
  for (let rep = 0; rep < ctx.reps; rep++) {
    const chat = await createChat(ctx.api);
    const burst = await bench<TokenRun>(ctx.origin, "tokens", { chat, tokens: TOKENS });
    await bench(ctx.origin, "flush", { chat });
    const { rows } = await (await fetch(`${ctx.origin}/bench/d1-rows?chat=${chat}`)).json();
    rowsPer1k.push((rows * 1000) / burst.tokens);

    const steadyChat = await createChat(ctx.api);
    const steady = await bench<TokenRun>(ctx.origin, "tokens", { chat: steadyChat, duration: STEADY_MS });
    batchesPerS.push(steady.batches / (steady.elapsedMs / 1000));
    note(
      `run ${rep + 1}: ${burst.tokens} tokens in ${burst.elapsedMs} ms -> ${rows} D1 rows (${burst.head} events); ` +
        `steady ${steady.tokens} tokens in ${steady.elapsedMs} ms -> ${steady.batches} D1 batches (${steady.statements} statements)`,
    );
  }
  figure("d1_rows_per_1000_tokens", median(rowsPer1k), "rows");
  figure("d1_batches_per_streaming_chat", median(batchesPerS), "batches/s");
}
