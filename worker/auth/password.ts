/**
 * Password hashing with PBKDF2-SHA256 from WebCrypto. Each hash carries its own salt and iteration
 * count, so the count can rise later without breaking stored hashes. Comparison is constant-time.
 */
import { base64Decode, base64Encode, timingSafeEqual } from "./bytes";

/** workerd refuses PBKDF2 iteration counts above 100,000. */
export const PBKDF2_ITERATIONS = 100_000;
const KEY_BITS = 256;

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, KEY_BITS);
  return new Uint8Array(bits);
}

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, salt, PBKDF2_ITERATIONS);
  return `pbkdf2-sha256$${PBKDF2_ITERATIONS}$${base64Encode(salt)}$${base64Encode(hash)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, iterationsText, saltText, hashText] = stored.split("$");
  const iterations = Number(iterationsText);
  if (scheme !== "pbkdf2-sha256" || !Number.isInteger(iterations) || !saltText || !hashText) return false;
  const expected = base64Decode(hashText);
  const actual = await derive(password, base64Decode(saltText), iterations);
  return timingSafeEqual(actual, expected);
}

/**
 * A fixed hash to verify against when the email is unknown, so a login for an unknown email takes
 * as long as one with a wrong password and the two cannot be told apart by timing.
 */
export const DUMMY_PASSWORD_HASH = `pbkdf2-sha256$${PBKDF2_ITERATIONS}$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=`;
