/**
 * UTF-8 and JSON byte arithmetic on JS strings without TextEncoder (so it runs the same under
 * Node, workerd and the browser whatever lib the tsconfig picks). Used by the coalescer and by
 * event truncation; sizes match `new TextEncoder().encode(s).length` (a lone surrogate is 3 bytes).
 */

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Code units taken by the code point at `i` (2 for a well-formed surrogate pair, else 1). */
function unitsAt(s: string, i: number): 1 | 2 {
  return isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
}

/** UTF-8 bytes of the code point starting at `i` (taking `units` code units). */
function utf8CodePointBytes(code: number, units: 1 | 2): number {
  if (units === 2) return 4;
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  return 3;
}

export function utf8ByteLength(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; ) {
    const units = unitsAt(s, i);
    bytes += utf8CodePointBytes(s.charCodeAt(i), units);
    i += units;
  }
  return bytes;
}

/** Bytes the code point at `i` takes inside a JSON string literal written by JSON.stringify. */
function jsonCodePointBytes(code: number, units: 1 | 2): number {
  if (units === 2) return 4;
  if (code === 0x22 || code === 0x5c) return 2; // \" \\
  if (code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) return 2;
  if (code < 0x20) return 6; // \u00XX
  if (isHigh(code) || isLow(code)) return 6; // a lone surrogate is written as \uDXXX
  return utf8CodePointBytes(code, 1);
}

/** UTF-8 bytes of `JSON.stringify(s)` without its two quotes. */
export function jsonStringBytes(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; ) {
    const units = unitsAt(s, i);
    bytes += jsonCodePointBytes(s.charCodeAt(i), units);
    i += units;
  }
  return bytes;
}

export type ByteMeasure = "utf8" | "json";

/**
 * Splits `s` after its longest prefix that fits `maxBytes` (measured as raw UTF-8 or as escaped
 * JSON string content), never inside a code point. The prefix may be empty.
 */
export function cutAtBytes(s: string, maxBytes: number, measure: ByteMeasure = "utf8"): [string, string] {
  let bytes = 0;
  let i = 0;
  while (i < s.length) {
    const units = unitsAt(s, i);
    const code = s.charCodeAt(i);
    const size = measure === "utf8" ? utf8CodePointBytes(code, units) : jsonCodePointBytes(code, units);
    if (bytes + size > maxBytes) break;
    bytes += size;
    i += units;
  }
  return [s.slice(0, i), s.slice(i)];
}
