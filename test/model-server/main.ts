/**
 * Standalone entry for the scripted model server / offline demo model: `npx node test/model-server/main.ts`.
 * Listens on MODEL_PORT (default 8788) and MODEL_HOST (default 127.0.0.1); logs unhandled paths.
 */
import { startModelServer } from "./server.ts";

const port = Number(process.env.MODEL_PORT ?? 8788);
const host = process.env.MODEL_HOST ?? "127.0.0.1";
const server = await startModelServer({ port, host, log: (line) => console.log(line) });
console.log(`model server listening on ${server.url}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
