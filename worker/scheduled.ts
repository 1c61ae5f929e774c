/**
 * The every-minute Cron Trigger: sweeps messages left `streaming` with nobody driving them (a lost
 * alarm, a crash between deploys), whose chats' Durable Objects end them or re-attach their runs;
 * retries the deletions of chats whose object or sandbox could not be destroyed at once; and runs
 * the scheduled agent tasks that are due (worker/scheduler/).
 */
import { retryDeletions } from "./chat/deletion";
import { chatRoom } from "./chat/stub";
import { createDb } from "./db/client";
import { staleStreamingMessages } from "./db/sweep";
import { schedulerTick } from "./scheduler/cron-trigger";

/** A message silent this long while `streaming` is swept (runs write far more often). */
export const SWEEP_AFTER_MS = 2 * 60_000;

export async function onCron(env: Env, now: number): Promise<{ chats: number; ended: number; deleted: number }> {
  // Scheduled agent tasks run beside the sweep; neither waits for the other.
  const ticking = schedulerTick(env, now);
  const db = createDb(env.DB);
  const stale = await staleStreamingMessages(db, now - SWEEP_AFTER_MS);
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
  const deleted = await retryDeletions(env, db, now);
  await ticking;
  return { chats: stale.size, ended, deleted };
}
