/**
 * Seq cursors in queries and headers (`after`, `before`, `Last-Event-ID`): a whole number from 0
 * up to 2^53-1 written in plain digits; anything else is a 400 `invalid_cursor`.
 */
import { AppError } from "../errors";

export function parseSeq(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new AppError("invalid_cursor", `${name} must be a whole number of at most 2^53-1`);
  return n;
}
