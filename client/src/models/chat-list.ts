/**
 * The chat list: pages from `GET /api/chats` (newest first), refreshed while the page is visible,
 * plus create, rename and delete. A row's live state comes from the stream store when this page
 * already streams that chat, otherwise from the list API's `activity`; the list never opens a
 * stream itself.
 */
import { signal } from "@preact/signals";
import type { Api, ChatSettings } from "../api/client";
import { messageOf } from "../api/http";
import type { Activity, Chat, ChatSummary } from "../api/schemas";
import type { StreamStore } from "../stream/store";

export type RowState = { streaming: boolean; queued: number; failed: boolean; lastActivityAt: number };

const PAGE = 30;
const REFRESH_MS = 10_000;
/** D1 trails the live log by about a second: a list read this soon after a stream closed may be older. */
const D1_LAG_MS = 2_000;
const idle: Activity = { streaming: false, queued: 0, lastRun: null, lastMessageAt: null };

export class ChatList {
  readonly items = signal<readonly ChatSummary[]>([]);
  readonly nextCursor = signal<string | null>(null);
  readonly loaded = signal(false);
  readonly loading = signal(false);
  readonly error = signal<string | null>(null);
  readonly #api: Pick<Api, "listChats" | "createChat" | "updateChat" | "deleteChat">;
  readonly #store: StreamStore;
  #generation = 0;
  /** When the list shown now was requested. */
  #refreshedAt = 0;

  constructor(api: Pick<Api, "listChats" | "createChat" | "updateChat" | "deleteChat">, store: StreamStore) {
    this.#api = api;
    this.#store = store;
  }

  /** Reloads the first pages (as many rows as are shown now), replacing the list. */
  async refresh(): Promise<void> {
    const generation = ++this.#generation;
    const limit = Math.min(100, Math.max(PAGE, this.items.peek().length));
    const startedAt = Date.now();
    try {
      const page = await this.#api.listChats(null, limit);
      if (generation !== this.#generation) return;
      this.#refreshedAt = startedAt;
      this.items.value = page.chats;
      this.nextCursor.value = page.nextCursor;
      this.loaded.value = true;
      this.error.value = null;
    } catch (error: unknown) {
      if (generation === this.#generation) this.error.value = messageOf(error);
    }
  }

  async loadMore(): Promise<void> {
    const cursor = this.nextCursor.peek();
    if (!cursor || this.loading.peek()) return;
    this.loading.value = true;
    const generation = this.#generation;
    try {
      const page = await this.#api.listChats(cursor, PAGE);
      if (generation !== this.#generation) return;
      const known = new Set(this.items.peek().map((c) => c.id));
      this.items.value = [...this.items.peek(), ...page.chats.filter((c) => !known.has(c.id))];
      this.nextCursor.value = page.nextCursor;
    } catch (error: unknown) {
      this.error.value = messageOf(error);
    } finally {
      this.loading.value = false;
    }
  }

  async create(settings: ChatSettings): Promise<Chat> {
    const { chat } = await this.#api.createChat(settings);
    this.#generation++;
    this.items.value = [{ ...chat, activity: idle }, ...this.items.peek().filter((c) => c.id !== chat.id)];
    return chat;
  }

  async update(chatId: string, patch: ChatSettings): Promise<Chat> {
    const { chat } = await this.#api.updateChat(chatId, patch);
    this.updated(chat);
    return chat;
  }

  /** A chat changed elsewhere (its view renamed it): keep the row in step. */
  updated(chat: Chat): void {
    this.items.value = this.items.peek().map((c) => (c.id === chat.id ? { ...c, ...chat } : c));
    const state = this.#store.peek(chat.id);
    if (state) state.meta.value = chat;
  }

  async remove(chatId: string): Promise<void> {
    await this.#api.deleteChat(chatId);
    this.#generation++;
    this.items.value = this.items.peek().filter((c) => c.id !== chatId);
    this.#store.forget(chatId);
  }

  /**
   * What a row shows: this page's stream of the chat while it has one (or had one more recently
   * than the list was read, give or take D1's lag), else the list API's activity.
   */
  rowState(chat: ChatSummary): RowState {
    const state = this.#store.peek(chat.id);
    const lastActivityAt = Math.max(chat.updatedAt, chat.activity.lastMessageAt ?? 0);
    const connection = state?.connection.value;
    const streamed =
      connection === "live" ||
      connection === "reconnecting" ||
      (connection === "idle" && (state?.disconnectedAt ?? 0) > this.#refreshedAt - D1_LAG_MS);
    if (state?.loaded.value && streamed) {
      return {
        streaming: state.streaming.value.length > 0,
        queued: state.queue.value.length,
        failed: state.lastRun.value?.status === "failed",
        lastActivityAt,
      };
    }
    return {
      streaming: chat.activity.streaming,
      queued: chat.activity.queued,
      failed: chat.activity.lastRun === "failed",
      lastActivityAt,
    };
  }

  /** Refreshes every 10 s while the page is visible, and at once when it becomes visible again. */
  autoRefresh(doc: Pick<Document, "visibilityState" | "addEventListener" | "removeEventListener">): () => void {
    const tick = () => {
      if (doc.visibilityState === "visible") void this.refresh();
    };
    const timer = setInterval(tick, REFRESH_MS);
    doc.addEventListener("visibilitychange", tick);
    return () => {
      clearInterval(timer);
      doc.removeEventListener("visibilitychange", tick);
    };
  }
}
