/**
 * The Durable Object part of deleting a chat, after its D1 rows are gone: the object stops its run,
 * wipes its storage and deletes the sandbox at the provider. Used by the delete route (at once) and
 * by the cron (for what failed). Success clears the pending-deletion record; failure backs it off.
 */

import { deletionDone, deletionFailed, dueDeletions } from "../db/chat-deletions";
import type { Db } from "../db/client";
import { chatRoom } from "./stub";

export async function finishDeletion(env: Env, db: Db, chatId: string, now: number): Promise<boolean> {
  try {
    await chatRoom(env, chatId).destroy(chatId);
  } catch (error: unknown) {
    console.warn(JSON.stringify({ msg: "chat not fully deleted yet; retrying later", chatId, error: String(error) }));
    await deletionFailed(db, chatId, String(error), now);
    return false;
  }
  await deletionDone(db, chatId);
  return true;
}

/** The cron's part: retries the deletions that are due. Returns how many it finished. */
export async function retryDeletions(env: Env, db: Db, now: number): Promise<number> {
  const due = await dueDeletions(db, now);
  const done = await Promise.all(due.map((chatId) => finishDeletion(env, db, chatId, now)));
  return done.filter(Boolean).length;
}
