import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("D1 migrations", () => {
  it("apply from empty and are recorded the way `wrangler d1 migrations apply` records them", async () => {
    const applied = await env.DB.prepare("SELECT name FROM d1_migrations ORDER BY id").all<{ name: string }>();
    expect(applied.results.map((r) => r.name)).toEqual(env.TEST_MIGRATIONS.map((m) => m.name));
    const tables = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all<{
      name: string;
    }>();
    const names = tables.results.map((t) => t.name);
    for (const table of ["users", "sessions", "api_tokens", "chats", "messages", "chat_events"]) {
      expect(names).toContain(table);
    }
  });

  it("keys chat_events by (chat_id, seq), so a re-sent batch cannot duplicate an event", async () => {
    const info = await env.DB.prepare(
      "SELECT name, pk FROM pragma_table_info('chat_events') WHERE pk > 0 ORDER BY pk",
    ).all<{
      name: string;
    }>();
    expect(info.results.map((r) => r.name)).toEqual(["chat_id", "seq"]);
  });
});
