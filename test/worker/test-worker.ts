/**
 * The Workers tests' entry: the real worker, its ChatRoom extended with RPCs only tests need
 * (append any event, flush to D1 now, read the head, aim one chat at another provider). The
 * production class keeps those out of its RPC surface; they reach it through `roomSeams`.
 */
import { ChatRoom as ProductionChatRoom, roomSeams } from "../../worker/chat/chat-room";
import worker from "../../worker/index";
import { type EventDraft, parseDraft } from "../../worker/protocol/events";
import { createHttpProvider } from "../../worker/sandbox/http-provider";

export type AppendResult = { ok: true; head: number } | { ok: false; error: string };

export class ChatRoom extends ProductionChatRoom {
  /** Appends drafts of any kind (validated; a malformed one rejects the call and appends nothing). */
  async append(
    chatId: string,
    drafts: { kind: string; messageId: string | null; payload: unknown }[],
  ): Promise<AppendResult> {
    const valid: EventDraft[] = [];
    for (const [index, draft] of drafts.entries()) {
      try {
        valid.push(parseDraft(draft));
      } catch (error: unknown) {
        return { ok: false, error: `event ${index}: ${error instanceof Error ? error.message : String(error)}` };
      }
    }
    const seams = this[roomSeams]();
    seams.emit(chatId, valid);
    return { ok: true, head: seams.head() };
  }

  /** The newest seq (deltas still waiting to be merged are not appended yet). */
  async head(): Promise<number> {
    return this[roomSeams]().head();
  }

  /** Commits waiting deltas, then copies everything outstanding to D1 now. */
  async flush(chatId: string): Promise<{ head: number; flushedSeq: number }> {
    return this[roomSeams]().flush(chatId);
  }

  /** Makes every listener `ms` older, so that the next live send finds the ones past their age. */
  async ageListeners(ms: number): Promise<void> {
    this[roomSeams]().ageListeners(ms);
  }

  /** Points this chat's runs at another provider address until the object is evicted. */
  async useProvider(baseUrl: string, token: string, timeoutMs = 3000): Promise<void> {
    this[roomSeams]().useProvider(() => createHttpProvider({ baseUrl, token, timeoutMs }));
  }
}

export default worker;
