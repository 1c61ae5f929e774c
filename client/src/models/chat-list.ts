/**
 * The chat list: pages from `GET /api/chats` (newest first), refreshed while the page is visible,
 * plus create, rename and delete. A row's live state comes from the stream store when this page
 * already streams that chat, otherwise from the list API's `activity`; the list never opens a
 * stream itself.
 */
import type { Api, ChatSettings } from "../api/client";
import type { Activity, Chat, ChatSummary } from "../api/schemas";
import type { StreamStore } from "../stream/store";
import { PagedList } from "./paged-list";

export type RowState = { streaming: boolean; queued: number; failed: boolean; lastActivityAt: number };

const PAGE = 30;
const REFRESH_MS = 10_000;
/** D1 trails the live log by about a second: a list read this soon after a stream closed may be older. */
const D1_LAG_MS = 2_000;
const idle: Activity = { streaming: false, queued: 0, lastRun: null, lastMessageAt: null };

export class ChatList extends PagedList<ChatSummary> {
  readonly #api: Pick<Api, "listChats" | "createChat" | "updateChat" | "deleteChat">;
  readonly #store: StreamStore;

  constructor(api: Pick<Api, "listChats" | "createChat" | "updateChat" | "deleteChat">, store: StreamStore) {
    super(async (cursor, limit) => {
      const page = await api.listChats(cursor, limit);
      return { items: page.chats, nextCursor: page.nextCursor };
    }, PAGE);
    this.#api = api;
    this.#store = store;
  }

  async create(settings: ChatSettings): Promise<Chat> {
    const { chat } = await this.#api.createChat(settings);
    this.invalidate();
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
    this.invalidate();
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
      (connection === "idle" && (state?.disconnectedAt ?? 0) > this.refreshedAt - D1_LAG_MS);
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
