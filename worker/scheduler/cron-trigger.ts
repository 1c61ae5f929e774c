/**
 * The scheduler's edge: builds the tick from the Worker's environment (D1, the chat Durable
 * Objects, the configuration) for the every-minute Cron Trigger, and logs what the tick did. A
 * failing tick is logged, never thrown: the sweep beside it runs regardless, and the next tick
 * picks up whatever this one left.
 */
import { chatRoom } from "../chat/stub";
import { newId } from "../ids";
import { schedulerConfig } from "./config";
import { runTick, type TickReport } from "./tick";

export async function schedulerTick(env: Env, now: number): Promise<TickReport | null> {
  try {
    const report = await runTick({
      db: env.DB,
      dispatch: (chatId, request) => chatRoom(env, chatId).sendMessage(chatId, request, "queue"),
      config: schedulerConfig(env as unknown as Record<string, unknown>),
      now,
      clock: () => Date.now(),
      newId,
    });
    if (report.claimed + report.settled + report.progressed + report.redispatched > 0 || report.deferred) {
      console.log(JSON.stringify({ msg: "scheduler tick", at: new Date(now).toISOString(), ...report }));
    }
    return report;
  } catch (error: unknown) {
    console.error(
      JSON.stringify({
        msg: "scheduler tick failed",
        at: new Date(now).toISOString(),
        error: String(error),
        stack: error instanceof Error ? error.stack : undefined,
      }),
    );
    return null;
  }
}
