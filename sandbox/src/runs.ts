/**
 * The run manager: starts Claude Code runs in a sandbox's jail, turns their output into run-log
 * records, answers permission prompts, cancels, ends runs that break a limit, and recovers runs a
 * previous provider process left behind. Invariants: at most one live run per sandbox; every run's
 * log ends with exactly one exit record (with the run's relayed token usage); run metadata
 * (`<runs>/<runId>.json`) is on disk so GET run and idempotency survive a restart; a run's relay
 * token dies with the run, and the model key it stood for is never written anywhere.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AgentConfig, killGroup, lineSplitter, spawnAgent, userLine } from "./agent-process.ts";
import { ApiError } from "./http.ts";
import type { Isolation } from "./jail.ts";
import type { SandboxLimits } from "./limits.ts";
import type { LimitBreach, ResourceMonitor } from "./monitor.ts";
import type { ModelRelay } from "./relay.ts";
import { type RunError, RunLog } from "./run-log.ts";
import type { SandboxStore } from "./sandboxes.ts";
import type { Usage } from "./usage.ts";
import type { PermissionInput, StartRunInput } from "./validate.ts";

export type RunMeta = {
  runId: string;
  sessionId: string;
  idempotencyKey: string;
  createdAt: string;
  status: "running" | "exited";
  exitCode: number | null;
  pid: number | null;
  /** Set when the run has ended: tokens relayed for it (null when its usage was lost in a restart). */
  usage?: Usage | null;
  /** Set when a limit ended the run. */
  error?: RunError | null;
};

export type RunView = {
  runId: string;
  sessionId: string;
  status: "running" | "exited";
  exitCode: number | null;
  records: number;
  usage: Usage | null;
  error?: RunError;
};

export type RunManagerOptions = AgentConfig & {
  cancelGraceMs: number;
  isolation: Isolation;
  limits: SandboxLimits;
  relay: ModelRelay;
  monitor: ResourceMonitor;
};

const STDERR_CHUNK = 4096;

class Run {
  meta: RunMeta;
  readonly log: RunLog;
  readonly metaFile: string;
  child: ChildProcessWithoutNullStreams | null = null;
  readonly pending = new Map<string, unknown>();
  cancelled = false;
  /** Live token usage from the relay while the run lives. */
  usage: Usage | null = null;
  breach: LimitBreach | null = null;
  /** Run once, just before the exit record: revoke the relay token, stop watching limits. */
  readonly cleanups: Array<() => void> = [];
  finished: Promise<void>;
  private resolveFinished: () => void = () => {};

  constructor(dir: string, meta: RunMeta) {
    this.meta = meta;
    this.metaFile = join(dir, `${meta.runId}.json`);
    this.log = new RunLog(join(dir, `${meta.runId}.ndjson`));
    this.finished = new Promise((r) => {
      this.resolveFinished = r;
    });
    if (meta.status === "exited") this.resolveFinished();
  }

