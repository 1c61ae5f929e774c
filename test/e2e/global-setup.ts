/**
 * Starts what the browser tests run against: the scripted model server and the real reference
 * sandbox provider (running the real Claude Code CLI), and the real worker under `wrangler dev`
 * pointed at them. The client build must exist (`npm test` builds it first).
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startTestServers } from "../support/servers.ts";
import { startWranglerDev } from "../support/wrangler-dev.ts";

declare module "vitest" {
  export interface ProvidedContext {
    e2eOrigin: string;
    e2eModelUrl: string;
  }
}

export default async function setup(project: TestProject) {
  if (!existsSync(join(import.meta.dirname, "..", "..", "dist", "client", "index.html"))) {
    throw new Error("dist/client is missing: run `npm run build:client` first");
  }
  const servers = await startTestServers({ heartbeatMs: 1000, cancelGraceMs: 1000 });
  // The project's own wrangler.toml: the worker as `npm start` runs it.
  const worker = await startWranglerDev({
    vars: {
      SANDBOX_URL: servers.sandboxUrl,
      SANDBOX_TOKEN: servers.sandboxToken,
      // Seals users' own model keys (the settings page's model key); a fresh key per run.
      ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    },
    probe: { path: "/api/auth/me", status: 401 },
    upWithinMs: 90_000,
  });
  project.provide("e2eOrigin", worker.origin);
  project.provide("e2eModelUrl", servers.modelUrl);
  return async () => {
    await worker.stop();
    await servers.close();
  };
}
