/**
 * One message of the timeline. The user's text as written; the agent's blocks in order, then its
 * end: usage in small print, a calm error box with Retry when it failed, "Stopped" when cancelled.
 * Each message subscribes to its own snapshot signal, so a delta re-renders only its message.
 */
import type { MessageSnapshot } from "../../../worker/protocol/snapshot";
import type { ChatActions } from "../models/chat-actions";
import type { ChatState } from "../models/chat-state";
import { PermissionCard, Thinking, ToolCard } from "./blocks";
import { tokens } from "./format";
import { Markdown } from "./markdown-view";

function Usage({ snapshot }: { snapshot: MessageSnapshot }) {
  const usage = snapshot.usage;
  const cost = snapshot.result?.costUsd ?? usage?.costUsd;
  if (!usage && cost === undefined) return null;
  const parts: string[] = [];
  if (usage) parts.push(`${tokens(usage.inputTokens)} in`, `${tokens(usage.outputTokens)} out`);
  if (usage?.cacheReadTokens) parts.push(`${tokens(usage.cacheReadTokens)} cached`);
  if (cost !== undefined) parts.push(`$${cost.toFixed(4)}`);
  if (snapshot.result?.durationMs !== undefined) parts.push(`${(snapshot.result.durationMs / 1000).toFixed(1)} s`);
  return <p class="usage">{parts.join(" · ")}</p>;
}

function AgentMessage({
  snapshot,
  state,
  actions,
}: {
  snapshot: MessageSnapshot;
  state: ChatState;
  actions: ChatActions;
}) {
  const live = snapshot.status === "streaming";
  const lastThinking = snapshot.blocks.findLastIndex((b) => b.type === "thinking");
  const prompt = snapshot.status === "failed" ? state.promptOf(snapshot.messageId) : null;
  return (
    <article
      class={`message agent ${snapshot.status}`}
      data-message-id={snapshot.messageId}
      data-status={snapshot.status}
      aria-label="Agent"
      aria-busy={live}
    >
      {snapshot.blocks.map((block, i) => {
        switch (block.type) {
          case "text":
            return <Markdown key={i} text={block.text} streaming={live && i === snapshot.blocks.length - 1} />;
          case "thinking":
            return (
              <Thinking key={i} block={block} live={live && i === lastThinking && i === snapshot.blocks.length - 1} />
            );
          case "tool":
            return <ToolCard key={block.toolUseId} block={block} />;
          case "permission":
            return <PermissionCard key={block.requestId} block={block} actions={actions} />;
          case "notice":
            return (
              <p key={i} class="notice" role="note">
                {block.text}
              </p>
            );
          default:
            return null;
        }
      })}
      {snapshot.omittedBytes > 0 && (
        <p class="notice" role="note">
          This reply is too long to show whole here: the rest ({tokens(snapshot.omittedBytes)} bytes) is in the chat's
          event log.
        </p>
      )}
      {live && snapshot.blocks.length === 0 && <p class="muted working">Starting…</p>}
      {snapshot.status === "failed" && (
        <div class="failure">
          <p>
            <strong>This reply failed.</strong> {snapshot.error?.message ?? "The run ended with an error."}
          </p>
          <p class="small muted">
            Code: <code>{snapshot.error?.code ?? "unknown"}</code>
          </p>
          {prompt && (
            <button type="button" onClick={() => void actions.retry(prompt.content)} disabled={actions.sending.value}>
              Retry
            </button>
          )}
        </div>
      )}
      {snapshot.status === "cancelled" &&
        (snapshot.cancelReason === "removed_from_queue" ? (
          <p class="muted removed">Removed from the queue before it ran</p>
        ) : (
          <p class="stopped">Stopped</p>
        ))}
      {!live && <Usage snapshot={snapshot} />}
    </article>
  );
}

export function Message({ id, state, actions }: { id: string; state: ChatState; actions: ChatActions }) {
  const snapshot = state.message(id)?.value;
  if (!snapshot) return null;
  if (snapshot.role === "user") {
    return (
      <article class="message user" data-message-id={id} aria-label="You">
        <div class="bubble">{snapshot.content}</div>
      </article>
    );
  }
  return <AgentMessage snapshot={snapshot} state={state} actions={actions} />;
}
