/**
 * The composer and the queue above it. Enter sends, Shift+Enter adds a line; while a run streams a
 * message is queued, and queued messages show as chips with edit, remove and send now. Stop is one
 * click away while something runs.
 */
import { useLayoutEffect, useRef } from "preact/hooks";
import type { ChatActions } from "../models/chat-actions";
import type { ChatState } from "../models/chat-state";
import { ErrorLine } from "./bits";

function QueueChips({ state, actions }: { state: ChatState; actions: ChatActions }) {
  const queue = state.queue.value;
  const editing = actions.editing.value;
  if (queue.length === 0) return null;
  return (
    <section class="queue" aria-label="Queued messages">
      <p class="queue-title">Queued — they run in order when the current reply ends</p>
      <ul>
        {queue.map((item, i) => (
          <li class="chip" key={item.userMessageId} data-user-message-id={item.userMessageId}>
            {editing?.userMessageId === item.userMessageId ? (
              <form
                class="chip-edit"
                onSubmit={(e) => {
                  e.preventDefault();
                  void actions.saveEdit();
                }}
              >
                <textarea
                  aria-label={`Edit queued message ${i + 1}`}
                  value={editing.text}
                  rows={2}
                  onInput={(e) => (actions.editing.value = { ...editing, text: e.currentTarget.value })}
                  // biome-ignore lint/a11y/noAutofocus: the person just asked to edit this message
                  autoFocus
                />
                <button type="submit">Save</button>
                <button type="button" onClick={() => actions.cancelEdit()}>
                  Cancel
                </button>
              </form>
            ) : (
              <>
                <span class="chip-text">{item.content}</span>
                <span class="chip-actions">
                  <button type="button" onClick={() => actions.startEdit(item.userMessageId, item.content)}>
                    Edit
                  </button>
                  <button type="button" onClick={() => void actions.removeQueued(item.userMessageId)}>
                    Remove
                  </button>
                  <button type="button" onClick={() => void actions.sendNow(item.userMessageId)}>
                    Send now
                  </button>
                </span>
              </>
            )}
          </li>
        ))}
      </ul>
      <ErrorLine text={actions.queueError.value} />
    </section>
  );
}

export function Composer({ state, actions }: { state: ChatState; actions: ChatActions }) {
  const area = useRef<HTMLTextAreaElement>(null);
  const running = state.streaming.value.length > 0;
  const draft = actions.draft.value;

  // The textarea grows with its text, up to a limit (then it scrolls).
  useLayoutEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 240)}px`;
  }, [draft]);

  const submit = (event: Event) => {
    event.preventDefault();
    void actions.send();
  };

  return (
    <div class="composer-wrap">
      <QueueChips state={state} actions={actions} />
      <form class="composer" onSubmit={submit}>
        <label for="composer" class="visually-hidden">
          Message
        </label>
        <textarea
          id="composer"
          ref={area}
          rows={1}
          placeholder={running ? "Queue a message for when this reply ends…" : "Message the agent…"}
          value={draft}
          aria-keyshortcuts="/"
          onInput={(e) => (actions.draft.value = e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              void actions.send();
            }
          }}
        />
        {running && (
          <button type="button" class="stop" onClick={() => void actions.stop()} aria-keyshortcuts="Escape">
            Stop
          </button>
        )}
        <button type="submit" class="primary" disabled={draft.trim() === "" || actions.sending.value}>
          {running ? "Queue" : "Send"}
        </button>
      </form>
      <ErrorLine text={actions.composerError.value} />
    </div>
  );
}
