/**
 * The run engine of one chat: every run (a user's message, a queued one, a scheduled task) goes
 * through one wrapped bootstrap: ensure the sandbox, start the agent run at the provider, record
 * the run, consume its events. Whatever fails anywhere ends the message with exactly one terminal
 * event (partial content kept), frees the chat's single run slot and starts the next queued
 * message. Used by the ChatRoom Durable Object; it knows nothing of the runtime beyond SQLite.
 */
import type { EventDraft } from "../protocol/events";
import type { MessageStatus } from "../protocol/snapshot";
import { ProviderError, type ProviderRecord, type SandboxProvider } from "../sandbox/provider";
import { type AgentResult, classifyResult, createAgentMapper } from "../sandbox/stream-json";
import type { ActiveRun, RunRequest, RunStore } from "./run-store";

export type RunConfig = {
  /** Fail a run when the provider has sent nothing at all (not even a heartbeat) for this long. */
  providerSilenceMs: number;
  /** Fail a run when the agent has printed nothing for this long (heartbeats do not count). */
  agentSilenceMs: number;
  /** How often the watchdog alarm looks at a streaming run. */
  watchdogIntervalMs: number;
};

export type RunEngineDeps = {
  chatId: string;
  store: RunStore;
  /** Appends drafts through the chat's coalescer; returns once non-delta drafts are committed. */
  emit(drafts: EventDraft[]): void;
  /** True while text deltas wait in the coalescer (not yet committed). */
  hasPendingDeltas(): boolean;
  status(messageId: string): MessageStatus | undefined;
  /** The provider client; throws when no provider is configured. */
  provider(): SandboxProvider;
  now(): number;
  config: RunConfig;
  armWatchdog(at: number): void;
};

type Terminal =
  | { kind: "run_completed"; payload: { durationMs?: number; numTurns?: number; costUsd?: number } }
  | { kind: "run_failed"; payload: { code: string; error: string } }
  | { kind: "run_cancelled"; payload: { reason: "user" | "send_now" | "system" } };

/** A run this object instance is driving (lost on eviction; the watchdog re-attaches). */
type LiveRun = {
  assistantMessageId: string;
  abort: AbortController;
  finished: boolean;
  lastRecordAt: number;
  lastAgentAt: number;
  pendingCursor: number | null;
};

export type SendOutcome = { status: "started" | "queued" };
export type PermissionOutcome = "ok" | "not_found" | "already_answered" | "run_ended" | "provider_failed";

const RECONNECT_DELAYS_MS = [200, 500, 1000, 2000, 5000];
/** How long (in 250 ms steps) a start waits for the sandbox's previous run to exit. */
const START_WAIT_ATTEMPTS = 60;

export class RunEngine {
  readonly #d: RunEngineDeps;
  #live: LiveRun | null = null;

  constructor(deps: RunEngineDeps) {
    this.#d = deps;
  }

