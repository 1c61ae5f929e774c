/**
 * Drives one agent run for the chat's run engine: ensures the sandbox, starts the run at the
 * provider (retrying what may be retried: the idempotency key makes a repeated start safe), then
 * reads its records and commits their events. The stored cursor is the offset of the last record
 * whose events are all committed (deltas the writer still holds are not), so a re-attach after an
 * eviction neither loses nor repeats an event. A fresh agent session replaces one that is gone.
 */
import type { EventDraft } from "../protocol/events";
import type { PermissionMode, ProviderCapabilities, RunUsage, SandboxProvider } from "../sandbox/provider";
import { ProviderError } from "../sandbox/provider";
import { type AgentResult, classifyResult, createAgentMapper } from "../sandbox/stream-json";
import { exitOutcome, failed, failureOutcome, SetupError, type Terminal } from "./run-outcome";
import type { ActiveRun, RunStore } from "./run-store";

export type DriverDeps = {
  chatId: string;
  store: RunStore;
  /** The provider client; throws a `SetupError` when none is configured. */
  provider(): SandboxProvider;
  /** The provider's declared capabilities (asked once per object). */
  capabilities(provider: SandboxProvider): Promise<ProviderCapabilities>;
  /**
   * The chat owner's own model key, in the clear for this run only (never stored), or null for the
   * service's key. Throws a `SetupError` when one is stored but cannot be read.
   */
  modelKey(): Promise<string | null>;
  now(): number;
  /** Appends drafts through the chat's writer; `source` is the record they come from. */
  emit(drafts: readonly EventDraft[], source?: number | null): void;
  /** The record of the oldest delta the writer still holds, or null. */
  oldestWaitingSource(): number | null;
  /** Ends the run's message with this outcome. */
  finish(terminal: Terminal): void;
};

/** Delays before retrying a failed sandbox or start call that may be retried (then it fails the run). */
const RETRY_DELAYS_MS = [250, 500, 1000, 2000];
/** Reconnect delays when the record stream drops (the watchdog bounds the total). */
const RECONNECT_DELAYS_MS = [200, 500, 1000, 2000, 5000];
/** How long (in 250 ms steps) a start waits for the sandbox's previous run to exit. */
const START_WAIT_ATTEMPTS = 60;

type StreamEnd = { terminal: Terminal } | { sessionMissing: true };

export class RunDriver {
  readonly assistantMessageId: string;
  /** When the provider last answered anything (a record, a heartbeat, a call during setup). */
  lastProviderAt: number;
  /** When the agent last printed something. */
  lastAgentAt: number;
  /** Resolves when the run's work here is over (finished, failed or stopped). */
  readonly settled: Promise<void>;
  readonly #d: DriverDeps;
  readonly #abort = new AbortController();
  #stopped = false;
  /** The newest record processed; the cursor follows it once its events are all committed. */
  #lastOffset = 0;
  /** The cursor as stored (a write only when it moves). */
  #storedCursor = 0;

  constructor(deps: DriverDeps, active: ActiveRun) {
    this.#d = deps;
    this.assistantMessageId = active.assistantMessageId;
    this.lastProviderAt = this.lastAgentAt = deps.now();
    this.settled = this.#run(active).catch((error: unknown) => {
      if (!this.#stopped) deps.finish(failureOutcome(error));
    });
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Stops reading and starting; nothing more is committed by this driver. */
  stop(): void {
    this.#stopped = true;
    this.#abort.abort();
  }

  /** The writer committed the deltas it held: the cursor may move on. */
  afterDeltasCommitted(): void {
    this.#storeCursor();
  }

  async #run(active: ActiveRun): Promise<void> {
    const provider = this.#d.provider();
    let runKey = active.runKey;
    let runId = active.providerRunId ?? (await this.#bootstrap(provider, active));
    /** Asked again for a fresh-session restart (a re-attach needs none: the run exists). */
    const modelKey = async () => (await this.#modelKeyFor(provider, active)) ?? undefined;
    let cursor = active.cursor;
    while (runId !== null && !this.#stopped) {
      const end = await this.#consume(provider, runId, cursor);
      if (end === null) return;
      if ("terminal" in end) return this.#d.finish(end.terminal);
      if (runKey !== active.assistantMessageId) {
        return this.#d.finish(
          failed("agent_session_missing", "The agent could not find its session, even a fresh one."),
        );
      }
      // The agent was asked to continue a session it no longer has: once, start it afresh.
      this.#freshSession("The agent's earlier session of this chat is gone, so it starts a fresh one");
      runKey = `${active.assistantMessageId}-fresh`;
      runId = await this.#start(provider, active, runKey, undefined, await modelKey());
      cursor = 0;
    }
  }

