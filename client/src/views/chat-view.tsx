/**
 * The chat view: asks the stream store for the chat while it is shown (the store owns the
 * connection), then renders the header, a quiet connection line, the timeline, the composer and
 * the files panel. A live region announces a finished or failed reply, never each token.
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { api } from "../api/client";
import { actionsFor, store } from "../app";
import { lazy } from "../lib/lazy";
import type { ChatState } from "../models/chat-state";
import { filePanel } from "../models/files";
import { ChatHeader } from "./chat-header";
import { Composer } from "./composer";
import { Link } from "./link";
import { MessageList } from "./message-list";

const FilesPanel = lazy(() => import("./files-panel").then((m) => m.FilesPanel));

function ConnectionLine({ state }: { state: ChatState }) {
  const status = state.connection.value;
  // "Connecting" only once it takes long enough to notice.
  const slow = useSignal(false);
  useEffect(() => {
    slow.value = false;
    if (status !== "connecting" && status !== "loading") return;
    const timer = setTimeout(() => (slow.value = true), 800);
    return () => clearTimeout(timer);
  }, [status]);
  if (status === "reconnecting") {
    return (
      <p class="conn-line" role="status">
        Reconnecting…
      </p>
    );
  }
  if ((status === "connecting" || status === "loading") && slow.value) {
    return (
      <p class="conn-line" role="status">
        Connecting…
      </p>
    );
  }
  return null;
}

function Announcer({ state }: { state: ChatState }) {
  const finished = state.finished.value;
  const text = !finished
    ? ""
    : finished.status === "completed"
      ? "The reply is finished."
      : finished.status === "failed"
        ? `The reply failed: ${state.message(finished.messageId)?.peek().error?.message ?? "an error"}`
        : "The reply was stopped.";
  return (
    <div class="visually-hidden" aria-live="polite" role="status">
      {text}
    </div>
  );
}

function EmptyChat() {
  return (
    <div class="empty-chat">
      <h2>What should the agent do?</h2>
      <p>
        It works in this chat's own sandbox: it can read and write files there and run commands. Ask it to scaffold a
        project, fix a failing test, or explain some code.
      </p>
      <p class="muted">
        With the offline demo model, start a line with <code>$ </code> to have it run a command, e.g.{" "}
        <code>$ ls -la</code>.
      </p>
    </div>
  );
}

export function ChatView({ chatId }: { chatId: string }) {
  const chat = useChat(chatId);
  const actions = actionsFor(chatId);
  const files = filePanel(chatId, api);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape" || !chat.streaming.peek().length) return;
      const focused = document.activeElement;
      if (focused && !focused.closest(".chat-main")) return;
      e.preventDefault();
      void actions.stop();
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [chat, actions]);

  const status = chat.connection.value;
  if (status === "gone") {
    return (
      <main class="chat-main" id="main">
        <div class="empty-chat">
          <h2>This chat does not exist</h2>
          <p>
            It may have been deleted. <Link href="/">Back to your chats</Link>
          </p>
        </div>
      </main>
    );
  }
  return (
    <>
      <main class="chat-main" id="main" aria-label={chat.meta.value?.title ?? "Chat"}>
        <ChatHeader state={chat} actions={actions} files={files} />
        <ConnectionLine state={chat} />
        {status === "error" && (
          <p class="error center" role="alert">
            {chat.error.value}{" "}
            <button type="button" onClick={() => store.reload(chatId)}>
              Try again
            </button>
          </p>
        )}
        <MessageList state={chat} actions={actions} empty={<EmptyChat />} />
        <Announcer state={chat} />
        <Composer state={chat} actions={actions} />
      </main>
      {files.open.value && <FilesPanel panel={files} />}
    </>
  );
}

/** Holds the chat in the store while this view shows it (released on leaving or switching). */
function useChat(chatId: string): ChatState {
  useEffect(() => {
    store.open(chatId);
    return () => store.release(chatId);
  }, [chatId]);
  return store.stateOf(chatId);
}