  /** Starts the message now, or queues it behind the active run (`now`: replace the active run). */
  send(request: RunRequest, mode: "queue" | "now"): SendOutcome {
    const active = this.#d.store.active();
    if (!active) {
      this.#start(request);
      return { status: "started" };
    }
    if (mode === "now") {
      this.#d.store.enqueue(request, true);
      this.#emitQueue();
      this.#finish(active.assistantMessageId, { kind: "run_cancelled", payload: { reason: "send_now" } });
      return { status: "started" };
    }
    this.#d.store.enqueue(request);
    this.#d.emit([
      {
        kind: "message_queued",
        messageId: request.assistantMessageId,
        payload: { userMessageId: request.userMessageId, content: request.content },
      },
    ]);
    this.#emitQueue();
    return { status: "queued" };
  }

  cancel(): boolean {
    const active = this.#d.store.active();
    if (!active) return false;
    this.#finish(active.assistantMessageId, { kind: "run_cancelled", payload: { reason: "user" } });
    return true;
  }

  editQueued(userMessageId: string, content: string): boolean {
    if (!this.#d.store.editQueued(userMessageId, content)) return false;
    this.#emitQueue();
    return true;
  }

  removeQueued(userMessageId: string): boolean {
    const item = this.#d.store.removeQueued(userMessageId);
    if (!item) return false;
    this.#d.emit([
      { kind: "run_cancelled", messageId: item.assistantMessageId, payload: { reason: "removed_from_queue" } },
    ]);
    this.#emitQueue();
    return true;
  }

  /** Runs a queued message now: it goes to the front and replaces the active run, if any. */
  sendNow(userMessageId: string): boolean {
    if (!this.#d.store.moveToFront(userMessageId)) return false;
    this.#emitQueue();
    const active = this.#d.store.active();
    if (active) this.#finish(active.assistantMessageId, { kind: "run_cancelled", payload: { reason: "send_now" } });
    else this.#startNext();
    return true;
  }

  /** Answers a permission prompt once; a second answer is `already_answered`. */
  async answerPermission(requestId: string, decision: "allow" | "deny"): Promise<PermissionOutcome> {
    const store = this.#d.store;
    const permission = store.permission(requestId);
    if (!permission) return "not_found";
    if (permission.state !== "pending") return "already_answered";
    const active = store.active();
    if (!active || active.assistantMessageId !== permission.assistantMessageId || !active.providerRunId) {
      return "run_ended";
    }
    // Claimed before the first await, so a concurrent second answer sees `answering`.
    store.setPermissionState(requestId, "answering");
    try {
      await this.#d.provider().sendPermission(this.#d.chatId, active.providerRunId, {
        requestId,
        decision,
        ...(decision === "deny" ? { message: "The user denied this tool use." } : {}),
      });
    } catch (error: unknown) {
      if (store.permission(requestId)?.state === "answering") store.setPermissionState(requestId, "pending");
      if (error instanceof ProviderError && (error.code === "not_pending" || error.code === "run_exited")) {
        return "already_answered";
      }
      return "provider_failed";
    }
    if (store.permission(requestId)?.state !== "answering") return "already_answered";
    store.setPermissionState(requestId, decision);
    this.#d.emit([
      {
        kind: "permission_resolved",
        messageId: permission.assistantMessageId,
        payload: { requestId, decision, by: "user" },
      },
    ]);
    return "ok";
  }

  /**
   * The watchdog: re-attaches to a run this instance is not driving (after an eviction or a
   * restart) and fails a run whose provider or agent has been silent too long.
   */
  watchdog(): void {
    const active = this.#d.store.active();
    if (!active) return;
    const now = this.#d.now();
    const live = this.#live;
    if (!live || live.assistantMessageId !== active.assistantMessageId) {
      this.#attach(active);
    } else {
      const timeout = this.#silence(live, now);
      if (timeout) {
        this.#finish(active.assistantMessageId, timeout);
        return;
      }
    }
    this.#d.armWatchdog(now + this.#d.config.watchdogIntervalMs);
  }

  /**
   * Ends messages left `streaming` with no run behind them (the sweep); the active run itself is
   * handed to the watchdog, which re-attaches or fails it.
   */
  sweep(messageIds: readonly string[]): number {
    const active = this.#d.store.active();
    let ended = 0;
    for (const id of messageIds) {
      if (id === active?.assistantMessageId || this.#d.status(id) !== "streaming") continue;
      this.#finish(id, {
        kind: "run_failed",
        payload: { code: "interrupted", error: "The run was interrupted and cannot be resumed." },
      });
      ended++;
    }
    this.watchdog();
    return ended;
  }

  /** The timeout that ends a live run gone quiet: first the provider's silence, then the agent's. */
  #silence(live: LiveRun, now: number): Terminal | null {
    const limits = [
      {
        since: live.lastRecordAt,
        limit: this.#d.config.providerSilenceMs,
        code: "provider_timeout",
        who: "The sandbox provider sent nothing",
      },
      {
        since: live.lastAgentAt,
        limit: this.#d.config.agentSilenceMs,
        code: "agent_timeout",
        who: "The agent produced no output",
      },
    ];
    for (const { since, limit, code, who } of limits) {
      if (now - since <= limit) continue;
      const seconds = Math.round((now - since) / 1000);
      return { kind: "run_failed", payload: { code, error: `${who} for ${seconds} s; the run was stopped.` } };
    }
    return null;
  }

  /** Called after the coalescer committed waiting deltas: the cursor may move past their record. */
  deltasCommitted(): void {
    const live = this.#live;
    if (!live || live.pendingCursor === null || this.#d.hasPendingDeltas()) return;
    this.#d.store.setCursor(live.assistantMessageId, live.pendingCursor);
    live.pendingCursor = null;
  }

  // ---- the wrapped bootstrap ---------------------------------------------------------------

  #start(request: RunRequest): void {
    if (!this.#d.store.begin(request, this.#d.now())) throw new Error("run slot already taken");
    this.#d.emit([
      {
        kind: "user_message",
        messageId: request.userMessageId,
        payload: { content: request.content, assistantMessageId: request.assistantMessageId, source: request.source },
      },
      {
        kind: "run_started",
        messageId: request.assistantMessageId,
        payload: { userMessageId: request.userMessageId, model: request.model },
      },
    ]);
    const active = this.#d.store.active();
    if (active) this.#attach(active);
  }

  /** Drives the active run from wherever it is; every failure ends the message, never escapes. */
  #attach(active: ActiveRun): void {
    this.#live?.abort.abort();
    const now = this.#d.now();
    const live: LiveRun = {
      assistantMessageId: active.assistantMessageId,
      abort: new AbortController(),
      finished: false,
      lastRecordAt: now,
      lastAgentAt: now,
      pendingCursor: null,
    };
    this.#live = live;
    this.#d.armWatchdog(now + this.#d.config.watchdogIntervalMs);
    this.#drive(active, live).catch((error: unknown) => {
      if (live.finished) return;
      this.#finish(active.assistantMessageId, failure(error));
    });
  }

  async #drive(active: ActiveRun, live: LiveRun): Promise<void> {
    const provider = this.#d.provider();
    const sandboxId = this.#d.chatId;
    const signal = live.abort.signal;
    await provider.ensureSandbox(sandboxId, signal);
    const sessionId = this.#d.store.agentSessionId ?? undefined;
    const input = {
      prompt: active.content,
      model: active.model,
      permissionMode: active.permissionMode,
      ...(sessionId ? { sessionId } : {}),
      idempotencyKey: active.assistantMessageId,
    };
    const started = await startWhenFree(() => provider.startRun(sandboxId, input, signal), signal);
    if (live.finished) {
      // Cancelled while the run was being started: stop it there too.
      provider.cancelRun(sandboxId, started.runId).catch(() => {});
      return;
    }
    this.#d.store.setProviderRun(active.assistantMessageId, started.runId);
    this.#d.store.agentSessionId = started.sessionId;
    await this.#consume(provider, started.runId, active.cursor, live);
  }

  /**
   * Reads the run's records from offset 0 through a fresh mapper (its state must see every line),
   * committing only the events of records after the stored cursor, so a re-attach after an
   * eviction neither loses nor doubles an event. Reconnects when the stream drops.
   */
  async #consume(provider: SandboxProvider, runId: string, storedCursor: number, live: LiveRun): Promise<void> {
    const messageId = live.assistantMessageId;
    const mapper = createAgentMapper({ messageId });
    let seen = 0;
    let result: AgentResult | undefined;
    let stderr = "";
    let failures = 0;
    while (!live.finished) {
      try {
        for await (const record of provider.readRunEvents(this.#d.chatId, runId, seen, live.abort.signal)) {
          if (live.finished) return;
          failures = 0;
          live.lastRecordAt = this.#d.now();
          if (record.type === "heartbeat") continue;
          seen = record.offset;
          if (record.type === "stderr") {
            stderr = (stderr + record.text).slice(-2000);
            continue;
          }
          if (record.type === "exit") {
            this.#finish(messageId, exitOutcome(record, result, stderr));
            return;
          }
          live.lastAgentAt = live.lastRecordAt;
          const outcome = mapper.map(record.data);
          if (outcome.sessionId) this.#d.store.agentSessionId = outcome.sessionId;
          if (outcome.result) result = outcome.result;
          if (record.offset > storedCursor) this.#commitRecord(live, record, outcome.drafts);
        }
      } catch (error: unknown) {
        if (live.finished) return;
        const retryable = error instanceof ProviderError ? error.retryable : false;
        if (!retryable) throw error;
        failures++;
      }
      if (live.finished) return;
      // The stream ended without an exit record (or dropped): read on from the last offset. The
      // watchdog fails the run if the provider stays silent past its limit.
      const delay = RECONNECT_DELAYS_MS[Math.min(failures, RECONNECT_DELAYS_MS.length - 1)] ?? 5000;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  #commitRecord(live: LiveRun, record: ProviderRecord & { offset: number }, drafts: EventDraft[]): void {
    for (const draft of drafts) {
      if (draft.kind === "permission_requested")
        this.#d.store.addPermission(draft.payload.requestId, live.assistantMessageId);
    }
    this.#d.emit(drafts);
    if (this.#d.hasPendingDeltas()) live.pendingCursor = record.offset;
    else {
      this.#d.store.setCursor(live.assistantMessageId, record.offset);
      live.pendingCursor = null;
    }
  }

  /**
   * Ends a message exactly once: closes its open permission prompts, appends the terminal event,
   * frees the run slot, stops the provider run (best effort) and starts the next queued message.
   */
  #finish(assistantMessageId: string, terminal: Terminal): void {
    const store = this.#d.store;
    const active = store.active();
    const live = this.#live;
    if (live && live.assistantMessageId === assistantMessageId) {
      live.finished = true;
      live.abort.abort();
      this.#live = null;
    }
    const status = this.#d.status(assistantMessageId);
    if (status === "streaming" || status === "queued" || status === undefined) {
      const closing: EventDraft[] = store.openPermissions(assistantMessageId).map((requestId) => {
        store.setPermissionState(requestId, "deny");
        return {
          kind: "permission_resolved",
          messageId: assistantMessageId,
          payload: { requestId, decision: "deny", by: "system" },
        };
      });
      this.#d.emit([...closing, { ...terminal, messageId: assistantMessageId } as EventDraft]);
    }
    if (active && active.assistantMessageId === assistantMessageId) {
      store.end(assistantMessageId);
      if (active.providerRunId && terminal.kind !== "run_completed") {
        const providerRunId = active.providerRunId;
        try {
          this.#d
            .provider()
            .cancelRun(this.#d.chatId, providerRunId)
            .catch(() => {});
        } catch {
          // No provider configured: nothing to stop.
        }
      }
    }
    this.#startNext();
  }

  #startNext(): void {
    if (this.#d.store.active()) return;
    const next = this.#d.store.dequeue();
    if (!next) return;
    this.#emitQueue();
    this.#start(next);
  }

  #emitQueue(): void {
    const items = this.#d.store.queue().map((q) => ({
      userMessageId: q.userMessageId,
      assistantMessageId: q.assistantMessageId,
      content: q.content,
    }));
    this.#d.emit([{ kind: "queue_updated", messageId: null, payload: { items } }]);
  }
}

