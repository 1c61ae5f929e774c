/**
 * Agent runs through the reference provider with the real Claude Code CLI against the scripted
 * model server: tool use with real effects, exactly-once resumable streams, session continuation,
 * idempotency, one run at a time, permission prompts, cancel, CLI failures and provider restarts.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSandboxServer } from "../../sandbox/src/server.ts";
import { claudeBin, startTestServers, type TestServers, testIsolation, testUids } from "../support/servers.ts";
import { agentData, type Client, exitOf, makeClient, type Rec, resultOf, uid } from "./client.ts";
import { hostProcessWith } from "./host.ts";

let servers: TestServers;
let api: Client;

beforeAll(async () => {
  servers = await startTestServers({ heartbeatMs: 300 });
  api = makeClient(servers.sandboxUrl, servers.sandboxToken, servers.modelUrl);
});
afterAll(async () => {
  await servers?.close();
});

async function newSandbox(): Promise<string> {
  const id = uid("sbx");
  expect((await api.call("PUT", `/v1/sandboxes/${id}`, {})).status).toBe(201);
  return id;
}

type StartBody = {
  prompt: string;
  model?: string;
  permissionMode?: string;
  sessionId?: string;
  idempotencyKey?: string;
};

async function startRun(sandboxId: string, body: StartBody): Promise<{ runId: string; sessionId: string }> {
  const res = await api.call("POST", `/v1/sandboxes/${sandboxId}/runs`, {
    model: "claude-test",
    permissionMode: "bypassPermissions",
    idempotencyKey: uid("key"),
    ...body,
  });
  expect(res.status, res.text).toBe(201);
  expect(res.json.status).toBe("running");
  return res.json;
}

function expectContiguous(recs: Rec[]): void {
  expect(recs.map((r) => r.offset)).toEqual(recs.map((_, i) => i + 1));
  expect(recs.at(-1)?.type).toBe("exit");
  expect(recs.filter((r) => r.type === "exit")).toHaveLength(1);
}

function workspace(sandboxId: string): string {
  return join(servers.sandboxRoot, sandboxId, "workspace");
}

describe("a full run", () => {
  it("streams text, thinking and a real Bash tool use, then the exit record", async () => {
    const sid = await newSandbox();
    const script = uid("full");
    await api.script(script, [
      {
        blocks: [
          { type: "text", text: "I will create the file." },
          { type: "tool_use", name: "Bash", input: { command: "echo hi > made.txt", description: "make a file" } },
        ],
      },
      {
        blocks: [
          { type: "thinking", thinking: "The file exists now." },
          { type: "text", text: "Done: made.txt holds hi." },
        ],
      },
    ]);
    const { runId, sessionId } = await startRun(sid, { prompt: `Make a file [script:${script}]` });
    const recs = await api.records(sid, runId);
    expectContiguous(recs);
    // The exit record carries what the relay counted: exactly the usage the model server streamed.
    const requests = await api.modelRequests(script);
    const usage = {
      requests: 2,
      inputTokens: requests.requests.reduce((n, r) => n + (r.usage?.input ?? 0), 0),
      outputTokens: requests.requests.reduce((n, r) => n + (r.usage?.output ?? 0), 0),
      cacheCreationInputTokens: 0,
      cacheReadInputTokens: 0,
    };
    expect(usage.outputTokens).toBeGreaterThan(2);
    expect(exitOf(recs)).toEqual({
      offset: recs.length,
      type: "exit",
      exitCode: 0,
      signal: null,
      cancelled: false,
      usage,
    });
    const data = agentData(recs);
    expect(data[0]).toMatchObject({ type: "system", subtype: "init", session_id: sessionId });
    const deltas = data.filter((d) => d.type === "stream_event").map((d) => d.event.delta?.type);
    expect(deltas).toEqual(expect.arrayContaining(["text_delta", "input_json_delta", "thinking_delta"]));
    const toolResult = data.find((d) => d.type === "user")?.message.content[0];
    expect(toolResult).toMatchObject({ type: "tool_result", is_error: false });
    const texts = data
      .filter((d) => d.type === "assistant")
      .flatMap((d) => d.message.content)
      .filter((b: { type: string }) => b.type === "text")
      .map((b: { text: string }) => b.text);
    expect(texts).toEqual(["I will create the file.", "Done: made.txt holds hi."]);
    expect(resultOf(recs)).toMatchObject({ subtype: "success", is_error: false, session_id: sessionId });
    expect(readFileSync(join(workspace(sid), "made.txt"), "utf8")).toBe("hi\n");

    const run = await api.call("GET", `/v1/sandboxes/${sid}/runs/${runId}`);
    expect(run.json).toEqual({ runId, sessionId, status: "exited", exitCode: 0, records: recs.length, usage });
    expect(requests.requests.map((r) => r.turn)).toEqual([0, 1]);
    // The model saw the service key, swapped in by the relay for the run's token.
    expect(requests.requests.map((r) => r.apiKey)).toEqual(["test-key", "test-key"]);
    expect(requests.requests[0]).toMatchObject({
      model: "claude-test",
      lastUserText: `Make a file [script:${script}]`,
    });
  });
});

describe("resumable events", () => {
  it("gives the same records exactly once from every offset, after the run ended", async () => {
    const sid = await newSandbox();
    const script = uid("offsets");
    await api.script(script, [{ blocks: [{ type: "text", text: "offsets are stable ".repeat(6) }], chunkSize: 8 }]);
    const { runId } = await startRun(sid, { prompt: `[script:${script}] go` });
    const all = await api.records(sid, runId);
    expectContiguous(all);
    const n = all.length;
    for (const k of [0, 1, 2, Math.floor(n / 2), n - 2, n - 1, n]) {
      expect(await api.records(sid, runId, k), `after=${k}`).toEqual(all.slice(k));
    }
    expect((await api.call("GET", `/v1/sandboxes/${sid}/runs/${runId}/events?after=-1`)).json.error.code).toBe(
      "invalid_request",
    );
    expect((await api.call("GET", `/v1/sandboxes/${sid}/runs/${runId}/events?after=x`)).status).toBe(400);
  });

  it("loses and doubles nothing across reconnects while the run streams", async () => {
    const sid = await newSandbox();
    const script = uid("reconnect");
    await api.script(script, [
      { blocks: [{ type: "text", text: "slow stream of many small chunks. ".repeat(4) }], chunkSize: 3, delayMs: 15 },
    ]);
    const { runId } = await startRun(sid, { prompt: `[script:${script}]` });
    const got: Rec[] = [];
    let reconnects = 0;
    for (;;) {
      const after = got.at(-1)?.offset ?? 0;
      let fresh = 0;
      const part = await api.events(sid, runId, after, (rec) => rec.type !== "heartbeat" && ++fresh >= 4);
      got.push(...part.filter((r) => r.type !== "heartbeat"));
      if (got.at(-1)?.type === "exit") break;
      reconnects += 1;
    }
    expect(reconnects).toBeGreaterThan(5);
    expectContiguous(got);
    expect(got).toEqual(await api.records(sid, runId));
  });

  it("sends heartbeats while the agent is silent", async () => {
    const sid = await newSandbox();
    const script = uid("quiet");
    await api.script(script, [{ blocks: [{ type: "text", text: "after a pause" }], delayMs: 1200, chunkSize: 100 }]);
    const { runId } = await startRun(sid, { prompt: `[script:${script}]` });
    const lines = await api.events(sid, runId);
    const beats = lines.filter((l) => l.type === "heartbeat");
    expect(beats.length).toBeGreaterThan(0);
    expect(beats[0]).toEqual({ type: "heartbeat", at: expect.any(Number) });
    expectContiguous(lines.filter((l) => l.type !== "heartbeat"));
  });
});

describe("sessions, idempotency and one run at a time", () => {
  it("continues the session given its id: the model sees the earlier turns", async () => {
    const sid = await newSandbox();
    const first = uid("s1");
    const second = uid("s2");
    await api.script(first, [{ blocks: [{ type: "text", text: "The secret word is pineapple." }] }]);
    await api.script(second, [{ blocks: [{ type: "text", text: "You told me before." }] }]);
    const a = await startRun(sid, { prompt: `Remember this [script:${first}]` });
    await api.records(sid, a.runId);
    const b = await startRun(sid, { prompt: `What was it? [script:${second}]`, sessionId: a.sessionId });
    expect(b.sessionId).toBe(a.sessionId);
    const recs = await api.records(sid, b.runId);
    expect(resultOf(recs)).toMatchObject({ is_error: false, session_id: a.sessionId });
    const [req] = (await api.modelRequests(second)).requests;
    expect(req?.roles.filter((r) => r === "assistant").length).toBeGreaterThanOrEqual(1);
    expect(req?.messages).toBeGreaterThanOrEqual(3);
    expect(req?.lastUserText).toContain("What was it?");
  });

  it("returns the existing run for a repeated idempotency key, and 409 for a second run", async () => {
    const sid = await newSandbox();
    const script = uid("idem");
    await api.script(script, [{ stallMs: 3000 }]);
    const key = uid("key");
    const body = { prompt: `[script:${script}]`, model: "claude-test", permissionMode: "default", idempotencyKey: key };
    const first = await api.call("POST", `/v1/sandboxes/${sid}/runs`, body);
    expect(first.status).toBe(201);
    const again = await api.call("POST", `/v1/sandboxes/${sid}/runs`, body);
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    const other = await api.call("POST", `/v1/sandboxes/${sid}/runs`, { ...body, idempotencyKey: uid("key") });
    expect(other.status).toBe(409);
    expect(other.json.error.code).toBe("run_in_progress");
    await api.call("POST", `/v1/sandboxes/${sid}/runs/${first.json.runId}/cancel`);
    await api.records(sid, first.json.runId);
    const after = await api.call("POST", `/v1/sandboxes/${sid}/runs`, body);
    expect(after.status).toBe(200);
    expect(after.json).toEqual({ ...first.json, status: "exited" });
  });
});

describe("permissions", () => {
  async function promptedRun(decision: "allow" | "deny") {
    const sid = await newSandbox();
    const script = uid(`perm-${decision}`);
    await api.script(script, [
      {
        blocks: [{ type: "tool_use", name: "Bash", input: { command: "echo yes > asked.txt", description: "write" } }],
      },
      { blocks: [{ type: "text", text: "Finished." }] },
    ]);
    const { runId } = await startRun(sid, { prompt: `[script:${script}]`, permissionMode: "default" });
    const upToPrompt = await api.events(
      sid,
      runId,
      0,
      (rec) => rec.type === "agent" && (rec.data as { type: string }).type === "control_request",
    );
    const request = (upToPrompt.at(-1)?.data ?? {}) as {
      request_id: string;
      request: { subtype: string; tool_name: string; input: unknown };
    };
    expect(request.request).toMatchObject({
      subtype: "can_use_tool",
      tool_name: "Bash",
      input: { command: "echo yes > asked.txt" },
    });
    const never = await api.call("POST", `/v1/sandboxes/${sid}/runs/${runId}/input`, {
      type: "permission",
      requestId: "nope",
      decision,
    });
    expect(never.status).toBe(409);
    expect(never.json.error.code).toBe("not_pending");
    const answer = { type: "permission", requestId: request.request_id, decision, message: "not today" };
    const first = await api.call("POST", `/v1/sandboxes/${sid}/runs/${runId}/input`, answer);
    expect(first.status).toBe(202);
    expect(first.json).toEqual({});
    const second = await api.call("POST", `/v1/sandboxes/${sid}/runs/${runId}/input`, answer);
    expect(second.status).toBe(409);
    expect(second.json.error.code).toBe("not_pending");
    const recs = await api.records(sid, runId);
    expectContiguous(recs);
    const late = await api.call("POST", `/v1/sandboxes/${sid}/runs/${runId}/input`, answer);
    expect(late.status).toBe(409);
    expect(late.json.error.code).toBe("run_exited");
    const bad = await api.call("POST", `/v1/sandboxes/${sid}/runs/${runId}/input`, {
      type: "permission",
      requestId: "x",
      decision: "maybe",
    });
    expect(bad.json.error.code).toBe("invalid_request");
    return { sid, recs };
  }

  it("allow runs the tool", async () => {
    const { sid, recs } = await promptedRun("allow");
    expect(readFileSync(join(workspace(sid), "asked.txt"), "utf8")).toBe("yes\n");
    expect(agentData(recs).find((d) => d.type === "user")?.message.content[0]).toMatchObject({ is_error: false });
    expect(resultOf(recs)).toMatchObject({ is_error: false });
    expect(exitOf(recs)).toMatchObject({ exitCode: 0, cancelled: false });
  });

  it("deny skips the tool and the turn goes on", async () => {
    const { sid, recs } = await promptedRun("deny");
    expect(existsSync(join(workspace(sid), "asked.txt"))).toBe(false);
    const toolResult = agentData(recs).find((d) => d.type === "user")?.message.content[0];
    expect(toolResult).toMatchObject({ type: "tool_result", is_error: true });
    expect(JSON.stringify(toolResult)).toContain("not today");
    expect(resultOf(recs)).toMatchObject({ is_error: false, result: "Finished." });
  });
});

describe("cancel", () => {
  it("interrupts a running tool and kills the process group", async () => {
    const sid = await newSandbox();
    const script = uid("cancel");
    const marker = uid("never");
    await api.script(script, [
      {
        blocks: [
          {
            type: "tool_use",
            name: "Bash",
            input: { command: `timeout 30 tail -f /dev/null; echo ${marker} > never.txt` },
          },
        ],
      },
      { blocks: [{ type: "text", text: "should not be reached" }] },
    ]);
    const { runId } = await startRun(sid, { prompt: `[script:${script}]` });
    await api.events(sid, runId, 0, () => hostProcessWith(`/dev/null; echo ${marker}`));
    const started = Date.now();
    const res = await api.call("POST", `/v1/sandboxes/${sid}/runs/${runId}/cancel`);
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ status: "running" });
    const recs = await api.records(sid, runId);
    expect(Date.now() - started).toBeLessThan(5000);
    expectContiguous(recs);
    expect(exitOf(recs)).toMatchObject({ type: "exit", cancelled: true });
    expect(hostProcessWith(`/dev/null; echo ${marker}`)).toBe(false);
    expect(existsSync(join(workspace(sid), "never.txt"))).toBe(false);
    expect((await api.call("GET", `/v1/sandboxes/${sid}/runs/${runId}`)).json.status).toBe("exited");
    const again = await api.call("POST", `/v1/sandboxes/${sid}/runs/${runId}/cancel`);
    expect(again.status).toBe(202);
    expect(again.json).toEqual({ status: "exited" });
  });

  it("ends a run that waits on a permission prompt", async () => {
    const sid = await newSandbox();
    const script = uid("cancel-perm");
    await api.script(script, [{ blocks: [{ type: "tool_use", name: "Bash", input: { command: "echo x > x.txt" } }] }]);
    const { runId } = await startRun(sid, { prompt: `[script:${script}]`, permissionMode: "default" });
    await api.events(
      sid,
      runId,
      0,
      (rec) => rec.type === "agent" && (rec.data as { type: string }).type === "control_request",
    );
    await api.call("POST", `/v1/sandboxes/${sid}/runs/${runId}/cancel`);
    const recs = await api.records(sid, runId);
    expect(exitOf(recs)).toMatchObject({ cancelled: true });
    expect(existsSync(join(workspace(sid), "x.txt"))).toBe(false);
  });

  it("cancels by idempotency key: a running run, and a key whose start comes later", async () => {
    const sid = await newSandbox();
    const script = uid("by-key");
    await api.script(script, [{ stallMs: 20_000 }]);
    const key = uid("key");
    const { runId } = await startRun(sid, { prompt: `[script:${script}]`, idempotencyKey: key });
    await api.events(sid, runId, 0, (rec) => rec.type === "agent");
    const res = await api.call("POST", `/v1/sandboxes/${sid}/runs/by-key/${key}/cancel`);
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ runId, status: "running" });
    expect(exitOf(await api.records(sid, runId))).toMatchObject({ cancelled: true });

    // Cancelled before its start arrived: the late start gets an exited, cancelled run and runs nothing.
    const early = uid("key");
    const first = await api.call("POST", `/v1/sandboxes/${sid}/runs/by-key/${early}/cancel`);
    expect(first.status).toBe(202);
    expect(first.json.status).toBe("exited");
    const late = await api.call("POST", `/v1/sandboxes/${sid}/runs`, {
      prompt: `[script:${script}]`,
      model: "claude-test",
      permissionMode: "bypassPermissions",
      idempotencyKey: early,
    });
    expect(late.status).toBe(200);
    expect(late.json).toMatchObject({ runId: first.json.runId, status: "exited" });
    expect(await api.records(sid, first.json.runId)).toEqual([
      { offset: 1, type: "exit", exitCode: null, signal: null, cancelled: true, usage: null },
    ]);
    expect((await api.call("POST", `/v1/sandboxes/nope-${uid("x")}/runs/by-key/${early}/cancel`)).status).toBe(404);
  });

  it("deleting the sandbox cancels its run", async () => {
    const sid = await newSandbox();
    const script = uid("delete");
    await api.script(script, [{ stallMs: 20_000 }]);
    const { runId } = await startRun(sid, { prompt: `[script:${script}]` });
    const reading = api.records(sid, runId);
    await api.events(sid, runId, 0, (rec) => rec.type === "agent");
    expect((await api.call("DELETE", `/v1/sandboxes/${sid}`)).status).toBe(204);
    expect(exitOf(await reading)).toMatchObject({ cancelled: true });
    expect(existsSync(join(servers.sandboxRoot, sid))).toBe(false);
  });
});

describe("agent failures", () => {
  it("a model server error becomes an is_error result and an exit record", async () => {
    const sid = await newSandbox();
    const script = uid("err500");
    await api.script(script, [{ error: { status: 500, type: "api_error", message: "scripted failure" } }]);
    const { runId } = await startRun(sid, { prompt: `[script:${script}]` });
    const recs = await api.records(sid, runId);
    expectContiguous(recs);
    expect(resultOf(recs)).toMatchObject({ type: "result", is_error: true });
    expect(exitOf(recs)).toMatchObject({ cancelled: false });
  });

  it("an invalid model becomes an is_error result and an exit record", async () => {
    const sid = await newSandbox();
    const script = uid("badmodel");
    const { runId } = await startRun(sid, { prompt: `[script:${script}]`, model: "invalid-model-x" });
    const recs = await api.records(sid, runId);
    expectContiguous(recs);
    expect(resultOf(recs)).toMatchObject({ is_error: true });
    expect(JSON.stringify(agentData(recs))).toContain("invalid-model-x");
  });

  it("an unknown session id fails the run, with an exit record", async () => {
    const sid = await newSandbox();
    const { runId } = await startRun(sid, { prompt: "hello", sessionId: "00000000-0000-4000-8000-000000000000" });
    const recs = await api.records(sid, runId);
    expectContiguous(recs);
    expect(exitOf(recs)?.exitCode).not.toBe(0);
  });

  it("a dropped model stream still ends the run with an exit record", async () => {
    const sid = await newSandbox();
    const script = uid("drop");
    await api.script(script, [{ dropAfterChunks: 4 }, { dropAfterChunks: 4 }]);
    const { runId } = await startRun(sid, { prompt: `[script:${script}]` });
    const recs = await api.records(sid, runId);
    expectContiguous(recs);
    expect(resultOf(recs)).toBeDefined();
  });
});

describe("the demo model", () => {
  it("answers unscripted prompts, labelled, and runs a `$ ` line as Bash", async () => {
    const sid = await newSandbox();
    const { runId } = await startRun(sid, { prompt: "please\n$ echo demo > demo.txt" });
    const recs = await api.records(sid, runId);
    expect(readFileSync(join(workspace(sid), "demo.txt"), "utf8")).toBe("demo\n");
    const result = resultOf(recs);
    expect(result.is_error).toBe(false);
    expect(result.result).toContain("offline demo model, not Claude");
  });
});

describe("provider restart", () => {
  it("keeps records, run state and idempotency; ends runs it lost", async () => {
    const root = join(servers.sandboxRoot, "..", `${servers.sandboxRoot.split("/").at(-1)}-restart`);
    const options = {
      token: servers.sandboxToken,
      root,
      claudeBin: claudeBin(),
      anthropicBaseUrl: servers.modelUrl,
      anthropicApiKey: "test-key",
      maxRetries: 0,
      isolation: testIsolation(),
      uids: testUids(),
      log: () => {},
    };
    const one = await startSandboxServer(options);
    const client1 = makeClient(one.url, servers.sandboxToken, servers.modelUrl);
    const sid = uid("sbx");
    await client1.call("PUT", `/v1/sandboxes/${sid}`, {});
    const script = uid("restart");
    await client1.script(script, [{ blocks: [{ type: "text", text: "before the restart" }] }]);
    const key = uid("key");
    const body = { prompt: `[script:${script}]`, model: "m", permissionMode: "default", idempotencyKey: key };
    const started = await client1.call("POST", `/v1/sandboxes/${sid}/runs`, body);
    const before = await client1.records(sid, started.json.runId);
    await one.close();

    // A run the previous process was still running when it died: metadata says running, no exit record.
    const lostId = "run_lost";
    const runsDir = join(root, sid, "runs");
    mkdirSync(runsDir, { recursive: true });
    writeFileSync(
      join(runsDir, `${lostId}.json`),
      JSON.stringify({
        runId: lostId,
        sessionId: "s",
        idempotencyKey: "lost",
        createdAt: new Date().toISOString(),
        status: "running",
        exitCode: null,
        pid: null,
      }),
    );
    writeFileSync(
      join(runsDir, `${lostId}.ndjson`),
      `${JSON.stringify({ offset: 1, type: "stderr", text: "partial" })}\n{"offset":2,"ty`,
    );

    const two = await startSandboxServer(options);
    try {
      const client2 = makeClient(two.url, servers.sandboxToken, servers.modelUrl);
      expect((await client2.call("GET", `/v1/sandboxes/${sid}`)).status).toBe(200);
      expect(await client2.records(sid, started.json.runId)).toEqual(before);
      expect(await client2.records(sid, started.json.runId, 3)).toEqual(before.slice(3));
      const view = await client2.call("GET", `/v1/sandboxes/${sid}/runs/${started.json.runId}`);
      expect(view.json).toMatchObject({ status: "exited", exitCode: 0, records: before.length });
      const again = await client2.call("POST", `/v1/sandboxes/${sid}/runs`, body);
      expect(again.status).toBe(200);
      expect(again.json.runId).toBe(started.json.runId);
      const lost = await client2.records(sid, lostId);
      expectContiguous(lost);
      expect(lost.at(-1)).toEqual({
        offset: 3,
        type: "exit",
        exitCode: null,
        signal: null,
        cancelled: false,
        usage: null,
      });
      expect((await client2.call("GET", `/v1/sandboxes/${sid}/runs/${lostId}`)).json.status).toBe("exited");
    } finally {
      await two.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
