/**
 * The attack suite of tenant isolation, run by the agent itself: the real provider process (started
 * as deployed, with its token, its service model key and a canary in its environment), the real
 * Claude Code CLI, and the scripted model's Bash tool calls. Tenant B's agent tries to reach tenant
 * A's files and processes, the provider's environment, state, token and keys, the control API,
 * paths outside its workspace and, through symlinks and a swap race, the files API; then it breaks
 * each limit. A's run streams meanwhile and must end with its exact text; the provider must answer
 * throughout. A user's own model key must reach the model and appear nowhere else.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pidsOfUid } from "../../sandbox/src/proc-table.ts";
import { type ModelServer, startModelServer } from "../model-server/server.ts";
import { testIsolation, testUids } from "../support/servers.ts";
import { assistantTexts, bashTurns, toolOutputs } from "./agent-script.ts";
import { type Client, exitOf, makeClient, type Rec, uid } from "./client.ts";
import { type ProviderProcess, startProviderProcess } from "./provider-process.ts";

const isolated = testIsolation() === "bubblewrap";
const asRoot = process.getuid?.() === 0;

const token = randomBytes(24).toString("hex");
const serviceKey = `sk-service-${randomBytes(16).toString("hex")}`;
const canary = `canary-${randomBytes(16).toString("hex")}`;
const MiB = 1024 * 1024;

let model: ModelServer;
let provider: ProviderProcess;
let api: Client;

beforeAll(async () => {
  if (!isolated) return;
  model = await startModelServer();
  const uids = testUids();
  provider = await startProviderProcess({
    SANDBOX_TOKEN: token,
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: serviceKey,
    PROVIDER_CANARY: canary,
    SANDBOX_ISOLATION: "bubblewrap",
    SANDBOX_UID_BASE: String(uids.base),
    SANDBOX_UID_COUNT: String(uids.count),
    SANDBOX_MAX_PROCESSES: "128",
    SANDBOX_MAX_MEMORY_MB: "512",
    SANDBOX_RUN_CPU_SECONDS: "300",
    SANDBOX_MAX_FILE_MB: "64",
    SANDBOX_MAX_DISK_MB: "160",
    SANDBOX_MAX_OPEN_FILES: "256",
    SANDBOX_MONITOR_MS: "200",
    SANDBOX_DISK_MONITOR_MS: "300",
    SANDBOX_HEARTBEAT_MS: "1000",
  });
  api = makeClient(provider.url, token, model.url);
}, 60_000);

afterAll(async () => {
  await provider?.close();
  await model?.close();
});

async function newSandbox(): Promise<string> {
  const id = uid("tenant");
  expect((await api.call("PUT", `/v1/sandboxes/${id}`, {})).status).toBe(201);
  return id;
}

async function startRun(sandboxId: string, prompt: string, extra: Record<string, unknown> = {}) {
  const res = await api.call("POST", `/v1/sandboxes/${sandboxId}/runs`, {
    prompt,
    model: "claude-test",
    permissionMode: "bypassPermissions",
    idempotencyKey: uid("key"),
    ...extra,
  });
  expect(res.status, res.text).toBe(201);
  return res.json as { runId: string; sessionId: string };
}

/** Runs `commands` as one agent run in `sandboxId` and returns its records. */
async function agentRun(sandboxId: string, commands: string[], extra: Record<string, unknown> = {}): Promise<Rec[]> {
  const script = uid("attack");
  await api.script(script, bashTurns(commands, "probes done"));
  const { runId } = await startRun(sandboxId, `[script:${script}] run the probes`, extra);
  return api.records(sandboxId, runId);
}

/** Polls GET /v1/capabilities until stopped; every answer must be a 200. */
function pollCapabilities(): { stop(): Promise<number[]> } {
  const statuses: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      try {
        statuses.push((await api.call("GET", "/v1/capabilities")).status);
      } catch {
        statuses.push(0);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 250 - (Date.now() - started))));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return statuses;
    },
  };
}

/** Every file under `dir`, read whole (binary-safe), with its path. */
function allFiles(dir: string): Array<{ path: string; content: Buffer }> {
  const out: Array<{ path: string; content: Buffer }> = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) out.push({ path, content: readFileSync(path) });
    }
  };
  walk(dir);
  return out;
}

