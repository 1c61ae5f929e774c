/**
 * The scrolling timeline of a chat. It follows the bottom only while the reader is at the bottom
 * (a "New output" pill otherwise), and loads older messages only when scrolled near the top,
 * keeping the reader's place while they are added above: a long chat shows its latest page.
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

async function loadOlder(state: ChatState): Promise<void> {
  const before = state.oldestSeq;
  if (before === null || !state.hasOlder.peek() || state.loadingOlder.peek()) return;
  state.loadingOlder.value = true;
  try {
    state.addOlder(await api.olderMessages(state.chatId, before));
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

  const toBottom = () => {
    const el = scroller.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
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
        box.scrollTop = saved.top + (box.scrollHeight - saved.height);
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
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
    if (atBottom.current) newOutput.value = false;
    if (el.scrollTop < NEAR_TOP_PX && state.hasOlder.peek() && !state.loadingOlder.peek()) {
      anchor.current = { height: el.scrollHeight, top: el.scrollTop };
      void loadOlder(state);
    }
  };

  return (
    <div class="timeline-wrap">
      <div class="timeline" ref={scroller} onScroll={onScroll} tabIndex={-1}>
        <div class="timeline-content" ref={content}>
          {state.hasOlder.value && (
            <div class="older">
              <button
                type="button"
                class="link"
                onClick={() => void loadOlder(state)}
                disabled={state.loadingOlder.value}
              >
                {state.loadingOlder.value ? "Loading earlier messages…" : "Load earlier messages"}
              </button>
            </div>
          )}
          {ids.length === 0 && state.loaded.value ? empty : null}
          {ids.map((id) => (
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
