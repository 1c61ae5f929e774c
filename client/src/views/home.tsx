/**
 * The start page: with no chats yet, a big "New chat" and how to try the demo model; otherwise a
 * pointer to the list (on wide screens the list is right beside it).
 */
import { chatList } from "../app";
import { MenuButton } from "./bits";
import { newChat, newChatError } from "./new-chat";

export function Home() {
  const none = chatList.loaded.value && chatList.items.value.length === 0;
  return (
    <main class="home" id="main">
      <MenuButton />
      <div class="empty-chat">
        <h1>{none ? "Start your first chat" : "Pick a chat, or start a new one"}</h1>
        <p>Each chat has its own sandbox where the agent reads, writes and runs code.</p>
        <button type="button" class="primary big" onClick={() => void newChat()}>
          + New chat
        </button>
        {newChatError.value && (
          <p class="error" role="alert">
            {newChatError.value}
          </p>
        )}
        <p class="muted">
          Try <code>$ ls</code> with the offline demo model: it runs the command in the sandbox and shows you the
          output.
        </p>
        <p class="muted small">
          Shortcuts: <kbd>Alt</kbd>+<kbd>Shift</kbd>+<kbd>N</kbd> new chat · <kbd>/</kbd> focus the message box ·{" "}
          <kbd>Esc</kbd> stop the reply
        </p>
      </div>
    </main>
  );
}
