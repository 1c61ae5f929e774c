/**
 * The signed-in user: loaded once from `/api/auth/me`, set by log-in and sign-up, cleared by
 * log-out or by any 401 (the session expired or was revoked elsewhere). `undefined` while unknown.
 */
import { signal } from "@preact/signals";
import type { Api } from "../api/client";
import { messageOf, onUnauthorized } from "../api/http";
import type { User } from "../api/schemas";

export class Auth {
  readonly user = signal<User | null | undefined>(undefined);
  readonly error = signal<string | null>(null);
  readonly busy = signal(false);
  readonly #api: Pick<Api, "me" | "logIn" | "signUp" | "logOut">;
  readonly #signedOut: () => void;

  /** `signedOut` runs whenever the session ends (close streams, drop cached chats). */
  constructor(api: Pick<Api, "me" | "logIn" | "signUp" | "logOut">, signedOut: () => void) {
    this.#api = api;
    this.#signedOut = signedOut;
    onUnauthorized(() => {
      if (this.user.peek()) this.#clear();
    });
  }

  async load(): Promise<void> {
    try {
      this.user.value = (await this.#api.me()).user;
    } catch {
      this.user.value = null;
    }
  }

  logIn(email: string, password: string): Promise<boolean> {
    return this.#enter(() => this.#api.logIn(email, password));
  }

  signUp(email: string, password: string): Promise<boolean> {
    return this.#enter(() => this.#api.signUp(email, password));
  }

  async logOut(): Promise<void> {
    try {
      await this.#api.logOut();
    } finally {
      this.#clear();
    }
  }

  async #enter(call: () => Promise<{ user: User }>): Promise<boolean> {
    if (this.busy.peek()) return false;
    this.busy.value = true;
    this.error.value = null;
    try {
      this.user.value = (await call()).user;
      return true;
    } catch (error: unknown) {
      this.error.value = messageOf(error);
      return false;
    } finally {
      this.busy.value = false;
    }
  }

  #clear(): void {
    this.user.value = null;
    this.#signedOut();
  }
}
