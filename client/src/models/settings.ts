/**
 * The user's settings: the defaults a new chat starts with (model, permission mode) and API
 * tokens. Defaults live in this browser's storage, per user: the API has no place for them yet, and
 * a chat's own model and mode are stored with the chat. Tokens are the `/api/tokens` routes; a new
 * token's secret is held only until the person dismisses it.
 */
import { signal } from "@preact/signals";
import { z } from "zod";
import type { Api } from "../api/client";
import { messageOf } from "../api/http";
import { type ApiToken, type PermissionMode, permissionModeSchema } from "../api/schemas";

export const DEFAULT_MODEL = "claude-sonnet-4-5";
export const suggestedModels = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"] as const;

export type Defaults = { model: string; permissionMode: PermissionMode };
const fallback: Defaults = { model: DEFAULT_MODEL, permissionMode: "default" };
const defaultsSchema = z.object({
  model: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@[\]-]{0,99}$/),
  permissionMode: permissionModeSchema,
});

export const permissionModeLabels: Record<PermissionMode, string> = {
  default: "Ask before risky tools",
  acceptEdits: "Accept file edits",
  bypassPermissions: "Allow everything",
  plan: "Plan only",
};

type KeyValueStore = Pick<Storage, "getItem" | "setItem">;

export class Settings {
  readonly defaults = signal<Defaults>(fallback);
  readonly defaultsError = signal<string | null>(null);
  readonly defaultsSaved = signal(false);
  readonly tokens = signal<readonly ApiToken[]>([]);
  readonly tokensLoaded = signal(false);
  readonly tokenError = signal<string | null>(null);
  /** The secret of the token just created: shown once, then forgotten. */
  readonly newSecret = signal<{ name: string; secret: string } | null>(null);
  readonly #api: Pick<Api, "listTokens" | "createToken" | "revokeToken">;
  readonly #storage: KeyValueStore | null;
  #userId: string | null = null;

  constructor(api: Pick<Api, "listTokens" | "createToken" | "revokeToken">, storage: KeyValueStore | null) {
    this.#api = api;
    this.#storage = storage;
  }

  /** Reads this user's defaults (stored JSON is checked; anything off falls back). */
  forUser(userId: string | null): void {
    this.#userId = userId;
    this.tokens.value = [];
    this.tokensLoaded.value = false;
    this.newSecret.value = null;
    let stored: unknown = null;
    try {
      stored = userId ? JSON.parse(this.#storage?.getItem(this.#key(userId)) ?? "null") : null;
    } catch {
      stored = null;
    }
    const parsed = defaultsSchema.safeParse(stored);
    this.defaults.value = parsed.success ? parsed.data : fallback;
  }

  saveDefaults(next: Defaults): boolean {
    this.defaultsSaved.value = false;
    const parsed = defaultsSchema.safeParse({ ...next, model: next.model.trim() });
    if (!parsed.success) {
      this.defaultsError.value = "A model name has letters, digits and . _ : @ [ ] - only.";
      return false;
    }
    this.defaultsError.value = null;
    this.defaults.value = parsed.data;
    if (this.#userId) {
      try {
        this.#storage?.setItem(this.#key(this.#userId), JSON.stringify(parsed.data));
      } catch {
        this.defaultsError.value = "This browser would not store the defaults; they last until you reload.";
      }
    }
    this.defaultsSaved.value = true;
    return true;
  }

  async loadTokens(): Promise<void> {
    try {
      this.tokens.value = (await this.#api.listTokens()).tokens;
      this.tokensLoaded.value = true;
      this.tokenError.value = null;
    } catch (error: unknown) {
      this.tokenError.value = messageOf(error);
    }
  }

  async createToken(name: string): Promise<boolean> {
    this.tokenError.value = null;
    try {
      const created = await this.#api.createToken(name);
      this.newSecret.value = { name: created.token.name, secret: created.secret };
      this.tokens.value = [created.token, ...this.tokens.peek()];
      return true;
    } catch (error: unknown) {
      this.tokenError.value = messageOf(error);
      return false;
    }
  }

  async revokeToken(id: string): Promise<void> {
    this.tokenError.value = null;
    try {
      await this.#api.revokeToken(id);
      this.tokens.value = this.tokens.peek().filter((t) => t.id !== id);
    } catch (error: unknown) {
      this.tokenError.value = messageOf(error);
    }
  }

  dismissSecret(): void {
    this.newSecret.value = null;
  }

  #key(userId: string): string {
    return `agent-chat.defaults.${userId}`;
  }
}
