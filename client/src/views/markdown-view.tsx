/**
 * Renders agent text as sanitized markdown, inserting DOMPurify's nodes directly. A streaming text
 * is cut into chunks at blank lines and each chunk is memoized, so a delta re-parses only the last.
 */

import { useLayoutEffect, useMemo, useRef } from "preact/hooks";
import { renderMarkdownNodes, splitMarkdown } from "../lib/markdown";
import { memo } from "../lib/memo";

const Chunk = memo(function Chunk({ text }: { text: string }) {
  const ref = useRef<HTMLDivElement>(null);
  // Sanitized nodes from DOMPurify, inserted as they are.
  useLayoutEffect(() => {
    ref.current?.replaceChildren(renderMarkdownNodes(text));
  }, [text]);
  return <div class="md-chunk" ref={ref} />;
});

/** A finished text is rendered in one piece; a streaming one in chunks, so a delta re-parses only the last. */
export function Markdown({ text, streaming }: { text: string; streaming: boolean }) {
  const chunks = useMemo(() => (streaming ? splitMarkdown(text) : [text]), [text, streaming]);
  return (
    <div class="markdown">
      {chunks.map((chunk, i) => (
        // Chunks only grow at the end, so a position is a stable key.
        <Chunk key={i} text={chunk} />
      ))}
    </div>
  );
}

/** Copy buttons of code blocks, handled once for a whole subtree (they are sanitized HTML, not components). */
export function onCopyClick(event: MouseEvent): void {
  const target = event.target;
  if (!(target instanceof HTMLElement) || !target.matches("button[data-copy]")) return;
  const code = target.closest(".code-block")?.querySelector("pre")?.textContent ?? "";
  void navigator.clipboard?.writeText(code).then(
    () => {
      target.textContent = "Copied";
      setTimeout(() => {
        target.textContent = "Copy";
      }, 1500);
    },
    () => {
      target.textContent = "Copy failed";
    },
  );
}
