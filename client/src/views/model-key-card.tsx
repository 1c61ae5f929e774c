/**
 * Settings: the user's own Anthropic API key. Shows whether one is set and its last 4 characters;
 * set or replace it through a password input the page never reads into state (the model empties it
 * as the request leaves); remove it after a confirmation.
 */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { now } from "../app";
import { modelKey } from "../app-model-key";
import { relativeTime } from "./format";

function Current() {
  const view = modelKey.view.value;
  if (view === null) return <p class="muted small">Checking…</p>;
  if (!view.set) return <p class="key-state">No key of yours is set: runs use the service's key.</p>;
  return (
    <p class="key-state">
      Your key ending in <code class="last4">{view.last4}</code> is used for your runs (set{" "}
      {relativeTime(view.updatedAt, now.value)}).
    </p>
  );
}

export function ModelKeyCard() {
  const input = useRef<HTMLInputElement>(null);
  const confirming = useSignal(false);
  useEffect(() => {
    void modelKey.load();
  }, []);
  const view = modelKey.view.value;
  const busy = modelKey.busy.value;
  return (
    <section class="card" aria-labelledby="model-key-h">
      <h2 id="model-key-h">Your model key</h2>
      <p class="muted small">
        Your own Anthropic API key, for your chats' and schedules' runs. It is stored encrypted and never shown again:
        only its last 4 characters.
      </p>
      <Current />
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (input.current) void modelKey.save(input.current);
        }}
      >
        <label>
          {view?.set ? "New key" : "Key"}
          <input
            ref={input}
            type="password"
            name="model-key"
            autoComplete="off"
            spellcheck={false}
            placeholder="sk-ant-…"
            aria-describedby={modelKey.error.value ? "model-key-error" : undefined}
          />
        </label>
        <button type="submit" class="primary" disabled={busy !== null}>
          {busy === "save" ? "Saving…" : view?.set ? "Replace key" : "Save key"}
        </button>
      </form>
      {view?.set &&
        (confirming.value ? (
          <div class="actions confirm">
            <span>Remove the key ending in {view.last4}?</span>
            <button
              type="button"
              class="danger"
              disabled={busy !== null}
              onClick={async () => {
                if (await modelKey.remove()) confirming.value = false;
              }}
            >
              {busy === "remove" ? "Removing…" : "Remove"}
            </button>
            <button type="button" onClick={() => (confirming.value = false)}>
              Keep
            </button>
          </div>
        ) : (
          <p>
            <button type="button" class="danger" onClick={() => (confirming.value = true)}>
              Remove key
            </button>
          </p>
        ))}
      {modelKey.notice.value && (
        <p class="small" role="status">
          {modelKey.notice.value}
        </p>
      )}
      {modelKey.error.value && (
        <p id="model-key-error" class="error small" role="alert">
          {modelKey.error.value}
        </p>
      )}
    </section>
  );
}