  /**
   * Checks what the run needs (a model key the provider can use, its capabilities) before any
   * sandbox work, then ensures the sandbox and starts the run; null when stopped meanwhile.
   */
  async #bootstrap(provider: SandboxProvider, active: ActiveRun): Promise<string | null> {
    const signal = this.#abort.signal;
    const modelKey = await this.#modelKeyFor(provider, active);
    if (this.#stopped) return null;
    const sandbox = await this.#retrying(() => provider.ensureSandbox(this.#d.chatId, signal));
    if (this.#stopped) return null;
    if (sandbox.created && this.#d.store.agentSessionId !== null) {
      this.#freshSession("This chat's sandbox was recreated, so the agent starts a fresh session");
    }
    const sessionId = this.#d.store.agentSessionId ?? undefined;
    return this.#start(provider, active, active.runKey, sessionId, modelKey ?? undefined);
  }

  /** The owner's model key for this run, once the provider is known to be able to run it. */
  async #modelKeyFor(provider: SandboxProvider, active: ActiveRun): Promise<string | null> {
    const [key, capabilities] = await Promise.all([
      this.#d.modelKey(),
      this.#retrying(() => this.#d.capabilities(provider)),
    ]);
    requireCapabilities(capabilities, active.permissionMode, key !== null);
    return key;
  }

