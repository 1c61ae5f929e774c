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
          name: "sandbox",
          include: ["test/sandbox/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      "test/worker/vitest.config.ts",
    ],
  },
});
