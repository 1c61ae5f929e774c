/**
 * The one store of chat streams in the page. Per chat: its state, at most one connection, and who
 * wants it. Views `open` the chat they show and `release` it when they leave; a chat stays
 * connected while shown or while it is busy (a run streams, messages wait, a sent message has not
 * finished), and chats that are only listed get no connection at all. No component opens a socket.
 */
import { signal } from "@preact/signals";
import type { ServerFrame } from "../../../worker/protocol/frames";
import { ApiError, messageOf } from "../api/http";
import type { ChatDetail } from "../api/schemas";
import { type ApplyOutcome, ChatState } from "../models/chat-state";
import { Connection } from "./connection";
import type { TimerId, Transport } from "./transport";

export type StoreApi = { getChat(chatId: string): Promise<ChatDetail> };

type Session = {
  state: ChatState;
  retain: number;
  connection: Connection | null;
  /** The last connection's close while under way; the next one waits for it. */
  closing: Promise<void> | null;
  /** A disconnect waiting out the linger time (a quick return keeps the connection). */
  linger: TimerId | null;
  loading: boolean;
  usedAt: number;
  stopWatching: () => void;
};

/** Idle chats kept in memory (state and cursor) so switching back needs no reload. */
const MAX_CACHED = 30;
/** A chat whose view left keeps its connection this long, so flipping back and forth reuses it. */
export const LINGER_MS = 3_000;

export class StreamStore {
  readonly #api: StoreApi;
  readonly #transport: Transport;
  readonly #sessions = new Map<string, Session>();
  #clock = 0;
  /** How many connections are open right now (diagnostics and tests). */
  readonly openConnections = signal(0);
  /** Called when a chat stops streaming (its view left and its runs ended). */
  onDisconnect: (chatId: string) => void = () => {};

  constructor(api: StoreApi, transport: Transport) {
    this.#api = api;
    this.#transport = transport;
  }

  /** The view shows this chat: load it if needed and keep it connected. */
  open(chatId: string): ChatState {
    const session = this.#session(chatId);
    session.retain++;
    session.usedAt = ++this.#clock;
    this.#settle(session);
    return session.state;
  }

  /** Starts loading a chat about to be shown (page start: in parallel with the session check). */
  prefetch(chatId: string): void {
    const session = this.#session(chatId);
    if (!session.state.loaded.peek()) this.#load(session);
  }

  /** The view no longer shows it: disconnect unless something is still running there. */
  release(chatId: string): void {
    const session = this.#sessions.get(chatId);
    if (!session) return;
    session.retain = Math.max(0, session.retain - 1);
    this.#settle(session);
    this.#evict();
  }

  /** The chat's state, created empty if needed; nothing is loaded or opened until `open`. */
  stateOf(chatId: string): ChatState {
    return this.#session(chatId).state;
  }

  /** The chat's state if this page holds it (listed-only chats have none). */
  peek(chatId: string): ChatState | undefined {
    return this.#sessions.get(chatId)?.state;
  }

  isConnected(chatId: string): boolean {
    return this.#sessions.get(chatId)?.connection != null;
  }

  /** A message was sent from here: keep the chat connected until that reply finishes. */
  expect(chatId: string, assistantMessageId: string): void {
    const session = this.#session(chatId);
    session.state.expect(assistantMessageId);
    this.#settle(session);
  }

  /** The network is back: every waiting connection tries now. */
  retryAll(): void {
    for (const session of this.#sessions.values()) session.connection?.retryNow();
  }

  /** The chat was deleted: disconnect for good; its state says "gone" to whoever shows it. */
  forget(chatId: string): void {
    const session = this.#sessions.get(chatId);
    if (!session) return;
    session.state.connection.value = "gone";
    this.#disconnect(session);
  }

  /** Signing out: every connection closes and every cached chat goes. */
  clear(): void {
    for (const session of this.#sessions.values()) {
      this.#disconnect(session);
      session.stopWatching();
    }
    this.#sessions.clear();
  }

  #session(chatId: string): Session {
    let session = this.#sessions.get(chatId);
    if (!session) {
      const created: Session = {
        state: new ChatState(chatId),
        retain: 0,
        connection: null,
        closing: null,
        linger: null,
        loading: false,
        usedAt: ++this.#clock,
        stopWatching: () => {},
      };
      this.#sessions.set(chatId, created);
      // A chat that stops being busy while nobody shows it disconnects (and one that becomes busy
      // stays connected after its view goes).
      created.stopWatching = created.state.busy.subscribe(() => this.#settle(created));
      session = created;
    }
    return session;
  }

  #wanted(session: Session): boolean {
    const status = session.state.connection.peek();
    if (status === "gone") return false;
    return session.retain > 0 || session.state.busy.peek();
  }

