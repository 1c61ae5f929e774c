/**
 * The run engine of one chat: the commands (send, queue, send now, cancel, permission answers) and
 * the rule that every run (a user's message, a queued one, a scheduled task) goes through one
 * wrapped bootstrap (`RunDriver`) and ends its message with exactly one terminal event, whatever
 * fails, then frees the chat's single run slot and starts the next queued message. Used by the
 * ChatRoom Durable Object; it knows nothing of the runtime beyond its SQLite run store.
 */
import type { EventDraft } from "../protocol/events";
import type { MessageStatus } from "../protocol/snapshot";
import type { ProviderCapabilities, SandboxProvider } from "../sandbox/provider";
import { deliverAnswer } from "./permission-answer";
import { RunDriver } from "./run-driver";
import { failed, type Terminal } from "./run-outcome";
import type { ActiveRun, RunRequest, RunStore } from "./run-store";
import { silenceOutcome } from "./run-watchdog";

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
  /** Appends drafts through the chat's writer (deltas may wait; everything else is committed at once). */
  emit(drafts: readonly EventDraft[], source?: number | null): void;
  /** The record of the oldest delta the writer still holds, or null. */
  oldestWaitingSource(): number | null;
  status(messageId: string): MessageStatus | undefined;
  /** The provider client; throws a `SetupError` when none is configured. */
  provider(): SandboxProvider;
  /** The chat owner's own model key for one run start, or null (see `DriverDeps.modelKey`). */
  modelKey(): Promise<string | null>;
  now(): number;
  config: RunConfig;
  armWatchdog(at: number): void;
  /** A message of this request ended (or was dropped from the queue) with this terminal event. */
  ended(request: Pick<RunRequest, "assistantMessageId" | "source">, terminal: Terminal): void;
};

/** `gone`: the chat was deleted (a send that raced the delete); nothing was started. */
export type SendOutcome = { status: "started" | "queued" | "gone" };
export type PermissionOutcome = "ok" | "not_found" | "already_answered" | "run_ended" | "provider_failed";

export class RunEngine {
  readonly #d: RunEngineDeps;
  #driver: RunDriver | null = null;
  #capabilities: Promise<ProviderCapabilities> | null = null;
  /** Permission answers on their way to the provider (a second answer meanwhile is refused). */
  readonly #answering = new Map<string, "allow" | "deny">();
  #stopped = false;

  constructor(deps: RunEngineDeps) {
    this.#d = deps;
  }

