/**
 * What a person does in a chat: send (or queue), stop, edit/remove/send-now a queued message,
 * answer a permission prompt, retry a failed reply, rename and reconfigure. Each action keeps its
 * error next to where it was taken (composer, queue, header, a prompt card) in signals the chat
 * view renders. One instance per chat, kept by `chatActions(chatId)`.
 */
import { signal } from "@preact/signals";
import type { Api, ChatSettings } from "../api/client";
import { messageOf } from "../api/http";
import type { StreamStore } from "../stream/store";
import type { ChatList } from "./chat-list";

/** The title the API gives a chat created without one. */
export const DEFAULT_TITLE = "New chat";

function titleFrom(text: string): string {
  const line = text.trim().split("\n")[0]?.trim() ?? "";
  return line.length > 60 ? `${line.slice(0, 57)}…` : line || DEFAULT_TITLE;
}

export type ActionDeps = {
  api: Pick<Api, "send" | "cancel" | "editQueued" | "removeQueued" | "sendNow" | "answerPermission">;
  store: StreamStore;
  list: Pick<ChatList, "update" | "refresh" | "items">;
};

export class ChatActions {
  readonly chatId: string;
  /** The composer's text, kept per chat while switching between chats. */
  readonly draft = signal("");
  readonly sending = signal(false);
  readonly composerError = signal<string | null>(null);
  readonly queueError = signal<string | null>(null);
  readonly headerError = signal<string | null>(null);
  /** Errors of permission answers, by request id. */
  readonly permissionErrors = signal<Readonly<Record<string, string>>>({});
  /** Permission answers on their way (buttons disabled meanwhile). */
  readonly answering = signal<ReadonlySet<string>>(new Set());
  /** The queued message being edited, and its text. */
  readonly editing = signal<{ userMessageId: string; text: string } | null>(null);
  readonly #d: ActionDeps;

  constructor(chatId: string, deps: ActionDeps) {
    this.chatId = chatId;
    this.#d = deps;
  }

  /** Sends the draft (or `content`): it starts, or queues behind the running message. */
  async send(content?: string, mode?: "queue" | "now"): Promise<boolean> {
    const fromDraft = content === undefined;
    const text = content ?? this.draft.peek();
    if (text.trim() === "" || this.sending.peek()) return false;
    this.sending.value = true;
    this.composerError.value = null;
    try {
      const state = this.#d.store.peek(this.chatId);
      // The chat's own record, or (sent before it loaded) its row in the list.
      const title = state?.meta.peek()?.title ?? this.#d.list.items.peek().find((c) => c.id === this.chatId)?.title;
      const untitled = title === DEFAULT_TITLE && (state?.timeline.peek().length ?? 0) === 0;
      const sent = await this.#d.api.send(this.chatId, text, mode);
      this.#d.store.expect(this.chatId, sent.assistantMessageId);
      // A chat still called "New chat" takes its first message as its title.
      if (untitled) void this.configure({ title: titleFrom(text) });
      if (fromDraft && this.draft.peek() === text) this.draft.value = "";
      void this.#d.list.refresh();
      return true;
    } catch (error: unknown) {
      this.composerError.value = messageOf(error);
      return false;
    } finally {
      this.sending.value = false;
    }
  }

  /** Sends the prompt of a failed reply again. */
  retry(prompt: string): Promise<boolean> {
    return this.send(prompt);
  }

  async stop(): Promise<void> {
    this.composerError.value = null;
    try {
      await this.#d.api.cancel(this.chatId);
    } catch (error: unknown) {
      this.composerError.value = messageOf(error);
    }
  }

  startEdit(userMessageId: string, text: string): void {
    this.editing.value = { userMessageId, text };
  }

  cancelEdit(): void {
    this.editing.value = null;
  }

  async saveEdit(): Promise<void> {
    const editing = this.editing.peek();
    if (!editing) return;
    if (await this.#queueAction(() => this.#d.api.editQueued(this.chatId, editing.userMessageId, editing.text))) {
      this.editing.value = null;
    }
  }

  removeQueued(userMessageId: string): Promise<boolean> {
    return this.#queueAction(() => this.#d.api.removeQueued(this.chatId, userMessageId));
  }

  sendNow(userMessageId: string): Promise<boolean> {
    return this.#queueAction(() => this.#d.api.sendNow(this.chatId, userMessageId));
  }

  async answer(requestId: string, decision: "allow" | "deny"): Promise<void> {
    if (this.answering.peek().has(requestId)) return;
    this.answering.value = new Set([...this.answering.peek(), requestId]);
    const { [requestId]: _, ...rest } = this.permissionErrors.peek();
    this.permissionErrors.value = rest;
    try {
      await this.#d.api.answerPermission(this.chatId, requestId, decision);
    } catch (error: unknown) {
      this.permissionErrors.value = { ...this.permissionErrors.peek(), [requestId]: messageOf(error) };
    } finally {
      const next = new Set(this.answering.peek());
      next.delete(requestId);
      this.answering.value = next;
    }
  }

  async configure(patch: ChatSettings): Promise<boolean> {
    this.headerError.value = null;
    try {
      await this.#d.list.update(this.chatId, patch);
      return true;
    } catch (error: unknown) {
      this.headerError.value = messageOf(error);
      return false;
    }
  }

  async #queueAction(action: () => Promise<unknown>): Promise<boolean> {
    this.queueError.value = null;
    try {
      await action();
      return true;
    } catch (error: unknown) {
      this.queueError.value = messageOf(error);
      return false;
    }
  }
}

const instances = new Map<string, ChatActions>();

export function chatActions(chatId: string, deps: ActionDeps): ChatActions {
  let actions = instances.get(chatId);
  if (!actions) {
    actions = new ChatActions(chatId, deps);
    instances.set(chatId, actions);
  }
  return actions;
}

export function forgetChatActions(): void {
  instances.clear();
}
