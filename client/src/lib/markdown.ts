/**
 * Markdown to safe HTML for agent text: marked parses (GitHub flavour), DOMPurify sanitizes, so no
 * HTML from the agent reaches the DOM unsanitized. Code blocks get a copy button (our markup,
 * added before sanitizing so it passes the same filter). `splitMarkdown` cuts streaming text at
 * blank lines outside code fences, so only the growing tail is parsed again on each delta.
 */
import DOMPurify from "dompurify";
import { Marked } from "marked";

const escapeHtml = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    code({ text, lang }) {
      const language = (lang ?? "").match(/^[\w+#.-]+/)?.[0] ?? "";
      const label = language ? `<span class="code-lang">${escapeHtml(language)}</span>` : "";
      return `<div class="code-block"><div class="code-bar">${label}<button type="button" class="copy" data-copy>Copy</button></div><pre><code${language ? ` class="language-${escapeHtml(language)}"` : ""}>${escapeHtml(text)}</code></pre></div>`;
    },
  },
});

let hooked = false;
function purifier(): typeof DOMPurify {
  if (!hooked) {
    hooked = true;
    // Links open in a new tab and cannot reach back into this page.
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
    });
  }
  return DOMPurify;
}

const FORBID_TAGS = ["style", "form", "input", "textarea", "select"];

/** Sanitized nodes, ready to insert: no second HTML parse as `innerHTML` would need. */
export function renderMarkdownNodes(text: string): DocumentFragment {
  const html = marked.parse(text, { async: false });
  return purifier().sanitize(html, { FORBID_TAGS, RETURN_DOM_FRAGMENT: true });
}

/**
 * Splits markdown into top-level chunks at blank lines that are outside fenced code; a chunk that
 * starts indented continues the previous one (a list item's next paragraph). Joining the chunks
 * with "\n" gives back the text.
 */
export function splitMarkdown(text: string): string[] {
  const lines = text.split("\n");
  const chunks: string[] = [];
  let current: string[] = [];
  let fence: string | null = null;
  let blank = false;
  for (const line of lines) {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === null && line.trim() === "") {
      blank = true;
      current.push(line);
      continue;
    }
    if (blank && fence === null && !/^\s/.test(line) && current.some((l) => l.trim() !== "")) {
      // Close the chunk before the blank run; the blank lines stay with it.
      chunks.push(current.join("\n"));
      current = [];
    }
    blank = false;
    if (marker) {
      if (fence === null) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = null;
    }
    current.push(line);
  }
  if (current.length > 0) chunks.push(current.join("\n"));
  return chunks;
}
