/**
 * The chat view's header: the title (rename in place), model and permission mode (changeable; the
 * next message uses them), "demo" when the offline demo model answers, the run state ("Working…"
 * with elapsed time and Stop) and the files panel switch.
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { snapshotText } from "../../../worker/protocol/snapshot";
import type { PermissionMode } from "../api/schemas";
import type { ChatActions } from "../models/chat-actions";
import type { ChatState } from "../models/chat-state";
import type { FilePanel } from "../models/files";
import { ErrorLine, MenuButton, ModelSuggestions, PermissionOptions } from "./bits";
import { elapsed } from "./format";

/** The offline demo model labels every reply; that is how the header knows to say "demo". */
const DEMO_LABEL = "[demo model]";

function RunState({ state, actions }: { state: ChatState; actions: ChatActions }) {
  const running = state.streaming.value[0];
  const tick = useSignal(Date.now());
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => (tick.value = Date.now()), 1000);
    return () => clearInterval(timer);
  }, [running]);
  if (!running) return null;
  const started = state.startedAt.get(running) ?? tick.value;
  return (
    <span class="run-state" role="status">
      <span class="spinner" aria-hidden="true" />
      Working… <span class="elapsed">{elapsed(tick.value - started)}</span>
      <button type="button" class="stop" onClick={() => void actions.stop()}>
        Stop
      </button>
    </span>
  );
}

function Title({ state, actions }: { state: ChatState; actions: ChatActions }) {
  const editing = useSignal(false);
  const text = useSignal("");
  const title = state.meta.value?.title ?? "";
  if (editing.value) {
    return (
      <form
        class="title-edit"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await actions.configure({ title: text.value })) editing.value = false;
        }}
      >
        <input
          aria-label="Chat title"
          value={text.value}
          maxLength={200}
          onInput={(e) => (text.value = e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Escape") editing.value = false;
          }}
          // biome-ignore lint/a11y/noAutofocus: the person just asked to rename
          autoFocus
        />
        <button type="submit">Save</button>
      </form>
    );
  }
  return (
    <h1 class="chat-title-h">
      <button
        type="button"
        class="title-button"
        title="Rename"
        aria-label={`${title} (rename)`}
        onClick={() => {
          text.value = title;
          editing.value = true;
        }}
      >
        {title}
      </button>
    </h1>
  );
}

function isDemo(state: ChatState): boolean {
  for (const id of state.timeline.value) {
    const s = state.message(id)?.peek();
    if (s?.role === "assistant" && snapshotText(s).startsWith(DEMO_LABEL)) return true;
  }
  return false;
}

export function ChatHeader({ state, actions, files }: { state: ChatState; actions: ChatActions; files: FilePanel }) {
  const meta = state.meta.value;
  const model = useSignal(meta?.model ?? "");
  useEffect(() => {
    model.value = meta?.model ?? "";
  }, [meta?.model]);
  return (
    <header class="chat-header">
      <div class="chat-header-row">
        <MenuButton />
        <Title state={state} actions={actions} />
        {isDemo(state) && (
          <span class="badge" title="Replies come from the offline demo model">
            demo
          </span>
        )}
        <RunState state={state} actions={actions} />
        <button
          type="button"
          class={`files-toggle${files.open.value ? " on" : ""}`}
          aria-pressed={files.open.value}
          aria-controls="files-panel"
          onClick={() => files.toggle()}
        >
          Files
        </button>
      </div>
      {meta && (
        <div class="chat-settings">
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              if (model.value.trim() !== meta.model) void actions.configure({ model: model.value.trim() });
            }}
          >
            <label>
              Model
              <input
                list="model-suggestions"
                value={model.value}
                size={18}
                onInput={(e) => (model.value = e.currentTarget.value)}
                onBlur={(e) => {
                  const next = e.currentTarget.value.trim();
                  if (next !== "" && next !== meta.model) void actions.configure({ model: next });
                }}
              />
            </label>
          </form>
          <ModelSuggestions id="model-suggestions" />
          <label>
            Permissions
            <select
              value={meta.permissionMode}
              onChange={(e) => void actions.configure({ permissionMode: e.currentTarget.value as PermissionMode })}
            >
              <PermissionOptions />
            </select>
          </label>
        </div>
      )}
      <ErrorLine text={actions.headerError.value} />
    </header>
  );
}
