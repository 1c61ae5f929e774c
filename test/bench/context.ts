/**
 * What every bench scenario gets from the runner: the running server, a signed-in account, and
 * the run's settings. Scenarios print their own figures.
 */

import type { TestServers } from "../support/servers.ts";
import type { Api } from "./clients.ts";
import type { BenchServer } from "./server.ts";

export type Context = {
  server: BenchServer;
  /** Where clients connect: the worker's own entry socket, or wrangler's proxy with --via-proxy. */
  origin: string;
  viaProxy: boolean;
  api: Api;
  /** The scripted model and the reference sandbox provider the bench worker's runs go to. */
  sandbox: TestServers;
  /** Repetitions per figure; the median is printed. */
  reps: number;
  /** Appends per Durable Object turn in the throughput runs. */
  burst: number;
};
