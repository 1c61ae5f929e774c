/**
 * The page's single instances, wired together: the stream store, the signed-in user, the chat
 * list, settings and UI state. Views import them; models stay constructible on their own for tests.
 */
import { signal } from "@preact/signals";
import { api } from "./api/client";
import { Auth } from "./models/auth";
import { chatActions, forgetChatActions } from "./models/chat-actions";
import { ChatList } from "./models/chat-list";
import { Settings } from "./models/settings";
import { StreamStore } from "./stream/store";
import { browserTransport } from "./stream/transport";

export const store = new StreamStore(api, browserTransport);
export const chatList = new ChatList(api, store);
export const settings = new Settings(api, typeof localStorage === "undefined" ? null : localStorage);
export const auth = new Auth(api, () => {
  store.clear();
  forgetChatActions();
  chatList.reset();
  settings.forUser(null);
});

// A chat that stopped streaming in the background: the list reads its state again once D1 has it.
store.onDisconnect = () => {
  setTimeout(() => void chatList.refresh(), 2_500);
};

export const actionsFor = (chatId: string) => chatActions(chatId, { api, store, list: chatList });

/** The chat list as a drawer on narrow screens. */
export const drawerOpen = signal(false);
/** Minutes tick for relative times ("3 min ago"). */
export const now = signal(Date.now());

export function startApp(): void {
  setInterval(() => {
    now.value = Date.now();
  }, 30_000);
  addEventListener("online", () => store.retryAll());
  auth.user.subscribe((user) => settings.forUser(user?.id ?? null));
}
