/**
 * The every-minute Cron Trigger. Today it sweeps messages left `streaming` with nobody driving them
 * (a lost alarm, a crash between deploys): each such chat's Durable Object ends them or re-attaches
 * its run. The same tick runs scheduled agent tasks (worker/scheduler/).
 */
import { chatRoom } from "./chat/stub";
import { createDb } from "./db/client";
import { staleStreamingMessages } from "./db/sweep";
import { schedulerTick } from "./scheduler/cron-trigger";

/** A message silent this long while `streaming` is swept (runs write far more often). */
export const SWEEP_AFTER_MS = 2 * 60_000;

export async function onCron(env: Env, now: number): Promise<{ chats: number; ended: number }> {
  // Scheduled agent tasks (worker/scheduler/) run beside the sweep; neither waits for the other.
  const ticking = schedulerTick(env, now);
  const stale = await staleStreamingMessages(createDb(env.DB), now - SWEEP_AFTER_MS);
  let ended = 0;
  await Promise.all(
    [...stale].map(async ([chatId, ids]) => {
      try {
        ended += (await chatRoom(env, chatId).sweep(chatId, ids)).ended;
      } catch (error: unknown) {
        console.error(JSON.stringify({ msg: "sweep failed", chatId, error: String(error) }));
      }
    }),
  );
  if (stale.size > 0) console.log(JSON.stringify({ msg: "swept stuck messages", chats: stale.size, ended }));
  await ticking;
  return { chats: stale.size, ended };
}
