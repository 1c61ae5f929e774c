/**
 * Creating a chat from anywhere (the sidebar button, the empty state, the shortcut): with the
 * user's default model and permission mode, then straight into it with the composer focused.
 */
import { signal } from "@preact/signals";
import { messageOf } from "../api/http";
import { chatList, drawerOpen, settings } from "../app";
import { chatPath, navigate } from "../models/router";

export const newChatError = signal<string | null>(null);
const creating = signal(false);

export async function newChat(): Promise<void> {
  if (creating.peek()) return;
  creating.value = true;
  newChatError.value = null;
  try {
    const { model, permissionMode } = settings.defaults.peek();
    const chat = await chatList.create({ model, permissionMode });
    drawerOpen.value = false;
    navigate(chatPath(chat.id));
    requestAnimationFrame(() => document.getElementById("composer")?.focus());
  } catch (error: unknown) {
    newChatError.value = messageOf(error);
  } finally {
    creating.value = false;
  }
}
