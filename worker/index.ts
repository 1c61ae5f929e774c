/**
 * The Worker entry: HTTP through the Hono app, the every-minute Cron Trigger, and the Durable
 * Object class export.
 */
import { app } from "./app";

export { ChatRoom } from "./chat/chat-room";

export default {
  fetch: app.fetch,
  async scheduled(controller, _env, _ctx) {
    console.log(JSON.stringify({ msg: "cron tick", cron: controller.cron, at: controller.scheduledTime }));
  },
} satisfies ExportedHandler<Env>;
