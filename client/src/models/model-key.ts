/**
 * The user's own model key in settings: whether one is set and its last 4 characters, set or
 * replace, remove. The key itself is never held here: `save` reads it from the input it is given,
 * empties that input as soon as the request is on its way, and keeps nothing but the answer (which
 * carries only the last 4). No signal, storage or log line ever sees the key.
 */
import { signal } from "@preact/signals";
import { ApiError, messageOf } from "../api/http";
import type { ModelKeyApi, ModelKeyView } from "../api/model-key";

/** The password input the key is typed into (an `HTMLInputElement` in the page). */
export type SecretField = { value: string };

export class ModelKeySettings {
  /** What the server says is stored; null until loaded. */
  readonly view = signal<ModelKeyView | null>(null);
  readonly error = signal<string | null>(null);
  readonly busy = signal<"save" | "remove" | null>(null);
  /** A short confirmation of the last change ("Saved…", "Removed…"). */
  readonly notice = signal<string | null>(null);
  readonly #api: Pick<ModelKeyApi, "getModelKey" | "putModelKey" | "deleteModelKey">;

  constructor(api: Pick<ModelKeyApi, "getModelKey" | "putModelKey" | "deleteModelKey">) {
    this.#api = api;
  }

  async load(): Promise<void> {
    try {
      this.view.value = (await this.#api.getModelKey()).modelKey;
      this.error.value = null;
    } catch (error: unknown) {
      this.error.value = messageOf(error);
    }
  }

  /** Stores the key typed into `field` and empties the field, whatever the answer. */
  async save(field: SecretField): Promise<boolean> {
    if (this.busy.peek()) return false;
    this.notice.value = null;
    if (field.value.trim() === "") {
      this.error.value = "Paste your Anthropic API key first.";
      return false;
    }
    this.busy.value = "save";
    this.error.value = null;
    // The request takes the key; from here on only the request holds it.
    const sent = this.#api.putModelKey(field.value);
    field.value = "";
    try {
      const { modelKey } = await sent;
      this.view.value = modelKey;
      this.notice.value = modelKey.set ? `Saved. Your runs use the key ending in ${modelKey.last4}.` : null;
      return true;
    } catch (error: unknown) {
      // The field is empty now, whatever the answer: a refused key has to be pasted again.
      this.error.value =
        error instanceof ApiError && error.status === 400
          ? `${messageOf(error).replace(/\.?$/, ".")} Paste the key again.`
          : messageOf(error);
      return false;
    } finally {
      this.busy.value = null;
    }
  }

  async remove(): Promise<boolean> {
    if (this.busy.peek()) return false;
    this.busy.value = "remove";
    this.error.value = null;
    this.notice.value = null;
    try {
      await this.#api.deleteModelKey();
      this.view.value = { set: false };
      this.notice.value = "Removed. Your runs no longer use your own key.";
      return true;
    } catch (error: unknown) {
      this.error.value = messageOf(error);
      return false;
    } finally {
      this.busy.value = null;
    }
  }

  /** Forgets what was shown (another user signed in). */
  reset(): void {
    this.view.value = null;
    this.error.value = null;
    this.notice.value = null;
  }
}
