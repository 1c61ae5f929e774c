/**
 * Settings: the defaults new chats start with (model, permission mode; kept in this browser per
 * account), the user's own model key, and API tokens for scripts (create: the secret shown once
 * with a copy button; list; revoke).
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { PermissionMode } from "../api/schemas";
import { now, settings } from "../app";
import { ErrorLine, MenuButton, ModelSuggestions, PermissionOptions } from "./bits";
import { relativeTime } from "./format";
import { ModelKeyCard } from "./model-key-card";

function Defaults() {
  const current = settings.defaults.value;
  const model = useSignal(current.model);
  const mode = useSignal<PermissionMode>(current.permissionMode);
  useEffect(() => {
    model.value = current.model;
    mode.value = current.permissionMode;
  }, [current]);
  return (
    <section class="card" aria-labelledby="defaults-h">
      <h2 id="defaults-h">New chats</h2>
      <p class="muted small">
        New chats start with these; each chat can change its own in its header. Kept in this browser.
      </p>
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          settings.saveDefaults({ model: model.value, permissionMode: mode.value });
        }}
      >
        <label>
          Default model
          <input
            list="settings-models"
            value={model.value}
            onInput={(e) => {
              model.value = e.currentTarget.value;
              settings.defaultsSaved.value = false;
            }}
          />
        </label>
        <ModelSuggestions id="settings-models" />
        <label>
          Default permission mode
          <select
            value={mode.value}
            onChange={(e) => {
              mode.value = e.currentTarget.value as PermissionMode;
              settings.defaultsSaved.value = false;
            }}
          >
            <PermissionOptions />
          </select>
        </label>
        <div>
          <button type="submit" class="primary">
            Save defaults
          </button>{" "}
          {settings.defaultsSaved.value && <span role="status">Saved.</span>}
        </div>
        <ErrorLine text={settings.defaultsError.value} />
      </form>
    </section>
  );
}

function NewSecret() {
  const secret = settings.newSecret.value;
  const copied = useSignal(false);
  if (!secret) return null;
  return (
    <div class="secret">
      <p>
        <strong>Copy the token “{secret.name}” now.</strong> It is shown only this once.
      </p>
      <div class="secret-row">
        <code class="secret-value">{secret.secret}</code>
        <button
          type="button"
          onClick={() =>
            void navigator.clipboard?.writeText(secret.secret).then(() => {
              copied.value = true;
            })
          }
        >
          {copied.value ? "Copied" : "Copy"}
        </button>
        <button type="button" onClick={() => settings.dismissSecret()}>
          Done
        </button>
      </div>
      <p class="muted small">
        Use it as <code>Authorization: Bearer &lt;token&gt;</code> on any API route.
      </p>
    </div>
  );
}

function Tokens() {
  const name = useSignal("");
  useEffect(() => {
    void settings.loadTokens();
  }, []);
  const tokens = settings.tokens.value;
  return (
    <section class="card" aria-labelledby="tokens-h">
      <h2 id="tokens-h">API tokens</h2>
      <p class="muted small">For scripts that use the API as you.</p>
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await settings.createToken(name.value)) name.value = "";
        }}
      >
        <label>
          Token name
          <input value={name.value} maxLength={100} required onInput={(e) => (name.value = e.currentTarget.value)} />
        </label>
        <button type="submit">Create token</button>
      </form>
      <NewSecret />
      <ErrorLine text={settings.tokenError.value} />
      {settings.tokensLoaded.value && tokens.length === 0 && <p class="muted small">No tokens yet.</p>}
      {tokens.length > 0 && (
        <table class="tokens">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td>{relativeTime(t.createdAt, now.value)}</td>
                <td>{t.lastUsedAt ? relativeTime(t.lastUsedAt, now.value) : "never"}</td>
                <td>
                  <button type="button" class="danger" onClick={() => void settings.revokeToken(t.id)}>
                    Revoke<span class="visually-hidden"> {t.name}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function SettingsPage() {
  return (
    <main class="settings" id="main">
      <MenuButton />
      <h1>Settings</h1>
      <Defaults />
      <ModelKeyCard />
      <Tokens />
    </main>
  );
}
