/**
 * The Worker entry: HTTP through the Hono app, the every-minute Cron Trigger, and the Durable
 * Object class export.
 */
import { app } from "./app";
import { onCron } from "./scheduled";

export { ChatRoom } from "./chat/chat-room";

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(onCron(env, controller.scheduledTime));
  },
} satisfies ExportedHandler<Env>;
