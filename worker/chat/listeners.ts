/**
 * The chat's listeners: WebSockets accepted with the hibernation API (browsers directly, and the
 * Worker's SSE bridge). On connect a listener gets every event after its cursor, then `ready`,
 * then live events, all in one synchronous turn of the single writer, so the switch from replay to
 * live can neither skip nor repeat an event. Live events wait in `Fanout` until storage has synced;
 * a new listener first lets them go to the others, since its replay already includes them.
 */
import type { EventLog } from "./event-log";
import {
  controlFrame,
  type EncodedEvent,
  encodeEvents,
  eventFrames,
  type Frame,
  type ListenerAttachment,
} from "./listener-frames";
import { RecentEvents } from "./recent-events";

/** Rows read from SQLite per replay step (bounded memory for long logs). */
const REPLAY_BATCH = 2000;

/** Close codes sent to listeners (4000-4999 are the application's own). */
export const CLOSE_INVALID_FRAME = 1003;
export const CLOSE_CHAT_DELETED = 4404;
/** The listener has been connected for the longest a connection may go unchecked: reconnect. */
export const CLOSE_RECONNECT = 4001;

/**
 * Accepts the server side of a new listener socket and sends replay + `ready`, from the events
 * held in memory when they reach back far enough, else from SQLite. Synchronous on purpose: no
 * event can be appended between the last replayed one and `ready`.
 */
export function acceptListener(
  ctx: DurableObjectState,
  log: EventLog,
  fanout: Fanout,
  chatId: string,
  socket: WebSocket,
  attachment: ListenerAttachment,
): void {
  // What waits for the commit goes to the older listeners first: the replay below includes it.
  fanout.flush();
  // The format is the socket's tag, so a broadcast picks sockets per format without reading attachments.
  ctx.acceptWebSocket(socket, [attachment.format]);
  socket.serializeAttachment(attachment);
  const { format } = attachment;
  let after = attachment.after;
  if (after > log.head) {
    socket.send(controlFrame(format, "reset", log.head));
    after = 0;
  }
  const held = fanout.recent.from(after + 1, log.head);
  if (held) {
    for (const frame of eventFrames(held, format)) socket.send(frame);
  } else {
    const chatIdJson = JSON.stringify(chatId);
    for (;;) {
      const rows = log.rows(after, REPLAY_BATCH);
      const last = rows.at(-1);
      if (!last) break;
      for (const frame of eventFrames(encodeEvents(chatIdJson, rows), format)) socket.send(frame);
      after = last.seq;
    }
  }
  socket.send(controlFrame(format, "ready", log.head));
}

/**
 * Live delivery. A frame sent while the object has uncommitted writes is held by the runtime's
 * output gate until the commit, at a cost per frame. So events committed in the same turns are
 * collected and sent together once storage has synced: one frame per listener (per ~256 KiB)
 * however many events, no later than the gate would have let them out. Correctness does not
 * depend on the timing: a frame that does go out early is still held by the gate.
 */
export class Fanout {
  readonly #ctx: DurableObjectState;
  /** The newest events sent or waiting, for replays (see `RecentEvents`). */
  readonly recent: RecentEvents;
  readonly #expiry: ListenerExpiry;
  #pending: EncodedEvent[] = [];
  #scheduled = false;

  constructor(ctx: DurableObjectState, options: { recentChars: number; listenerMaxAgeMs: number }) {
    this.#ctx = ctx;
    this.recent = new RecentEvents(options.recentChars);
    this.#expiry = new ListenerExpiry(ctx, options.listenerMaxAgeMs);
  }

  /** Queues committed events for every listener connected when they go out, and keeps them for replays. */
  push(events: readonly EncodedEvent[]): void {
    if (events.length === 0) return;
    this.recent.push(events);
    for (const event of events) this.#pending.push(event);
    if (this.#scheduled) return;
    this.#scheduled = true;
    const send = () => {
      this.#scheduled = false;
      this.flush();
    };
    this.#ctx.storage.sync().then(send, send);
  }

  /** Sends what waits, now (`acceptListener` does, before a replay that already holds it). */
  flush(): void {
    if (this.#pending.length === 0) return;
    const events = this.#pending;
    this.#pending = [];
    this.#expiry.closeExpired();
    broadcast(this.#ctx, events);
  }

  /** Test seam: makes every listener `ms` older and the next send check their age. */
  ageListeners(ms: number): void {
    this.#expiry.age(ms);
  }

  /** Forgets what waits and what it keeps (the chat is gone). */
  clear(): void {
    this.#pending = [];
    this.recent.clear();
  }
}

/**
 * A WebSocket listener is authenticated once, when it connects; a session revoked (or expired) later
 * would go on receiving the chat. So a listener is closed `maxAgeMs` after it connected (code
 * `CLOSE_RECONNECT`), and its reconnect is authenticated afresh; its cursor makes that lossless. The
 * ages are checked before live frames go out, at most once per `maxAgeMs / 10` (and 10 s): an idle
 * chat pays nothing, and a listener that receives nothing learns nothing. SSE listeners get the same
 * bound from the Worker's bridge (`SSE_MAX_MS`). `maxAgeMs` 0 turns it off.
 */
class ListenerExpiry {
  readonly #ctx: DurableObjectState;
  readonly #maxAgeMs: number;
  #nextCheckAt = 0;

  constructor(ctx: DurableObjectState, maxAgeMs: number) {
    this.#ctx = ctx;
    this.#maxAgeMs = maxAgeMs;
  }

  closeExpired(): void {
    if (this.#maxAgeMs <= 0) return;
    const now = Date.now();
    if (now < this.#nextCheckAt) return;
    this.#nextCheckAt = now + Math.min(10_000, this.#maxAgeMs / 10);
    for (const socket of this.#ctx.getWebSockets("ws")) {
      const attachment = socket.deserializeAttachment() as ListenerAttachment | null;
      if (!attachment || now - attachment.connectedAt < this.#maxAgeMs) continue;
      try {
        socket.close(CLOSE_RECONNECT, "connected too long: reconnect");
      } catch {
        // Already closing.
      }
    }
  }

  age(ms: number): void {
    for (const socket of this.#ctx.getWebSockets()) {
      const attachment = socket.deserializeAttachment() as ListenerAttachment | null;
      if (attachment) socket.serializeAttachment({ ...attachment, connectedAt: attachment.connectedAt - ms });
    }
    this.#nextCheckAt = 0;
  }
}

/** Sends events to every listener now: one frame each (per ~256 KiB), encoded once per format. */
export function broadcast(ctx: DurableObjectState, events: readonly EncodedEvent[]): void {
  if (events.length === 0) return;
  for (const format of ["ws", "sse"] as const) {
    const sockets = ctx.getWebSockets(format);
    if (sockets.length === 0) continue;
    const frames: Frame[] = eventFrames(events, format);
    for (const socket of sockets) {
      try {
        for (const frame of frames) socket.send(frame);
      } catch {
        // A socket that is closing cannot take frames; its close handler cleans up.
      }
    }
  }
}

export function closeAll(ctx: DurableObjectState, code: number, reason: string): void {
  for (const socket of ctx.getWebSockets()) {
    try {
      socket.close(code, reason);
    } catch {
      // Already closed.
    }
  }
}