function sandboxJson(id: string): { uid: number | null } {
  return JSON.parse(readFileSync(join(provider.root, id, "sandbox.json"), "utf8"));
}

describe.skipIf(!isolated)("tenant isolation (bubblewrap)", () => {
  it("tenant B's agent attacks while tenant A's run streams: every attempt fails, A ends exactly", async () => {
    const a = await newSandbox();
    const b = await newSandbox();
    const secretA = `secret-of-a-${randomBytes(12).toString("hex")}`;
    const aWorkspace = join(provider.root, a, "workspace");
    const put = await fetch(`${provider.url}/v1/sandboxes/${a}/files/content?path=secret.txt`, {
      method: "PUT",
      headers: api.headers(),
      body: secretA,
    });
    expect(put.status).toBe(204);

    // Two tenants, two uids, two private workspaces.
    if (asRoot) {
      const [uidA, uidB] = [sandboxJson(a).uid, sandboxJson(b).uid];
      expect(uidA).not.toBeNull();
      expect(uidB).not.toBeNull();
      expect(uidA).not.toBe(uidB);
      const stat = statSync(aWorkspace);
      expect(stat.uid).toBe(uidA);
      expect(stat.mode & 0o777).toBe(0o700);
    }

    // Tenant A: reads its own secret, waits for the test to say "go on", then streams its answer.
    const finalText = "Tenant A finished its work undisturbed. ".repeat(6).trim();
    const scriptA = uid("tenant-a");
    await api.script(scriptA, [
      {
        blocks: [
          { type: "text", text: "Tenant A is working." },
          {
            type: "tool_use",
            name: "Bash",
            input: {
              command: "cat secret.txt; echo; while [ ! -e done.flag ]; do sleep 0.2; done; echo A-finished",
              description: "wait",
              timeout: 600_000,
            },
          },
        ],
      },
      { blocks: [{ type: "text", text: finalText }], chunkSize: 8, delayMs: 5 },
    ]);
    const runA = await startRun(a, `[script:${scriptA}] work`);
    const recordsA = api.records(a, runA.runId);
    const capabilities = pollCapabilities();
    const metaA = JSON.parse(readFileSync(join(provider.root, a, "runs", `${runA.runId}.json`), "utf8"));
    const hostPids = [provider.pid, process.pid, metaA.pid as number];
    expect(hostPids.every((p) => p > 200)).toBe(true);
    const port = new URL(provider.url).port;
    const rawRequest = (lines: string[]) =>
      `exec 3<>/dev/tcp/127.0.0.1/${port} && printf '${lines.join("\\r\\n")}\\r\\n\\r\\n' >&3 && head -c 300 <&3; exec 3>&-; echo`;

    const probes = [
      // Path guessing: the host path, relative escapes, a search of the whole visible tree.
      `cat ${aWorkspace}/secret.txt; cat /workspace/../${a}/workspace/secret.txt; cat ../../${a}/workspace/secret.txt; ls ${provider.root}; ls -a / /home /opt; find / -name secret.txt -not -path '/proc/*' 2>/dev/null; echo END`,
      // /proc: only B's own processes; their cwd and root are B's.
      `ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '; echo; for p in /proc/[0-9]*; do echo "$p cwd=$(readlink $p/cwd) root=$(readlink $p/root)"; cat $p/cwd/secret.txt $p/root/workspace/secret.txt 2>/dev/null; done; for p in ${hostPids.join(" ")}; do cat /proc/$p/environ /proc/$p/cwd/secret.txt; ls /proc/$p/root/; done 2>&1; echo END`,
      // The provider's environment and state directory.
      `cat /proc/1/environ | tr '\\0' '\\n'; echo; env | sort; cat ${provider.root}/${a}/sandbox.json ${provider.root}/${b}/sandbox.json; ls -la ${provider.root}/${b}/runs; cat /proc/${provider.pid}/environ; echo END`,
      // Any model key in the environment, files or process list.
      `cat /proc/[0-9]*/environ | tr '\\0' '\\n' | sort -u; grep -rIl -s -e 'sk-' /etc /home /workspace /tmp /opt 2>/dev/null | head; ps auxww; echo END`,
      // Processes outside the sandbox: listing, signalling, tracing.
      `ps -eo pid,user,args; for p in ${hostPids.join(" ")}; do kill -TERM $p 2>&1; kill -0 $p 2>/dev/null && echo "VIS""IBLE $p"; done; strace -p ${provider.pid} 2>&1 | head -2; echo END`,
      // The control API without a token and with a guessed one; deleting tenant A with a guess.
      `${rawRequest(["GET /v1/capabilities HTTP/1.1", "Host: x", "Connection: close"])}; ${rawRequest(["GET /v1/capabilities HTTP/1.1", "Host: x", "Authorization: Bearer guessed-token-123", "Connection: close"])}; ${rawRequest([`DELETE /v1/sandboxes/${a} HTTP/1.1`, "Host: x", `Authorization: Bearer ${"0".repeat(48)}`, "Connection: close"])}; echo END`,
      // The model relay: a guessed token, and a path it does not forward.
      `curl -s -X POST -H 'x-api-key: run-guessed' -H 'content-type: application/json' -d '{}' "$ANTHROPIC_BASE_URL/v1/messages"; echo; curl -s -H "x-api-key: $ANTHROPIC_API_KEY" "$ANTHROPIC_BASE_URL/v1/models"; echo; echo END`,
      // Writing outside the workspace.
      `for f in /etc/evil /usr/evil /evil /opt/evil /home/evil /var/evil /dev/evil /proc/evil ${provider.root}/evil ${aWorkspace}/evil; do (echo x > $f) 2>/dev/null && echo "WRO""TE $f"; done; echo mine > /tmp/b-marker && echo "own tmp ok"; echo END`,
      // Symlinks into A's workspace, to be read through the files API.
      `ln -s ${aWorkspace} link-dir; ln -s ${aWorkspace}/secret.txt link-file; ln -s ../../${a}/workspace/secret.txt link-rel; ln -s /proc/1/root${aWorkspace} link-proc; ls -l; echo END`,
      // Per-process limits: one file over 64 MiB, more open files than allowed.
      `head -c 100M /dev/zero > big.bin; echo "rc=$?"; stat -c 'size=%s' big.bin; rm -f big.bin; ulimit -n; ulimit -n 100000 2>&1; echo END`,
    ];
    const recsB1 = await agentRun(b, probes);
    expect(exitOf(recsB1)).toMatchObject({ exitCode: 0, cancelled: false });
    const outputs = toolOutputs(recsB1);
    expect(outputs).toHaveLength(probes.length);
    for (const o of outputs) expect(o.output, o.command).toContain("END");
    const all = outputs.map((o) => o.output).join("\n");
    for (const leaked of [secretA, token, serviceKey, canary]) expect(all).not.toContain(leaked);

    const [guess, procs, providerState, keys, signals, control, relay, writes, links, perProcess] = outputs.map(
      (o) => o.output,
    );
    expect(guess).toContain("No such file or directory");
    // Every process B can see works in B's /workspace view; no host path shows through.
    expect(procs).not.toContain(provider.root);
    // B's processes are numbered from 1 in its own namespace.
    const pidList = (procs ?? "").split("\n")[0]?.trim().split(" ").map(Number) ?? [];
    expect(Math.max(...pidList)).toBeLessThan(200);
    expect(providerState).not.toContain("SANDBOX_TOKEN");
    expect(providerState).toMatch(/ANTHROPIC_API_KEY=run-/);
    expect(keys).not.toMatch(/ANTHROPIC_API_KEY=(?!run-)/);
    expect(signals).not.toContain("VISIBLE");
    expect(signals).toContain("No such process");
    expect(control).toMatch(/401[\s\S]*401[\s\S]*401/);
    expect(control).not.toMatch(/HTTP\/1\.1 2\d\d/);
    expect(relay).toContain("authentication_error");
    expect(relay).toContain("not_found_error");
    expect(writes).not.toContain("WROTE");
    expect(writes).toContain("own tmp ok");
    expect(existsSync(join(provider.root, "evil"))).toBe(false);
    expect(existsSync(join(aWorkspace, "evil"))).toBe(false);
    expect(existsSync("/evil")).toBe(false);
    expect(readFileSync(join(provider.root, b, "tmp", "b-marker"), "utf8")).toBe("mine\n");
    expect(links).toContain("link-file");
    expect(perProcess).toContain("File size limit exceeded");
    expect(perProcess).toContain(`size=${64 * MiB}`);
    expect(perProcess).toMatch(/^256$/m);
    expect(perProcess).toMatch(/cannot modify limit/);
    // Tenant A is untouched: its run is alive, its sandbox still there.
    expect(statSync(`/proc/${metaA.pid}`).isDirectory()).toBe(true);
    expect((await api.call("GET", `/v1/sandboxes/${a}`)).status).toBe(200);

    // The files API does not follow B's symlinks into A's workspace.
    for (const path of ["link-dir/secret.txt", "link-file", "link-rel", "link-proc/secret.txt", "link-dir"]) {
      for (const route of ["files/content", "files"]) {
        const res = await api.call("GET", `/v1/sandboxes/${b}/${route}?path=${encodeURIComponent(path)}`);
        expect(res.status, `${route} ${path}`).toBe(400);
        expect(res.json.error.code).toBe("invalid_path");
        expect(res.text).not.toContain(secretA);
      }
    }

    // The files API while B swaps a directory for a symlink into A's workspace as fast as it can.
    const race = `mkdir -p real && echo mine > real/secret.txt && touch race.started; end=$((SECONDS+5)); while [ $SECONDS -lt $end ]; do mv real real.d && ln -s ${aWorkspace} real && rm real && mv real.d real; done; rm race.started; echo raced`;
    const raceScript = uid("race");
    await api.script(raceScript, bashTurns([race], "raced"));
    const raceRun = await startRun(b, `[script:${raceScript}] race`);
    const raceRecords = api.records(b, raceRun.runId);
    const seen = new Map<string, number>();
    let started = false;
    for (let i = 0; i < 2000; i++) {
      const flag = await api.call("GET", `/v1/sandboxes/${b}/files/content?path=race.started`);
      if (flag.status === 200) started = true;
      else if (started) break;
      if (!started) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const res = await api.call("GET", `/v1/sandboxes/${b}/files/content?path=real/secret.txt`);
      const key = `${res.status} ${res.status === 200 ? res.text : res.json?.error?.code}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    expect(started).toBe(true);
    expect(exitOf(await raceRecords)).toMatchObject({ exitCode: 0 });
    expect(
      [...seen.keys()].some((k) => k.includes(secretA)),
      JSON.stringify([...seen]),
    ).toBe(false);
    const outcomes = [...seen.keys()];
    // The reads really interleaved with the swaps: some found B's file, some found the symlink.
    expect(outcomes).toContain("200 mine\n");
    expect(outcomes).toContain("400 invalid_path");
    expect(
      outcomes.every((k) => ["200 mine\n", "400 invalid_path", "404 not_found"].includes(k)),
      outcomes.join(" | "),
    ).toBe(true);

    // The limits, each breaking one of B's runs with its code, while A keeps going.
    const limitRuns: Array<[string, string]> = [
      [":(){ :|:& };:; sleep 20; echo survived", "process_limit"],
      ["head -c 2000M /dev/zero | tail -c 900M > /dev/null; echo survived", "memory_limit"],
      // RLIMIT_FSIZE stops head at 64 MiB; the monitor finds the file at the limit and ends the run.
      ["head -c 100M /dev/zero > big.bin; sleep 20; echo survived", "file_size_limit"],
      // Opens descriptors until the kernel refuses one (RLIMIT_NOFILE 256), frees a few to go on.
      [
        'for i in $(seq 3 400); do eval "exec $i</dev/null" 2>/dev/null || break; done; exec 100<&- 101<&- 102<&-; sleep 20; echo survived',
        "open_files_limit",
      ],
      ["rm -f big.bin; for i in $(seq 1 40); do head -c 50M /dev/zero > fill$i.bin; done; echo survived", "disk_limit"],
    ];
    for (const [command, code] of limitRuns) {
      const recs = await agentRun(b, [command]);
      const exit = exitOf(recs);
      expect(exit, command).toMatchObject({ type: "exit", error: { code } });
      expect(recs.some((r) => r.type === "stderr" && String(r.text).includes("run stopped"))).toBe(true);
      expect(toolOutputs(recs).some((o) => o.output.includes("survived"))).toBe(false);
      if (asRoot) {
        // Nothing of B is left running once the run has ended (reaping may take a moment).
        const uidB = sandboxJson(b).uid as number;
        for (let i = 0; i < 50 && pidsOfUid(uidB).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
        expect(pidsOfUid(uidB)).toEqual([]);
      }
      expect(statSync(`/proc/${metaA.pid}`).isDirectory()).toBe(true);
    }
    // The disk filler was stopped near the limit, far below what it meant to write (2000 MiB).
    const filled = readdirSync(join(provider.root, b, "workspace"))
      .filter((n) => n.startsWith("fill"))
      .reduce((sum, n) => sum + statSync(join(provider.root, b, "workspace", n)).size, 0);
    expect(filled).toBeGreaterThan(150 * MiB);
    expect(filled).toBeLessThan(1000 * MiB);
    // B cleans up and works again.
    const clean = await api.call("POST", `/v1/sandboxes/${b}/exec`, { command: "rm -f fill*.bin; echo clean" });
    expect(clean.text).toContain("clean");
    const after = await agentRun(b, ["echo B-works-again"]);
    expect(toolOutputs(after)[0]?.output).toContain("B-works-again");

    // A goes on and ends with exactly its text.
    await fetch(`${provider.url}/v1/sandboxes/${a}/files/content?path=done.flag`, {
      method: "PUT",
      headers: api.headers(),
      body: "",
    });
    const recsA = await recordsA;
    expect(exitOf(recsA)).toMatchObject({ exitCode: 0, cancelled: false });
    expect(exitOf(recsA)?.error).toBeUndefined();
    expect(assistantTexts(recsA)).toEqual(["Tenant A is working.", finalText]);
    expect(toolOutputs(recsA)[0]?.output).toContain(secretA);
    expect(toolOutputs(recsA)[0]?.output).toContain("A-finished");

    const statuses = await capabilities.stop();
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.every((s) => s === 200)).toBe(true);
  }, 300_000);

  it("a user's own model key reaches the model and appears in no provider record, file or log line", async () => {
    const c = await newSandbox();
    const userKey = `sk-ant-user-${randomBytes(20).toString("hex")}`;
    const script = uid("byok");
    await api.script(
      script,
      bashTurns(["env | sort; cat /proc/[0-9]*/environ | tr '\\0' '\\n' | sort -u; ps auxww"], "used your key"),
    );
    const run = await startRun(c, `[script:${script}] use my key`, { modelKey: userKey });
    const recs = await api.records(c, run.runId);
    expect(exitOf(recs)).toMatchObject({ exitCode: 0 });
    expect(assistantTexts(recs)).toEqual(["used your key"]);

    // The model saw the user's key on every request, never the service's.
    const seen = await api.modelRequests(script);
    expect(seen.count).toBe(2);
    expect(seen.requests.map((r) => r.apiKey)).toEqual([userKey, userKey]);

    // Nowhere else: the run's records, its view, every provider file, the provider's log.
    const view = await api.call("GET", `/v1/sandboxes/${c}/runs/${run.runId}`);
    expect(view.json.usage.requests).toBe(2);
    const records = await api.call("GET", `/v1/sandboxes/${c}/runs/${run.runId}/events?after=0`);
    for (const text of [view.text, records.text, provider.output()]) expect(text).not.toContain(userKey);
    const files = allFiles(provider.root);
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) expect(f.content.includes(userKey), f.path).toBe(false);

    // The agent held only its run token, and that token died with the run.
    const env = toolOutputs(recs)[0]?.output ?? "";
    const runToken = /^ANTHROPIC_API_KEY=(run-\S+)$/m.exec(env)?.[1];
    const relayUrl = /^ANTHROPIC_BASE_URL=(\S+)$/m.exec(env)?.[1];
    expect(runToken).toBeDefined();
    expect(relayUrl).toBeDefined();
    const late = await fetch(`${relayUrl}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": runToken ?? "", "content-type": "application/json" },
      body: JSON.stringify({ model: "m", max_tokens: 1, messages: [{ role: "user", content: `[script:${script}]` }] }),
    });
    expect(late.status).toBe(401);
    expect((await api.modelRequests(script)).count).toBe(2);
  }, 120_000);
});
