/**
 * The chat list beside the chat (a drawer on narrow screens): new chat, one row per chat with its
 * live state, rename and delete in place, more on demand, and the main navigation.
 */
import { useSignal } from "@preact/signals";
import { messageOf } from "../api/http";
import type { ChatSummary } from "../api/schemas";
import { auth, chatList, drawerOpen, now } from "../app";
import { chatPath, navItems, navigate, route, sectionOf } from "../models/router";
import { ErrorLine } from "./bits";
import { relativeTime } from "./format";
import { Link } from "./link";
import { newChat, newChatError } from "./new-chat";

function StateMark({ chat }: { chat: ChatSummary }) {
  const state = chatList.rowState(chat);
  return (
    <span class="marks">
      {state.streaming && (
        <span class="mark streaming" title="A reply is streaming">
          <span class="dot" aria-hidden="true" />
          streaming
        </span>
      )}
      {state.queued > 0 && <span class="mark queued">queued {state.queued}</span>}
      {state.failed && !state.streaming && <span class="mark failed">failed</span>}
    </span>
  );
}

function ChatRow({ chat }: { chat: ChatSummary }) {
  const mode = useSignal<"view" | "rename" | "delete">("view");
  const title = useSignal(chat.title);
  const error = useSignal<string | null>(null);
  const current = route.value.name === "chat" && route.value.chatId === chat.id;
  const rename = async (event: Event) => {
    event.preventDefault();
    try {
      await chatList.update(chat.id, { title: title.value });
      mode.value = "view";
      error.value = null;
    } catch (e: unknown) {
      error.value = messageOf(e);
    }
  };
  const remove = async () => {
    try {
      await chatList.remove(chat.id);
      if (current) navigate("/", { replace: true });
    } catch (e: unknown) {
      error.value = messageOf(e);
      mode.value = "view";
    }
  };
  const state = chatList.rowState(chat);
  return (
    <li class={`chat-row${current ? " current" : ""}`} data-chat-id={chat.id}>
      {mode.value === "rename" ? (
        <form class="row-form" onSubmit={rename}>
          <input
            aria-label="New title"
            value={title.value}
            onInput={(e) => (title.value = e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Escape") mode.value = "view";
            }}
            maxLength={200}
            // biome-ignore lint/a11y/noAutofocus: the person just asked to rename this row
            autoFocus
          />
          <button type="submit">Save</button>
          <button type="button" onClick={() => (mode.value = "view")}>
            Cancel
          </button>
        </form>
      ) : mode.value === "delete" ? (
        <div class="row-form">
          <span>Delete “{chat.title}”?</span>
          <button type="button" class="danger" onClick={remove}>
            Delete
          </button>
          <button type="button" onClick={() => (mode.value = "view")}>
            Keep
          </button>
        </div>
      ) : (
        <>
          <Link
            href={chatPath(chat.id)}
            class="chat-link"
            aria-current={current ? "page" : undefined}
            onClick={() => (drawerOpen.value = false)}
          >
            <span class="chat-title">{chat.title}</span>
            <span class="chat-meta">
              <time dateTime={new Date(state.lastActivityAt).toISOString()}>
                {relativeTime(state.lastActivityAt, now.value)}
              </time>
              <StateMark chat={chat} />
            </span>
          </Link>
          <span class="row-actions">
            <button
              type="button"
              class="icon"
              aria-label={`Rename ${chat.title}`}
              title="Rename"
              onClick={() => {
                title.value = chat.title;
                mode.value = "rename";
              }}
            >
              ✎
            </button>
            <button
              type="button"
              class="icon"
              aria-label={`Delete ${chat.title}`}
              title="Delete"
              onClick={() => (mode.value = "delete")}
            >
              ✕
            </button>
          </span>
        </>
      )}
      <ErrorLine text={error.value} />
    </li>
  );
}

export function Sidebar() {
  const items = chatList.items.value;
  return (
    <nav class={`sidebar${drawerOpen.value ? " open" : ""}`} aria-label="Chats and settings" id="sidebar">
      <div class="sidebar-head">
        <span class="brand">Agent Chat</span>
        <button type="button" class="primary" onClick={() => void newChat()} aria-keyshortcuts="Alt+Shift+N">
          + New chat
        </button>
      </div>
      <ErrorLine text={newChatError.value} />
      <ErrorLine text={chatList.error.value} />
      <div class="chat-scroll">
        <ul class="chat-list" aria-label="Your chats">
          {items.map((chat) => (
            <ChatRow key={chat.id} chat={chat} />
          ))}
        </ul>
        {chatList.loaded.value && items.length === 0 && <p class="muted small pad">No chats yet.</p>}
        {chatList.nextCursor.value && (
          <button type="button" class="more" onClick={() => void chatList.loadMore()} disabled={chatList.loading.value}>
            {chatList.loading.value ? "Loading…" : "Show more chats"}
          </button>
        )}
      </div>
      <div class="sidebar-foot">
        {navItems
          .filter((item) => item.route !== "home")
          .map((item) => (
            <Link
              key={item.href}
              href={item.href}
              aria-current={sectionOf(route.value) === item.route ? "page" : undefined}
              onClick={() => (drawerOpen.value = false)}
            >
              {item.label}
            </Link>
          ))}
        <span class="who" title={auth.user.value?.email}>
          {auth.user.value?.email}
        </span>
        <button type="button" class="link" onClick={() => void auth.logOut().then(() => navigate("/login"))}>
          Log out
        </button>
      </div>
    </nav>
  );
}
