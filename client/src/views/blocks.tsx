/**
 * The parts of an agent message: thinking (collapsed), tool cards (one line folded; input and
 * output unfolded, long output folded after 20 lines, the server's truncation marked) and
 * permission prompts (Allow / Deny until answered here or anywhere else).
 */
import { useSignal } from "@preact/signals";
import type { PermissionBlock, ThinkingBlock, ToolBlock } from "../../../worker/protocol/snapshot";
import type { ChatActions } from "../models/chat-actions";
import { ErrorLine } from "./bits";
import { bytes, pretty, toolSummary } from "./format";

const FOLD_LINES = 20;

/** A `<details>` whose body is rendered only once opened: a long chat of folded cards stays light. */
function useOpen() {
  const open = useSignal(false);
  const onToggle = (event: Event) => {
    open.value = (event.currentTarget as HTMLDetailsElement).open;
  };
  return { open: open.value, onToggle };
}

export function Thinking({ block, live }: { block: ThinkingBlock; live: boolean }) {
  const { open, onToggle } = useOpen();
  return (
    <details class="thinking" onToggle={onToggle}>
      <summary>{live ? "Thinking…" : "Thought"}</summary>
      {open && <div class="thinking-text">{block.text}</div>}
    </details>
  );
}

function Output({
  text,
  truncatedFromBytes,
  label,
}: {
  text: string;
  truncatedFromBytes: number | null;
  label: string;
}) {
  const all = useSignal(false);
  const lines = text.split("\n");
  const folded = !all.value && lines.length > FOLD_LINES;
  return (
    <div class="tool-section">
      <div class="tool-label">{label}</div>
      <pre class="io">{folded ? lines.slice(0, FOLD_LINES).join("\n") : text}</pre>
      {folded && (
        <button type="button" class="link" onClick={() => (all.value = true)}>
          Show all {lines.length} lines
        </button>
      )}
      {truncatedFromBytes !== null && (
        <p class="truncated">
          Cut to fit: the full output was {bytes(truncatedFromBytes)}; it is complete in the sandbox.
        </p>
      )}
    </div>
  );
}

const toolStates = { running: "running", completed: "done", failed: "failed" } as const;

export function ToolCard({ block }: { block: ToolBlock }) {
  const summary = toolSummary(block.input);
  const { open, onToggle } = useOpen();
  return (
    <details class={`tool ${block.status}`} data-tool={block.name} onToggle={onToggle}>
      <summary>
        <span class="tool-name">{block.name}</span>
        <span class="tool-key">{summary}</span>
        <span class={`tool-state ${block.status}`}>
          {block.status === "running" && <span class="spinner" aria-hidden="true" />}
          {toolStates[block.status]}
        </span>
      </summary>
      {open && (
        <div class="tool-body">
          <div class="tool-section">
            <div class="tool-label">Input</div>
            <pre class="io">{pretty(block.input)}</pre>
          </div>
          {block.output !== null && (
            <Output text={block.output} truncatedFromBytes={block.truncatedFromBytes} label="Output" />
          )}
          {block.error !== null && (
            <Output text={block.error} truncatedFromBytes={block.truncatedFromBytes} label="Error" />
          )}
        </div>
      )}
    </details>
  );
}

export function PermissionCard({ block, actions }: { block: PermissionBlock; actions: ChatActions }) {
  const summary = toolSummary(block.input);
  const error = actions.permissionErrors.value[block.requestId];
  const busy = actions.answering.value.has(block.requestId);
  return (
    <section
      class={`permission${block.decision ? ` answered ${block.decision}` : ""}`}
      aria-label={`Permission request for ${block.toolName}`}
      data-request-id={block.requestId}
    >
      <p class="permission-q">
        The agent wants to use <strong>{block.toolName}</strong>
        {summary ? ":" : "."}
      </p>
      {summary && <pre class="io">{summary}</pre>}
      {block.decision === null ? (
        <div class="permission-actions">
          <button
            type="button"
            class="primary"
            disabled={busy}
            onClick={() => void actions.answer(block.requestId, "allow")}
          >
            Allow
          </button>
          <button type="button" disabled={busy} onClick={() => void actions.answer(block.requestId, "deny")}>
            Deny
          </button>
        </div>
      ) : (
        <p class="permission-decision">
          {block.decision === "allow" ? "Allowed" : "Denied"}
          {block.by === "system" ? " (the run ended before an answer)" : ""}
        </p>
      )}
      <ErrorLine text={error} />
    </section>
  );
}
