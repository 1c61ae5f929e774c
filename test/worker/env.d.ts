declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("@cloudflare/vitest-plugin").D1Migration[];
    MODEL_URL: string;
    FAULT_URL: string;
  }
}
