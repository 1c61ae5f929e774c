/**
 * The Workers-pool project: the real worker with real D1 and Durable Objects (workerd via
 * miniflare), configured from wrangler.toml. Migrations are applied by the setup file exactly as
 * `wrangler d1 migrations apply` would.
 */
import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineProject } from "vitest/config";

const root = fileURLToPath(new URL("../..", import.meta.url));

export default defineProject({
  plugins: [
    cloudflareTest(async ({ inject }) => ({
      wrangler: { configPath: `${root}/wrangler.toml` },
      // The real worker, with a ChatRoom that adds test-only RPCs (see test-worker.ts).
      main: `${root}/test/worker/test-worker.ts`,
      miniflare: {
        compatibilityFlags: ["nodejs_compat", "service_binding_extra_handlers"],
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations(`${root}/migrations`),
          SANDBOX_URL: inject("sandboxUrl"),
          SANDBOX_TOKEN: inject("sandboxToken"),
          MODEL_URL: inject("modelUrl"),
          FAULT_URL: inject("faultUrl"),
          // Short limits so failure tests finish quickly; production defaults are in worker/chat/config.ts.
          WATCHDOG_INTERVAL_MS: "500",
          PROVIDER_SILENCE_MS: "4000",
          AGENT_SILENCE_MS: "5000",
          // Long enough that a D1 retry test can tell an early retry from a due one.
          FLUSH_RETRY_BASE_MS: "2000",
          // Deltas wait longer than in production (25 ms), so a test that resets the object at a
          // random moment often finds some waiting: the cursor must never count them as committed.
          COALESCE_WINDOW_MS: "150",
          // A fixed test key (bytes 0..31) for sealing users' model keys; production sets a secret.
          ENCRYPTION_KEY: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        },
      },
    })),
  ],
  test: {
    name: "workers",
    root,
    include: ["test/worker/**/*.test.ts"],
    setupFiles: ["test/worker/setup.ts"],
    globalSetup: ["test/worker/global-setup.ts"],
    // Agent runs start the real Claude Code CLI (about 1.5 s each); a hung test fails, not CI.
    testTimeout: 60_000,
  },
});
