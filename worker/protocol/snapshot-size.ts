/**
 * The size budget of a message snapshot. A snapshot is stored as one row (D1 `messages`, the
 * Durable Object's checkpoints), and a row holds at most 2,000,000 bytes in production, so the
 * reducer keeps the content of a message within `SNAPSHOT_CONTENT_BYTES` and counts what it leaves
 * out; the event log keeps all of it. Costs are per UTF-16 unit, so the cost of a text is the sum
 * of the costs of its pieces: folding a run of deltas one by one or merged gives the same snapshot.
 */

/** Content (text, thinking, tool inputs and outputs) a snapshot holds at most, in bytes as JSON. */
export const SNAPSHOT_CONTENT_BYTES = 1024 * 1024;
/** Extra room for permission prompts and notices once the content is full: they must stay visible. */
export const SNAPSHOT_RESERVE_BYTES = 64 * 1024;
/** What a block's JSON costs around its strings (keys, quotes, status fields). */
export const BLOCK_BYTES = 128;

/**
 * An upper bound of the bytes one UTF-16 unit takes inside a JSON string in UTF-8: 2 for escaped
 * quotes, backslashes and \n-like controls, 6 for other controls (\u00XX) and for surrogates (a lone
 * one is escaped; a pair takes 4, counted as 12), else its UTF-8 length.
 */
function unitCost(code: number): number {
  if (code < 0x20) return code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d ? 2 : 6;
  if (code === 0x22 || code === 0x5c) return 2;
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  if (code >= 0xd800 && code <= 0xdfff) return 6;
  return 3;
}

/** The budget cost of a text (see `unitCost`). */
export function textCost(text: string): number {
  let cost = 0;
  for (let i = 0; i < text.length; i++) cost += unitCost(text.charCodeAt(i));
  return cost;
}

/** The budget cost of any JSON value (its JSON text measured like a text: an upper bound). */
export function valueCost(value: unknown): number {
  return textCost(JSON.stringify(value) ?? "null");
}

/**
 * The longest prefix of `text` whose cost fits `room` (it may end inside a surrogate pair: cutting
 * by units keeps the cut independent of how the text was split into deltas), and its cost.
 */
export function fitText(text: string, room: number): { kept: string; cost: number } {
  let cost = 0;
  let i = 0;
  for (; i < text.length; i++) {
    const next = cost + unitCost(text.charCodeAt(i));
    if (next > room) break;
    cost = next;
  }
  return { kept: i === text.length ? text : text.slice(0, i), cost };
}
