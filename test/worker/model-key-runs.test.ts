/**
 * Runs with the user's own model key: the key reaches the model (through the provider's relay,
 * which the scripted model server records) and nothing else. The agent itself holds only a per-run
 * token (its environment, printed by a real Bash tool call, shows no key), and the planted key is in
 * no API response, no stream frame, no D1 row and no row of the chat object's storage. A run that
 * has no key the provider can use fails with a clear code before any sandbox work. The provider's
 * own files and logs are checked by test/sandbox/isolation.test.ts, which runs in Node.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, createChat, signUp } from "./helpers";
import { faultRule, modelRequests, proxiedChat, script, send, terminalCounts, Watcher } from "./run-helpers";
import { room } from "./stream-helpers";

const plantedKey = () => `sk-ant-api03-planted-${crypto.randomUUID().replaceAll("-", "")}`;

/** Every row of every D1 table, as text. */
async function allD1Text(): Promise<string> {
  const tables = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT GLOB 'sqlite_*' AND name NOT GLOB '_cf_*'",
  ).all<{ name: string }>();
  let text = "";
  for (const { name } of tables.results) {
    const rows = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
    text += JSON.stringify(rows.results);
  }
  return text;
}

/** Every row of every table and every key-value entry in the chat object's storage, as text. */
async function allRoomText(chatId: string): Promise<string> {
  return runInDurableObject(room(chatId), async (_instance, state) => {
    let text = "";
    const tables = state.storage.sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT GLOB 'sqlite_*' AND name NOT GLOB '_cf_*'",
      )
      .toArray();
    for (const { name } of tables) text += JSON.stringify(state.storage.sql.exec(`SELECT * FROM "${name}"`).toArray());
    text += JSON.stringify([...(await state.storage.list()).entries()]);
    return text;
  });
}

describe("runs with the user's own model key", () => {
  it("hands the key to the model through the relay only: not to the agent, nor into any stored row or frame", async () => {
    const session = await signUp();
    const key = plantedKey();
    const put = await api("/api/settings/model-key", { session, method: "PUT", body: { key } });
    expect(put.status).toBe(200);
    const responses: string[] = [await put.text()];
    const chat = await createChat(session, { permissionMode: "bypassPermissions" });
    const s = await script([
      {
        blocks: [
          { type: "tool_use", name: "Bash", input: { command: "env; cat /proc/self/environ | tr '\\0' '\\n'" } },
        ],
      },
      { blocks: [{ type: "text", text: "that is my environment" }] },
    ]);
    const watcher = await Watcher.open(session, chat.id);
    const m = await send(session, chat.id, `${s.marker} show your environment`);
    expect((await watcher.terminalOf(m.assistantMessageId)).kind).toBe("run_completed");

    // The model saw the user's key on every request; the agent's own credential was something else.
    const requests = await modelRequests(s.id);
    expect(requests.length).toBeGreaterThan(0);
    for (const r of requests) expect(r.apiKey).toBe(key);
    const output = watcher.events.find((e) => e.kind === "tool_completed")?.payload as { output: string };
    expect(output.output).toMatch(/ANTHROPIC_API_KEY=/);
    expect(output.output).not.toContain(key);

    await room(chat.id).flush(chat.id);
    for (const path of [
      `/api/chats/${chat.id}`,
      `/api/chats/${chat.id}/messages`,
      `/api/chats/${chat.id}/events?after=0&limit=1000`,
      "/api/settings/model-key",
      "/api/chats",
    ]) {
      responses.push(await (await api(path, { session })).text());
    }
    expect(responses.join("\n")).not.toContain(key);
    expect(JSON.stringify(watcher.events)).not.toContain(key);
    expect(await allD1Text()).not.toContain(key);
    expect(await allRoomText(chat.id)).not.toContain(key);
    expect(await terminalCounts(chat.id, m.assistantMessageId)).toEqual({ log: 1, d1: 1 });
    watcher.close();
  });

  it("fails with model_key_missing before any sandbox work when neither the user nor the service has a key", async () => {
    const { session, chat, key, watcher } = await proxiedChat();
    const capabilities = await (
      await fetch(`${env.SANDBOX_URL}/v1/capabilities`, { headers: { authorization: `Bearer ${env.SANDBOX_TOKEN}` } })
    ).json<{ capabilities: Record<string, unknown> }>();
    // A provider deployed without a model key of its own.
    await faultRule(key, "answer", "^GET /v1/capabilities$", {
      body: { ...capabilities, capabilities: { ...capabilities.capabilities, serviceModelKey: false } },
    });
    const m = await send(session, chat.id, "hello");
    const end = await watcher.terminalOf(m.assistantMessageId);
    expect(end).toMatchObject({ kind: "run_failed", payload: { code: "model_key_missing" } });
    expect((end.payload as { error: string }).error).toMatch(/settings/);
    const sandbox = await fetch(`${env.SANDBOX_URL}/v1/sandboxes/${chat.id}`, {
      headers: { authorization: `Bearer ${env.SANDBOX_TOKEN}` },
    });
    expect(sandbox.status).toBe(404);
    watcher.close();
  });

  it("fails with model_key_unsupported when the user has a key the provider cannot use", async () => {
    const { session, chat, key, watcher } = await proxiedChat();
    expect((await api("/api/settings/model-key", { session, method: "PUT", body: { key: plantedKey() } })).status).toBe(
      200,
    );
    const capabilities = await (
      await fetch(`${env.SANDBOX_URL}/v1/capabilities`, { headers: { authorization: `Bearer ${env.SANDBOX_TOKEN}` } })
    ).json<{ capabilities: Record<string, unknown> }>();
    await faultRule(key, "answer", "^GET /v1/capabilities$", {
      body: { ...capabilities, capabilities: { ...capabilities.capabilities, userModelKey: false } },
    });
    const m = await send(session, chat.id, "hello");
    expect(await watcher.terminalOf(m.assistantMessageId)).toMatchObject({
      kind: "run_failed",
      payload: { code: "model_key_unsupported" },
    });
    watcher.close();
  });

  it("runs on the service's key when the user has none", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const s = await script([{ blocks: [{ type: "text", text: "on the house" }] }]);
    const watcher = await Watcher.open(session, chat.id);
    const m = await send(session, chat.id, `${s.marker} hi`);
    expect((await watcher.terminalOf(m.assistantMessageId)).kind).toBe("run_completed");
    const [request] = await modelRequests(s.id);
    expect(request?.apiKey).toBe("test-key"); // the provider's own key in the test servers
    watcher.close();
  });
});
