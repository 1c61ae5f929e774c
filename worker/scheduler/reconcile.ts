/**
 * Reconciliation: the tick's second way of learning how scheduled runs went, for when the chat's
 * own report is lost (eviction, a D1 error) or not wired. It reads open run rows (`pending`,
 * `dispatched`, `queued`) with their message's snapshot status in D1 `messages` (written by the
 * chat's outbox; read by open-runs.ts) and decides, per run, what the row should say now. Pure
 * decisions here; the tick writes them with the same statements as every other path.
 */
import type { MessageStatus } from "../protocol/snapshot";
import type { PermissionMode } from "../sandbox/provider";
import { CHAT_DELETED, type Handover, type RunOutcome } from "./run-types";

/** An open run row with what D1 knows of its message and chat. */
export type OpenRun = {
  id: string;
  status: "pending" | "dispatched" | "queued";
  target: "new_chat" | "chat";
  chat_id: string | null;
  user_message_id: string;
  assistant_message_id: string;
  claimed_at: number;
  dispatch_attempts: number;
  error_text: string | null;
  /** Only read for `pending` runs (the ones that may be handed over again). */
  prompt: string | null;
  model: string;
  permission_mode: PermissionMode;
  message_status: MessageStatus | null;
  message_error: string | null;
  message_error_code: string | null;
  message_updated_at: number | null;
  chat_exists: number;
};

export type Decision =
  | { kind: "settle"; outcome: RunOutcome }
  | { kind: "progress"; status: "dispatched" | "queued" }
  | { kind: "redispatch"; handover: Handover }
  | { kind: "wait" };

export type ReconcileRules = { now: number; pendingGraceMs: number; maxDispatchAttempts: number };

/** What an open run's row should become, given its message and chat as D1 has them. */
export function decide(run: OpenRun, rules: ReconcileRules): Decision {
  const m = run.assistant_message_id;
  const status = run.message_status;
  if (status === "completed" || status === "failed" || status === "cancelled") {
    return {
      kind: "settle",
      outcome: {
        assistantMessageId: m,
        status,
        errorCode: status === "completed" ? null : run.message_error_code,
        errorText: status === "completed" ? null : run.message_error,
        endedAt: run.message_updated_at ?? rules.now,
      },
    };
  }
  if (status === "streaming")
    return run.status === "dispatched" ? { kind: "wait" } : { kind: "progress", status: "dispatched" };
  if (status === "queued") return run.status === "queued" ? { kind: "wait" } : { kind: "progress", status: "queued" };
  // D1 has no such message.
  if (!run.chat_exists) {
    // The chat is gone (with its messages). A target chat's deletion fails the run and pauses the
    // schedule; deleting the chat one run made is the user's way of dropping that run.
    const deletedTarget = run.target === "chat";
    return {
      kind: "settle",
      outcome: {
        assistantMessageId: m,
        status: deletedTarget ? "failed" : "cancelled",
        errorCode: CHAT_DELETED,
        errorText: deletedTarget ? "The target chat was deleted." : "The chat of this run was deleted.",
        endedAt: rules.now,
      },
    };
  }
  // Handed over, not copied to D1 yet: the chat's outbox will bring it.
  if (run.status !== "pending" || rules.now - run.claimed_at < rules.pendingGraceMs) return { kind: "wait" };
  if (run.dispatch_attempts >= rules.maxDispatchAttempts || run.prompt === null || run.chat_id === null) {
    return {
      kind: "settle",
      outcome: {
        assistantMessageId: m,
        status: "failed",
        errorCode: "dispatch_failed",
        errorText:
          `The run could not be handed to its chat after ${run.dispatch_attempts} attempts. ${run.error_text ?? ""}`.trim(),
        endedAt: rules.now,
      },
    };
  }
  return {
    kind: "redispatch",
    handover: {
      runId: run.id,
      chatId: run.chat_id,
      userMessageId: run.user_message_id,
      assistantMessageId: m,
      prompt: run.prompt,
      model: run.model,
      permissionMode: run.permission_mode,
    },
  };
}
