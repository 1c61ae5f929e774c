/**
 * Starts, for the Workers tests, the real reference sandbox provider (running the real Claude Code
 * CLI), the scripted model server it talks to, and the fault injector in front of the provider.
 * Their addresses reach the worker as bindings through `provide`/`inject`.
 */
import type { TestProject } from "vitest/node";
import { startFaultServer } from "../support/fault-server.ts";
import { startTestServers } from "../support/servers.ts";

declare module "vitest" {
  export interface ProvidedContext {
    sandboxUrl: string;
    sandboxToken: string;
    modelUrl: string;
    faultUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const servers = await startTestServers({ heartbeatMs: 1000, cancelGraceMs: 1000 });
  const fault = await startFaultServer(servers.sandboxUrl);
  project.provide("sandboxUrl", servers.sandboxUrl);
  project.provide("sandboxToken", servers.sandboxToken);
  project.provide("modelUrl", servers.modelUrl);
  project.provide("faultUrl", fault.url);
  return async () => {
    await fault.close();
    await servers.close();
  };
}
