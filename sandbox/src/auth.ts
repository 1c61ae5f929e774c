/**
 * Bearer-token check for the sandbox provider. Every request passes through it before routing;
 * the comparison hashes both sides first so it takes the same time whatever the input's length.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

export function makeAuthCheck(token: string): (req: IncomingMessage) => boolean {
  if (token.length === 0) throw new Error("the sandbox token must not be empty");
  const expected = digest(token);
  return (req) => {
    const header = req.headers.authorization;
    if (typeof header !== "string") return false;
    const match = /^Bearer (.+)$/i.exec(header.trim());
    if (!match?.[1]) return false;
    return timingSafeEqual(digest(match[1]), expected);
  };
}
