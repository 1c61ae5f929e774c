/**
 * Opaque pagination cursors: `<createdAt>.<id>` in base64url. Anything that does not decode to
 * exactly that shape is a 400 `invalid_cursor`, never a query with garbage in it.
 */
import { AppError } from "../errors";
import { isId } from "../ids";

export function encodeCursor(createdAt: number, id: string): string {
  return btoa(`${createdAt}.${id}`).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string): { createdAt: number; id: string } {
  let text: string;
  try {
    if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) throw new Error("shape");
    text = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
  } catch {
    throw new AppError("invalid_cursor", "The cursor is not valid");
  }
  const match = /^(\d{1,15})\.(.+)$/.exec(text);
  const createdAt = Number(match?.[1]);
  const id = match?.[2] ?? "";
  if (!match || !Number.isSafeInteger(createdAt) || !isId(id)) {
    throw new AppError("invalid_cursor", "The cursor is not valid");
  }
  return { createdAt, id };
}
