/**
 * Every test in one run: plain-Node unit tests, the reference sandbox provider against the real
 * Claude Code CLI, and the worker in the Workers pool (real D1 and Durable Objects).
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "client",
          include: ["test/client/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "sandbox",
          include: ["test/sandbox/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/e2e/global-setup.ts"],
          // Real Chromium, the real worker under wrangler dev and real CLI runs: seconds per test.
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      "test/worker/vitest.config.ts",
    ],
  },
});
