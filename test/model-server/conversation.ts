/**
 * Reads a Messages API request body the way the scripted model needs it: user texts (skipping the
 * CLI's system-reminder blocks), the last `[script:<id>]` marker and the turn index after it.
 * Pure functions over untrusted JSON; used by the model server and its demo model.
 */

export type Message = { role: string; content: unknown };

const MARKER = /\[script:([A-Za-z0-9_.-]+)\]/g;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The request's messages, keeping only well-formed entries. */
export function readMessages(body: unknown): Message[] {
  if (!isRecord(body) || !Array.isArray(body.messages)) return [];
  return body.messages.filter((m): m is Message => isRecord(m) && typeof m.role === "string" && "content" in m);
}

/** All top-level text of a message: a string content or its `text` blocks. */
export function textBlocks(m: Message): string[] {
  if (typeof m.content === "string") return [m.content];
  if (!Array.isArray(m.content)) return [];
  return m.content.flatMap((b) => (isRecord(b) && b.type === "text" && typeof b.text === "string" ? [b.text] : []));
}

/** Text the user typed: text blocks that are not the CLI's injected `<system-reminder>` blocks. */
export function userTexts(m: Message): string[] {
  return textBlocks(m).filter((t) => !t.trimStart().startsWith("<system-reminder>"));
}

/** tool_result blocks of a message, flattened to text. */
export function toolResults(m: Message): Array<{ text: string; isError: boolean }> {
  if (!Array.isArray(m.content)) return [];
  return m.content.flatMap((b) => {
    if (!isRecord(b) || b.type !== "tool_result") return [];
    const c = b.content;
    const text =
      typeof c === "string"
        ? c
        : Array.isArray(c)
          ? c.map((x) => (isRecord(x) && typeof x.text === "string" ? x.text : "")).join("")
          : "";
    return [{ text, isError: b.is_error === true }];
  });
}

/** The last script marker in any user message and the index of the message holding it. */
export function findMarker(messages: Message[]): { scriptId: string; messageIndex: number } | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role !== "user") continue;
    let last: string | null = null;
    for (const t of textBlocks(m)) for (const match of t.matchAll(MARKER)) last = match[1] ?? null;
    if (last !== null) return { scriptId: last, messageIndex: i };
  }
  return null;
}

export function assistantsAfter(messages: Message[], index: number): number {
  return messages.slice(index + 1).filter((m) => m.role === "assistant").length;
}

/** The last user message that carries typed text (not only tool results), with its index. */
export function lastUserText(messages: Message[]): { text: string; index: number } | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role !== "user") continue;
    const texts = userTexts(m);
    if (texts.length > 0) return { text: texts.join("\n"), index: i };
  }
  return null;
}
