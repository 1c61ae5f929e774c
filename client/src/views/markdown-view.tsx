/**
 * Renders agent text as sanitized markdown. Streaming text is cut into chunks at blank lines and
 * each chunk is memoized, so a delta re-parses only the last chunk, not the whole message.
 */

import { useMemo } from "preact/hooks";
import { renderMarkdown, splitMarkdown } from "../lib/markdown";
import { memo } from "../lib/memo";

const Chunk = memo(function Chunk({ text }: { text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  // DOMPurify sanitized it in renderMarkdown.
  return <div class="md-chunk" dangerouslySetInnerHTML={{ __html: html }} />;
});

export function Markdown({ text }: { text: string }) {
  const chunks = useMemo(() => splitMarkdown(text), [text]);
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