  #settle(session: Session): void {
    if (!this.#sessions.has(session.state.chatId)) return;
    if (!this.#wanted(session)) {
      if (session.state.connection.peek() === "gone") this.#disconnect(session);
      else if (session.connection && session.linger === null) {
        session.linger = this.#transport.setTimeout(() => {
          session.linger = null;
          if (!this.#wanted(session)) this.#disconnect(session);
        }, LINGER_MS);
      }
      return;
    }
    if (session.linger !== null) {
      this.#transport.clearTimeout(session.linger);
      session.linger = null;
    }
    if (session.connection) return;
    if (!session.state.loaded.peek()) {
      this.#load(session);
      return;
    }
    this.#connect(session);
  }

  #load(session: Session): void {
    if (session.loading) return;
    session.loading = true;
    const state = session.state;
    state.error.value = null;
    if (state.connection.peek() === "idle" || state.connection.peek() === "error") state.connection.value = "loading";
    this.#api
      .getChat(state.chatId)
      .then((detail) => {
        state.loadDetail(detail);
      })
      .catch((error: unknown) => {
        if (error instanceof ApiError && error.code === "chat_not_found") state.connection.value = "gone";
        else {
          state.error.value = messageOf(error);
          state.connection.value = "error";
        }
      })
      .finally(() => {
        session.loading = false;
        if (state.loaded.peek()) this.#settle(session);
      });
  }

  /** Tries the first load again (after an error). */
  reload(chatId: string): void {
    const session = this.#sessions.get(chatId);
    if (session) this.#settle(session);
  }

  #connect(session: Session): void {
    const state = session.state;
    const connection = new Connection(`/api/chats/${encodeURIComponent(state.chatId)}`, this.#transport, {
      cursor: () => state.cursor,
      frame: (frame) => this.#frame(session, frame),
      status: (status) => {
        if (session.connection !== connection) return;
        state.connection.value = status;
        if (status === "gone") this.forget(state.chatId);
      },
      probe: async () => {
        try {
          await this.#api.getChat(state.chatId);
          return true;
        } catch (error: unknown) {
          return !(error instanceof ApiError && (error.code === "chat_not_found" || error.status === 401));
        }
      },
    });
    session.connection = connection;
    this.openConnections.value++;
    connection.start(session.closing);
  }

  #frame(session: Session, frame: ServerFrame): ApplyOutcome {
    switch (frame.type) {
      case "events":
        return session.state.apply(frame.events);
      case "reset":
        session.state.reset();
        return "ok";
      default:
        return "ok";
    }
  }

  #disconnect(session: Session): void {
    if (session.linger !== null) this.#transport.clearTimeout(session.linger);
    session.linger = null;
    const connection = session.connection;
    if (!connection) return;
    session.connection = null;
    const closing = connection.stop();
    session.closing = closing;
    void closing.then(() => {
      if (session.closing === closing) session.closing = null;
    });
    this.openConnections.value--;
    session.state.disconnectedAt = Date.now();
    if (session.state.connection.peek() !== "gone") session.state.connection.value = "idle";
    this.onDisconnect(session.state.chatId);
  }

  #evict(): void {
    if (this.#sessions.size <= MAX_CACHED) return;
    const idle = [...this.#sessions.values()]
      .filter((s) => s.retain === 0 && !s.connection && !s.loading)
      .sort((a, b) => a.usedAt - b.usedAt);
    for (const session of idle.slice(0, this.#sessions.size - MAX_CACHED)) {
      session.stopWatching();
      this.#sessions.delete(session.state.chatId);
    }
  }
}