/**
 * Starts the run, waiting while the sandbox still finishes a previous one (a cancelled run takes a
 * moment to exit at the provider, and send-now starts the next message right away).
 */
async function startWhenFree<T>(start: () => Promise<T>, signal: AbortSignal): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await start();
    } catch (error: unknown) {
      const busy = error instanceof ProviderError && error.code === "run_in_progress";
      if (!busy || attempt >= START_WAIT_ATTEMPTS || signal.aborted) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function exitOutcome(
  record: { exitCode: number | null; signal: string | null; cancelled: boolean },
  result: AgentResult | undefined,
  stderr: string,
): Terminal {
  if (result) {
    const outcome = classifyResult(result);
    if (outcome.outcome === "completed") {
      return {
        kind: "run_completed",
        payload: {
          ...(result.durationMs !== undefined ? { durationMs: result.durationMs } : {}),
          ...(result.numTurns !== undefined ? { numTurns: result.numTurns } : {}),
          ...(result.costUsd !== undefined ? { costUsd: result.costUsd } : {}),
        },
      };
    }
    if (outcome.outcome === "cancelled") return { kind: "run_cancelled", payload: { reason: "user" } };
    return { kind: "run_failed", payload: { code: outcome.code, error: outcome.message } };
  }
  if (record.cancelled) return { kind: "run_cancelled", payload: { reason: "system" } };
  const how = record.signal ? `signal ${record.signal}` : `exit code ${record.exitCode}`;
  const tail = stderr.trim();
  return {
    kind: "run_failed",
    payload: { code: "agent_exited", error: `The agent stopped (${how}) without a result.${tail ? ` ${tail}` : ""}` },
  };
}

/** Any error from the bootstrap, as the message's `run_failed`. */
function failure(error: unknown): Terminal {
  if (error instanceof ProviderError) {
    const prefix: Record<string, string> = {
      provider_unreachable: "The sandbox provider cannot be reached",
      provider_timeout: "The sandbox provider did not answer in time",
      provider_unauthorized: "The sandbox provider refused our credentials",
      provider_error: "The sandbox provider failed",
      provider_protocol: "The sandbox provider answered outside the protocol",
    };
    return {
      kind: "run_failed",
      payload: {
        code: error.code,
        error: `${prefix[error.code] ?? "The sandbox provider refused the run"}: ${error.message}`,
      },
    };
  }
  if (error instanceof SetupError) return { kind: "run_failed", payload: { code: error.code, error: error.message } };
  return {
    kind: "run_failed",
    payload: {
      code: "internal_error",
      error: `The run failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`,
    },
  };
}

/** A failure before the provider is involved (e.g. no provider configured). */
export class SetupError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "SetupError";
    this.code = code;
  }
}
