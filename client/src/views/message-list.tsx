/**
 * The scrolling timeline of a chat. It follows the bottom only while the reader is at the bottom
 * (a "New output" pill otherwise). It renders the newest messages first and the rest of the loaded
 * page above them in small slices, each in its own task (so no long task blocks the page), and
 * loads older pages only when scrolled near the top, keeping the reader's place while anything is
 * added above.
 */
import { useSignal } from "@preact/signals";
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import { api } from "../api/client";
import { messageOf } from "../api/http";
import { memo } from "../lib/memo";
import type { ChatActions } from "../models/chat-actions";
import type { ChatState } from "../models/chat-state";
import { onCopyClick } from "./markdown-view";
import { Message } from "./message";

const MemoMessage = memo(Message);
const NEAR_BOTTOM_PX = 48;
const NEAR_TOP_PX = 400;
/** Messages rendered at once when a chat opens (more than a screen holds). */
const FIRST_SLICE = 6;
/** A slice that renders faster than this grows; slower, it shrinks (ms of render and layout). */
const SLICE_BUDGET_MS = [8, 24] as const;

/** Loads the page before the oldest message; `beforeAdding` runs just before it lands. */
async function loadOlder(state: ChatState, beforeAdding: () => void): Promise<void> {
  const before = state.oldestSeq;
  if (before === null || !state.hasOlder.peek() || state.loadingOlder.peek()) return;
  state.loadingOlder.value = true;
  try {
    const page = await api.olderMessages(state.chatId, before);
    beforeAdding();
    state.addOlder(page);
  } catch (error: unknown) {
    state.error.value = messageOf(error);
  } finally {
    state.loadingOlder.value = false;
  }
}

export function MessageList({
  state,
  actions,
  empty,
}: {
  state: ChatState;
  actions: ChatActions;
  empty: preact.ComponentChildren;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const content = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const newOutput = useSignal(false);
  const ids = state.timeline.value;
  // Where the reader was before older messages were added above: kept across that render.
  const anchor = useRef<{ height: number; top: number } | null>(null);
  // The oldest message rendered (null: the newest FIRST_SLICE); older loaded ones follow in slices.
  const firstShown = useSignal<string | null>(null);
  const from =
    firstShown.value === null ? Math.max(0, ids.length - FIRST_SLICE) : Math.max(0, ids.indexOf(firstShown.value));
  const allShown = useRef(from === 0);
  allShown.current = from === 0;
  const slice = useRef({ size: 4, startedAt: 0 });

  const keepPlace = () => {
    const box = scroller.current;
    if (box && !atBottom.current) anchor.current = { height: box.scrollHeight, top: box.scrollTop };
  };

  // Render the next slice of older loaded messages in a task of its own.
  useEffect(() => {
    if (from === 0) return;
    const timer = setTimeout(() => {
      keepPlace();
      slice.current.startedAt = performance.now();
      firstShown.value = ids[Math.max(0, from - slice.current.size)] ?? null;
    }, 0);
    return () => clearTimeout(timer);
  }, [from, ids]);

  // How long that slice took (render, layout): the next one is sized to stay well under a frame budget.
  useLayoutEffect(() => {
    const s = slice.current;
    if (s.startedAt === 0) return;
    const took = performance.now() - s.startedAt;
    s.startedAt = 0;
    if (took < SLICE_BUDGET_MS[0]) s.size = Math.min(50, s.size * 2);
    else if (took > SLICE_BUDGET_MS[1]) s.size = Math.max(1, Math.floor(s.size / 2));
  }, [from]);

  // Where this component last scrolled to itself: the scroll events that follow are not the reader's.
  const ownScroll = useRef<number | null>(null);
  const scrollTo = (el: HTMLElement, top: number) => {
    el.scrollTop = top;
    ownScroll.current = el.scrollTop;
  };

  const toBottom = () => {
    const el = scroller.current;
    if (!el) return;
    scrollTo(el, el.scrollHeight);
    atBottom.current = true;
    newOutput.value = false;
  };

  useLayoutEffect(() => {
    toBottom();
  }, [state]);

  // Content grows (a delta, a new message, a tool card opened): follow it only from the bottom.
  useEffect(() => {
    const el = content.current;
    if (!el) return;
    let lastHeight = el.offsetHeight;
    const observer = new ResizeObserver(() => {
      const height = el.offsetHeight;
      const grew = height > lastHeight;
      lastHeight = height;
      const saved = anchor.current;
      const box = scroller.current;
      if (saved && box) {
        // Older messages came in above: keep what the reader looks at where it was.
        scrollTo(box, saved.top + (box.scrollHeight - saved.height));
        anchor.current = null;
        return;
      }
      if (atBottom.current) toBottom();
      else if (grew) newOutput.value = true;
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [state]);

  // Copy buttons live in sanitized HTML, not in components: one listener serves them all.
  useEffect(() => {
    const el = scroller.current;
    el?.addEventListener("click", onCopyClick);
    return () => el?.removeEventListener("click", onCopyClick);
  }, []);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    // Our own scroll (to the bottom, or keeping a place): the content may have grown since, so
    // measuring now would wrongly decide the reader left the bottom.
    if (ownScroll.current !== null && Math.abs(el.scrollTop - ownScroll.current) < 2) return;
    ownScroll.current = null;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
    if (atBottom.current) newOutput.value = false;
    if (el.scrollTop < NEAR_TOP_PX && allShown.current && state.hasOlder.peek() && !state.loadingOlder.peek()) {
      void loadOlder(state, keepPlace);
    }
  };

  return (
    <div class="timeline-wrap">
      <div class="timeline" ref={scroller} onScroll={onScroll} tabIndex={-1}>
        <div class="timeline-content" ref={content}>
          {/* Stays while earlier messages are still being rendered, so it never shrinks the top
              of the page under a reader who is there. */}
          {(state.hasOlder.value || from > 0) && (
            <div class="older">
              <button
                type="button"
                class="link"
                onClick={() => void loadOlder(state, keepPlace)}
                disabled={state.loadingOlder.value || from > 0}
              >
                {state.loadingOlder.value || from > 0 ? "Loading earlier messages…" : "Load earlier messages"}
              </button>
            </div>
          )}
          {ids.length === 0 && state.loaded.value ? empty : null}
          {(from === 0 ? ids : ids.slice(from)).map((id) => (
            <MemoMessage key={id} id={id} state={state} actions={actions} />
          ))}
        </div>
      </div>
      {newOutput.value && (
        <button type="button" class="pill" onClick={toBottom}>
          ↓ New output
        </button>
      )}
    </div>
  );
}
