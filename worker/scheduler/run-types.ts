/**
 * The shapes a scheduled run passes through, shared by the tick, reconciliation, run now and the
 * outcome report: a hand-over to a chat and a run's end. Plain types (no runtime imports), so the
 * pure rules that use them are testable under Node.
 */
import type { PermissionMode } from "../sandbox/provider";

/** A claimed run, ready to go to its chat. */
export type Handover = {
  runId: string;
  chatId: string;
  userMessageId: string;
  assistantMessageId: string;
  prompt: string;
  model: string;
  permissionMode: PermissionMode;
};

export type RunOutcomeStatus = "completed" | "failed" | "cancelled";

/** A run's end, found by its assistant message id. */
export type RunOutcome = {
  assistantMessageId: string;
  status: RunOutcomeStatus;
  errorCode?: string | null;
  errorText?: string | null;
  /** When it ended (ms). */
  endedAt: number;
};

/** The error code of a run whose chat no longer exists. */
export const CHAT_DELETED = "chat_deleted";