  saveMeta(): void {
    const tmp = `${this.metaFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.meta));
    renameSync(tmp, this.metaFile);
  }

  view(): RunView {
    const { runId, sessionId, status, exitCode, error } = this.meta;
    const usage = status === "running" ? (this.usage ? { ...this.usage } : null) : (this.meta.usage ?? null);
    return { runId, sessionId, status, exitCode, records: this.log.records, usage, ...(error ? { error } : {}) };
  }

  /** Appends the exit record (once), marks the run exited on disk and wakes waiters. */
  finish(exitCode: number | null, signal: string | null): void {
    if (this.meta.status === "exited") return;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    const usage = this.usage ? { ...this.usage } : null;
    const error = this.breach ? { code: this.breach.code, message: this.breach.message } : null;
    if (!this.log.hasExited) {
      this.log.append({
        type: "exit",
        exitCode,
        signal,
        cancelled: this.cancelled,
        usage,
        ...(error ? { error } : {}),
      });
    }
    this.pending.clear();
    this.meta = { ...this.meta, status: "exited", exitCode, usage, error };
    try {
      this.saveMeta();
    } catch {
      // The sandbox is being deleted; its directory is already gone.
    }
    this.resolveFinished();
  }

  /** Writes one line to the CLI's stdin; false when stdin is no longer open. */
  writeStdin(line: string): boolean {
    const stdin = this.child?.stdin;
    if (!stdin || stdin.destroyed || stdin.writableEnded) return false;
    stdin.write(line);
    return true;
  }
}

type SandboxRuns = { runs: Map<string, Run>; byKey: Map<string, Run>; active: Run | null };

export class RunManager {
  private readonly store: SandboxStore;
  private readonly options: RunManagerOptions;
  private readonly sandboxes = new Map<string, SandboxRuns>();

  constructor(store: SandboxStore, options: RunManagerOptions) {
    this.store = store;
    this.options = options;
  }

  /** Loads every sandbox's runs, ending those a previous provider process left running. */
  recover(): void {
    for (const entry of readdirSync(this.store.root, { withFileTypes: true })) {
      if (entry.isDirectory() && !entry.name.startsWith(".") && this.store.get(entry.name)) this.runsOf(entry.name);
    }
  }

  private runsOf(sandboxId: string): SandboxRuns {
    const known = this.sandboxes.get(sandboxId);
    if (known) return known;
    const state: SandboxRuns = { runs: new Map(), byKey: new Map(), active: null };
    const dir = this.store.paths(sandboxId).runs;
    if (existsSync(dir)) {
      for (const name of readdirSync(dir)) {
        if (!name.endsWith(".json")) continue;
        const meta = JSON.parse(readFileSync(join(dir, name), "utf8")) as RunMeta;
        const run = new Run(dir, meta);
        if (meta.status === "running") this.endOrphan(run);
        state.runs.set(meta.runId, run);
        state.byKey.set(meta.idempotencyKey, run);
      }
    }
    this.sandboxes.set(sandboxId, state);
    return state;
  }

  /** A run whose process belonged to an earlier provider process: its output is lost, so end it. */
  private endOrphan(run: Run): void {
    const pid = run.meta.pid;
    if (pid !== null && this.isOurAgent(pid)) killGroup(pid);
    if (!run.log.hasExited) {
      run.log.append({
        type: "stderr",
        text: "sandbox provider restarted while this run was active; the run was stopped\n",
      });
    }
    run.finish(null, null);
    run.log.close();
  }

  private isOurAgent(pid: number): boolean {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(this.options.claudeBin);
    } catch {
      return false;
    }
  }

  get(sandboxId: string, runId: string): Run {
    const run = this.runsOf(sandboxId).runs.get(runId);
    if (!run) throw new ApiError(404, "run_not_found", `no run ${runId} in sandbox ${sandboxId}`);
    return run;
  }

  view(sandboxId: string, runId: string): RunView {
    return this.get(sandboxId, runId).view();
  }

  logOf(sandboxId: string, runId: string): RunLog {
    return this.get(sandboxId, runId).log;
  }

  start(
    sandboxId: string,
    input: StartRunInput,
  ): { created: boolean; body: { runId: string; sessionId: string; status: "running" | "exited" } } {
    const state = this.runsOf(sandboxId);
    const existing = state.byKey.get(input.idempotencyKey);
    if (existing) {
      const { runId, sessionId } = existing.meta;
      return { created: false, body: { runId, sessionId, status: existing.meta.status } };
    }
    if (state.active) throw new ApiError(409, "run_in_progress", `run ${state.active.meta.runId} is still running`);
    const grant = this.options.relay.grant(input.modelKey);
    if (!grant) {
      throw new ApiError(
        400,
        "model_key_missing",
        "no model key: the run request carries none and the provider has no ANTHROPIC_API_KEY",
      );
    }

    const paths = this.store.paths(sandboxId);
    const sessionId = input.sessionId ?? randomUUID();
    const meta: RunMeta = {
      runId: `run_${randomUUID().replaceAll("-", "")}`,
      sessionId,
      idempotencyKey: input.idempotencyKey,
      createdAt: new Date().toISOString(),
      status: "running",
      exitCode: null,
      pid: null,
    };
    const run = new Run(paths.runs, meta);
    run.usage = grant.usage;
    run.cleanups.push(() => this.options.relay.revoke(grant.token));
    state.runs.set(meta.runId, run);
    state.byKey.set(input.idempotencyKey, run);
    state.active = run;
    void run.finished.then(() => {
      if (state.active === run) state.active = null;
    });

    const { isolation, limits } = this.options;
    const child = spawnAgent(
      { isolation, limits, sandbox: { paths, uid: this.store.uidOf(sandboxId) } },
      this.options,
      {
        model: input.model,
        permissionMode: input.permissionMode,
        session: { kind: input.sessionId ? "resume" : "new", id: sessionId },
        relayUrl: this.options.relay.url,
        relayToken: grant.token,
      },
    );
    run.child = child;
    run.meta = { ...run.meta, pid: child.pid ?? null };
    run.saveMeta();
    this.wire(run, child);
    if (child.pid !== undefined) this.watchLimits(sandboxId, run, child.pid);
    child.stdin.on("error", () => {});
    child.stdin.write(userLine(input.prompt));
    return { created: true, body: { runId: meta.runId, sessionId, status: "running" } };
  }

  /** Ends the run's whole jail when its sandbox breaks a limit; the exit record carries the code. */
  private watchLimits(sandboxId: string, run: Run, pid: number): void {
    const paths = this.store.paths(sandboxId);
    const unwatch = this.options.monitor.watch({
      sandboxId,
      pid,
      limits: this.options.limits,
      dirs: [paths.workspace, paths.home, paths.tmp],
      onBreach: (breach) => {
        if (run.meta.status === "exited") return;
        run.breach = breach;
        if (!run.log.hasExited)
          run.log.append({ type: "stderr", text: `run stopped: the sandbox ${breach.message}\n` });
        killGroup(pid);
      },
    });
    run.cleanups.push(unwatch);
  }

  private wire(run: Run, child: ChildProcessWithoutNullStreams): void {
    const stdout = lineSplitter((line) => this.onStdoutLine(run, line));
    const stderrDecoder = new TextDecoder("utf-8");
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i += STDERR_CHUNK) {
        const text = stderrDecoder.decode(chunk.subarray(i, i + STDERR_CHUNK), { stream: true });
        if (text !== "" && !run.log.hasExited) run.log.append({ type: "stderr", text });
      }
    });
    let exit: { code: number | null; signal: string | null } | null = null;
    let fallback: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(fallback);
      stdout.end();
      run.finish(exit?.code ?? null, exit?.signal ?? null);
    };
    child.on("error", (err) => {
      if (!run.log.hasExited) run.log.append({ type: "stderr", text: `failed to start the agent: ${err.message}\n` });
      done();
    });
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      // Descendants the agent left behind (background shells) go with it; this also closes their
      // copies of our pipes, so "close" follows. The fallback covers anything that still holds them.
      killGroup(child.pid);
      fallback = setTimeout(done, 2000);
    });
    child.on("close", done);
  }

  private onStdoutLine(run: Run, line: string): void {
    if (line.trim() === "" || run.log.hasExited) return;
    let data: unknown;
    try {
      data = JSON.parse(line);
    } catch {
      run.log.append({ type: "stderr", text: `${line}\n` });
      return;
    }
    run.log.append({ type: "agent", data });
    if (typeof data !== "object" || data === null) return;
    const msg = data as { type?: unknown; request_id?: unknown; request?: { subtype?: unknown; input?: unknown } };
    if (msg.type === "control_request" && typeof msg.request_id === "string") {
      if (msg.request?.subtype === "can_use_tool") {
        run.pending.set(msg.request_id, msg.request.input ?? {});
      } else {
        // Nothing else (hooks, MCP) is configured, so any other request gets a clear refusal.
        run.writeStdin(
          `${JSON.stringify({ type: "control_response", response: { subtype: "error", request_id: msg.request_id, error: "not supported by this sandbox provider" } })}\n`,
        );
      }
    } else if (msg.type === "control_cancel_request" && typeof msg.request_id === "string") {
      run.pending.delete(msg.request_id);
    } else if (msg.type === "result") {
      run.child?.stdin.end();
    }
  }

  input(sandboxId: string, runId: string, input: PermissionInput): void {
    const run = this.get(sandboxId, runId);
    if (run.meta.status === "exited") throw new ApiError(409, "run_exited", "the run has exited");
    if (!run.pending.has(input.requestId)) {
      throw new ApiError(409, "not_pending", `no pending permission request ${input.requestId}`);
    }
    const toolInput = run.pending.get(input.requestId);
    const response =
      input.decision === "allow"
        ? { behavior: "allow", updatedInput: toolInput }
        : { behavior: "deny", message: input.message ?? "The user denied this action." };
    const line = { type: "control_response", response: { subtype: "success", request_id: input.requestId, response } };
    if (!run.writeStdin(`${JSON.stringify(line)}\n`)) throw new ApiError(409, "run_exited", "the run is ending");
    run.pending.delete(input.requestId);
  }

  cancel(sandboxId: string, runId: string): { status: "running" | "exited" } {
    const run = this.get(sandboxId, runId);
    if (run.meta.status === "exited") return { status: "exited" };
    if (!run.cancelled) {
      run.cancelled = true;
      const interrupt = {
        type: "control_request",
        request_id: `cancel_${randomUUID()}`,
        request: { subtype: "interrupt" },
      };
      run.writeStdin(`${JSON.stringify(interrupt)}\n`);
      const pid = run.child?.pid;
      const timer = setTimeout(() => killGroup(pid), this.options.cancelGraceMs);
      void run.finished.then(() => clearTimeout(timer));
    }
    return { status: "running" };
  }

  /**
   * Cancels the run started with this idempotency key. A key not seen yet gets a run that is
   * already exited and cancelled, so a start with that key arriving later does not run anything.
   */
  cancelByKey(sandboxId: string, idempotencyKey: string): { runId: string; status: "running" | "exited" } {
    const state = this.runsOf(sandboxId);
    const existing = state.byKey.get(idempotencyKey);
    if (existing) return { runId: existing.meta.runId, ...this.cancel(sandboxId, existing.meta.runId) };
    const meta: RunMeta = {
      runId: `run_${randomUUID().replaceAll("-", "")}`,
      sessionId: randomUUID(),
      idempotencyKey,
      createdAt: new Date().toISOString(),
      status: "running",
      exitCode: null,
      pid: null,
    };
    const run = new Run(this.store.paths(sandboxId).runs, meta);
    run.cancelled = true;
    run.finish(null, null);
    run.log.close();
    state.runs.set(meta.runId, run);
    state.byKey.set(idempotencyKey, run);
    return { runId: meta.runId, status: "exited" };
  }

  /** Kills every live run of a sandbox at once and waits for their exit records. */
  async stopAll(sandboxId: string, asCancel = true): Promise<void> {
    const state = this.sandboxes.get(sandboxId);
    if (!state) return;
    const live = [...state.runs.values()].filter((r) => r.meta.status === "running");
    for (const run of live) {
      if (asCancel) run.cancelled = true;
      killGroup(run.child?.pid);
    }
    await Promise.all(live.map((r) => r.finished));
  }

  hasLive(sandboxId: string): boolean {
    return (this.sandboxes.get(sandboxId)?.active ?? null) !== null;
  }

  forget(sandboxId: string): void {
    this.sandboxes.delete(sandboxId);
  }

  async stopEverything(): Promise<void> {
    await Promise.all([...this.sandboxes.keys()].map((id) => this.stopAll(id, false)));
  }
}