  /**
   * Starts the message now, or queues it behind the active run (`now`: replace the active run).
   * The user's message is in the log from the start, so history shows it before its answer. A
   * message this chat already has (a hand-over repeated after a lost answer) is not sent again.
   */
  send(request: RunRequest, mode: "queue" | "now"): SendOutcome {
    this.#usable();
    if (this.#d.status(request.assistantMessageId) !== undefined) {
      return { status: this.#d.store.queued(request.userMessageId) ? "queued" : "started" };
    }
    this.#d.emit([userMessage(request)]);
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

  /** Changes a queued message's text; the user's message in the log gets it too. */
  editQueued(userMessageId: string, content: string): boolean {
    const store = this.#d.store;
    if (!store.editQueued(userMessageId, content)) return false;
    const item = store.queued(userMessageId);
    if (item) this.#d.emit([userMessage(item)]);
    this.#emitQueue();
    return true;
  }

  /** Drops a queued message: its answer is cancelled, the user's message stays in the history. */
  removeQueued(userMessageId: string): boolean {
    const item = this.#d.store.removeQueued(userMessageId);
    if (!item) return false;
    const terminal: Terminal = { kind: "run_cancelled", payload: { reason: "removed_from_queue" } };
    this.#d.emit([{ ...terminal, messageId: item.assistantMessageId }]);
    this.#emitQueue();
    this.#d.ended(item, terminal);
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
    if (permission.state === "allow" || permission.state === "deny" || this.#answering.has(requestId)) {
      return "already_answered";
    }
    const active = store.active();
    if (!active || active.assistantMessageId !== permission.assistantMessageId || !active.providerRunId) {
      return "run_ended";
    }
    // Claimed before the first await, so a concurrent second answer is refused.
    this.#answering.set(requestId, decision);
    store.setPermissionState(requestId, "answering");
    let delivery: Awaited<ReturnType<typeof deliverAnswer>>;
    try {
      delivery = await deliverAnswer(this.#d.provider(), this.#d.chatId, active.providerRunId, {
        requestId,
        decision,
        ...(decision === "deny" ? { message: "The user denied this tool use." } : {}),
      });
    } catch {
      delivery = "failed";
    } finally {
      this.#answering.delete(requestId);
    }
    const state = store.permission(requestId)?.state;
    // The run ended meanwhile; its end logged the answer being sent as the user's.
    if (state !== "answering") return state === decision && delivery === "taken" ? "ok" : "run_ended";
    if (delivery !== "taken") {
      store.setPermissionState(requestId, "pending");
      return delivery === "failed" ? "provider_failed" : delivery === "run_exited" ? "run_ended" : "already_answered";
    }
    store.setPermissionState(requestId, decision);
    // The agent has just been handed the answer: its silence counts from now, not from the prompt.
    if (this.#driver?.assistantMessageId === permission.assistantMessageId) this.#driver.lastAgentAt = this.#d.now();
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
    if (this.#stopped) return;
    const active = this.#d.store.active();
    if (!active) return;
    const now = this.#d.now();
    const driver = this.#driver;
    if (!driver || driver.assistantMessageId !== active.assistantMessageId) this.#attach(active);
    else {
      const activity = {
        lastProviderAt: driver.lastProviderAt,
        lastAgentAt: driver.lastAgentAt,
        waitingForUser: this.#d.store.openPermissions(active.assistantMessageId).length > 0,
      };
      const timeout = silenceOutcome(activity, now, this.#d.config);
      if (timeout) {
        this.#finish(active.assistantMessageId, timeout);
        return;
      }
    }
    this.#d.armWatchdog(now + this.#d.config.watchdogIntervalMs);
  }

  /**
   * Ends messages left `streaming` with no run behind them (the sweep); the active run itself is
   * handed to the watchdog, which re-attaches or fails it. Returns how many it ended and the
   * active message among them, if any.
   */
  sweep(messageIds: readonly string[]): { ended: number; active: string | null } {
    const active = this.#d.store.active();
    let ended = 0;
    for (const id of messageIds) {
      if (id === active?.assistantMessageId || this.#d.status(id) !== "streaming") continue;
      this.#finish(id, failed("interrupted", "The run was interrupted and cannot be resumed."));
      ended++;
    }
    this.watchdog();
    const still = this.#d.store.active()?.assistantMessageId ?? null;
    return { ended, active: still !== null && messageIds.includes(still) ? still : null };
  }

  /** The writer committed the deltas it held: the active run's cursor may move on. */
  afterDeltasCommitted(): void {
    this.#driver?.afterDeltasCommitted();
  }

  /** Stops for good (the chat is being deleted): no run goes on or starts; resolves when the active one let go. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const driver = this.#driver;
    this.#driver = null;
    driver?.stop();
    await driver?.settled;
  }

  // ---- runs --------------------------------------------------------------------------------

  #usable(): void {
    if (this.#stopped) throw new Error("this chat is being deleted");
  }

  #start(request: RunRequest): void {
    if (!this.#d.store.begin(request, this.#d.now())) throw new Error("run slot already taken");
    this.#d.emit([
      {
        kind: "run_started",
        messageId: request.assistantMessageId,
        payload: { userMessageId: request.userMessageId, model: request.model },
      },
    ]);
    const active = this.#d.store.active();
    if (active) this.#attach(active);
  }

  /** Drives the active run from wherever it is; the driver ends the message on any failure. */
  #attach(active: ActiveRun): void {
    this.#driver?.stop();
    const id = active.assistantMessageId;
    this.#driver = new RunDriver(
      {
        chatId: this.#d.chatId,
        store: this.#d.store,
        provider: () => this.#d.provider(),
        capabilities: (provider) => this.#capabilitiesOf(provider),
        modelKey: () => this.#d.modelKey(),
        now: () => this.#d.now(),
        emit: (drafts, source) => this.#d.emit(drafts, source),
        oldestWaitingSource: () => this.#d.oldestWaitingSource(),
        finish: (terminal) => this.#finish(id, terminal),
      },
      active,
    );
    this.#d.armWatchdog(this.#d.now() + this.#d.config.watchdogIntervalMs);
  }

  /** The provider's capabilities, asked once (again after a failure). */
  #capabilitiesOf(provider: SandboxProvider): Promise<ProviderCapabilities> {
    this.#capabilities ??= provider.capabilities().catch((error: unknown) => {
      this.#capabilities = null;
      throw error;
    });
    return this.#capabilities;
  }

  /**
   * Ends a message exactly once: closes its open permission prompts, appends the terminal event,
   * frees the run slot, stops the provider run (best effort, by id or by key when the start's
   * answer never came) and starts the next queued message.
   */
  #finish(assistantMessageId: string, terminal: Terminal): void {
    const store = this.#d.store;
    const active = store.active();
    if (this.#driver?.assistantMessageId === assistantMessageId) {
      this.#driver.stop();
      this.#driver = null;
    }
    const status = this.#d.status(assistantMessageId);
    if (status === "streaming" || status === "queued" || status === undefined) {
      // A prompt whose answer is on its way counts as that answer; any other open one as denied.
      const closing: EventDraft[] = store.openPermissions(assistantMessageId).map((requestId) => {
        const sending = this.#answering.get(requestId);
        store.setPermissionState(requestId, sending ?? "deny");
        return {
          kind: "permission_resolved",
          messageId: assistantMessageId,
          payload: { requestId, decision: sending ?? "deny", by: sending ? "user" : "system" },
        };
      });
      this.#d.emit([...closing, { ...terminal, messageId: assistantMessageId } as EventDraft]);
    }
    if (active && active.assistantMessageId === assistantMessageId) {
      store.end(assistantMessageId);
      if (terminal.kind !== "run_completed") this.#stopAtProvider(active);
      this.#d.ended(active, terminal);
    }
    this.#startNext();
  }

  #stopAtProvider(active: ActiveRun): void {
    let provider: SandboxProvider;
    try {
      provider = this.#d.provider();
    } catch {
      return; // No provider configured: nothing runs there.
    }
    const stopping = active.providerRunId
      ? provider.cancelRun(this.#d.chatId, active.providerRunId)
      : provider.cancelRunByKey(this.#d.chatId, active.runKey);
    stopping.catch((error: unknown) => {
      console.warn(
        JSON.stringify({ msg: "run not cancelled at the provider", chatId: this.#d.chatId, error: String(error) }),
      );
    });
  }

  #startNext(): void {
    if (this.#stopped || this.#d.store.active()) return;
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

function userMessage(request: RunRequest): EventDraft {
  return {
    kind: "user_message",
    messageId: request.userMessageId,
    payload: { content: request.content, assistantMessageId: request.assistantMessageId, source: request.source },
  };
}