  /** Forgets the agent session and says so in the chat. */
  #freshSession(why: string): void {
    this.#d.store.agentSessionId = null;
    this.#d.emit([
      {
        kind: "notice",
        messageId: this.assistantMessageId,
        payload: { code: "fresh_session", text: `${why}: it does not remember the earlier messages.` },
      },
    ]);
  }

  /** Starts (or finds, by its key) the provider run. The model key goes in the request only. */
  async #start(
    provider: SandboxProvider,
    active: ActiveRun,
    runKey: string,
    sessionId: string | undefined,
    modelKey: string | undefined,
  ): Promise<string | null> {
    const signal = this.#abort.signal;
    const input = {
      prompt: active.content,
      model: active.model,
      permissionMode: active.permissionMode,
      ...(sessionId ? { sessionId } : {}),
      ...(modelKey ? { modelKey } : {}),
      idempotencyKey: runKey,
    };
    let started: Awaited<ReturnType<SandboxProvider["startRun"]>>;
    for (let attempt = 0; ; attempt++) {
      try {
        started = await this.#retrying(() => provider.startRun(this.#d.chatId, input, signal));
        break;
      } catch (error: unknown) {
        // The sandbox still finishes a previous run (a cancelled one takes a moment to exit).
        const busy = error instanceof ProviderError && error.code === "run_in_progress";
        if (!busy || attempt >= START_WAIT_ATTEMPTS || this.#stopped) throw error;
      }
      await sleep(250, signal);
    }
    if (this.#stopped) {
      provider.cancelRun(this.#d.chatId, started.runId).catch(() => {});
      return null;
    }
    this.#d.store.setProviderRun(this.assistantMessageId, started.runId, runKey);
    this.#d.store.agentSessionId = started.sessionId;
    return started.runId;
  }

  /**
   * Reads the run's records from offset 0 through a fresh mapper (its state must see every line),
   * committing only the events of records after `storedCursor`. Reconnects when the stream drops.
   * Returns how the run ended, or null when stopped.
   */
  async #consume(provider: SandboxProvider, runId: string, storedCursor: number): Promise<StreamEnd | null> {
    const d = this.#d;
    const mapper = createAgentMapper({ messageId: this.assistantMessageId });
    let seen = 0;
    let result: AgentResult | undefined;
    let stderr = "";
    let failures = 0;
    this.#lastOffset = this.#storedCursor = storedCursor;
    while (!this.#stopped) {
      try {
        for await (const record of provider.readRunEvents(d.chatId, runId, seen, this.#abort.signal)) {
          if (this.#stopped) return null;
          failures = 0;
          this.lastProviderAt = d.now();
          if (record.type === "heartbeat") continue;
          seen = record.offset;
          if (record.type === "exit") {
            if (mapper.ignored > 0) {
              console.warn(JSON.stringify({ msg: "malformed agent lines dropped", runId, count: mapper.ignored }));
            }
            // The provider counted the tokens it relayed: the figures the chat can trust.
            if (record.usage) d.emit([usageDraft(this.assistantMessageId, record.usage)], record.offset);
            if (!record.error && result && classifyResult(result).outcome === "session_missing") {
              return { sessionMissing: true };
            }
            return { terminal: exitOutcome(record, result, stderr) };
          }
          let drafts: EventDraft[] = [];
          if (record.type === "stderr") stderr = (stderr + record.text).slice(-2000);
          else {
            this.lastAgentAt = this.lastProviderAt;
            const outcome = mapper.map(record.data);
            if (outcome.sessionId) d.store.agentSessionId = outcome.sessionId;
            if (outcome.result) result = outcome.result;
            drafts = outcome.drafts;
          }
          if (record.offset > storedCursor) this.#commit(record.offset, drafts);
        }
      } catch (error: unknown) {
        if (this.#stopped) return null;
        if (error instanceof ProviderError && (error.code === "sandbox_not_found" || error.code === "run_not_found")) {
          throw new SetupError("sandbox_lost", "The sandbox disappeared while the agent was working in it.");
        }
        if (!(error instanceof ProviderError && error.retryable)) throw error;
        failures++;
      }
      if (this.#stopped) return null;
      // The stream ended without an exit record (or dropped): read on from the last offset. The
      // watchdog fails the run if the provider stays silent past its limit.
      await sleep(RECONNECT_DELAYS_MS[Math.min(failures, RECONNECT_DELAYS_MS.length - 1)] ?? 5000, this.#abort.signal);
    }
    return null;
  }

  #commit(offset: number, drafts: readonly EventDraft[]): void {
    for (const draft of drafts) {
      if (draft.kind === "permission_requested") {
        this.#d.store.addPermission(draft.payload.requestId, this.assistantMessageId);
      }
    }
    if (drafts.length > 0) this.#d.emit(drafts, offset);
    this.#lastOffset = offset;
    this.#storeCursor();
  }

  #storeCursor(): void {
    if (this.#stopped) return;
    const waiting = this.#d.oldestWaitingSource();
    const cursor = waiting === null ? this.#lastOffset : Math.min(this.#lastOffset, waiting - 1);
    if (cursor <= this.#storedCursor) return;
    this.#d.store.setCursor(this.assistantMessageId, cursor);
    this.#storedCursor = cursor;
  }

  /**
   * Calls the provider while setting up, retrying what may be retried. Any answer counts as the
   * provider being alive, and the agent cannot be silent before it runs: both clocks restart.
   */
  async #retrying<T>(call: () => Promise<T>): Promise<T> {
    const signal = this.#abort.signal;
    for (let attempt = 0; ; attempt++) {
      try {
        const value = await call();
        this.lastProviderAt = this.lastAgentAt = this.#d.now();
        return value;
      } catch (error: unknown) {
        this.lastProviderAt = this.lastAgentAt = this.#d.now();
        const retryable = error instanceof ProviderError && error.retryable;
        if (!retryable || attempt >= RETRY_DELAYS_MS.length || signal.aborted) throw error;
      }
      await sleep(RETRY_DELAYS_MS[attempt] ?? 2000, signal);
    }
  }
}

/**
 * Refuses a provider that cannot run this chat's agent the way the engine needs, or that cannot
 * use the model key this run has (the user's own, or none when the provider has no key of its own).
 */
function requireCapabilities(declared: ProviderCapabilities, mode: PermissionMode, userKey: boolean): void {
  const { name, capabilities } = declared;
  const missing = !capabilities.agent
    ? "cannot run agents"
    : !capabilities.resume
      ? "cannot resume a run's output after a disconnect"
      : mode === "default" && !capabilities.permissions
        ? "cannot ask for permissions (choose another permission mode for this chat)"
        : null;
  if (missing) throw new SetupError("provider_unsupported", `The sandbox provider ${name} ${missing}.`);
  if (userKey && capabilities.userModelKey !== true) {
    throw new SetupError(
      "model_key_unsupported",
      `The sandbox provider ${name} cannot use your own model key; remove it in settings to use the service's.`,
    );
  }
  if (!userKey && capabilities.serviceModelKey === false) {
    throw new SetupError(
      "model_key_missing",
      "This service has no model key of its own: add your Anthropic API key in settings to chat with the agent.",
    );
  }
}

function usageDraft(messageId: string, usage: RunUsage): EventDraft {
  return {
    kind: "usage",
    messageId,
    payload: {
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      cacheReadTokens: usage.cacheReadInputTokens,
      cacheCreationTokens: usage.cacheCreationInputTokens,
    },
  };
}

/** Waits `ms`, or less when the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}
