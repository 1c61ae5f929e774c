/**
 * Secrets at rest: AES-256-GCM with keys from Worker secrets, each sealed value stored beside the id
 * of the key that sealed it, so keys rotate (a new current key seals; previous keys still open until
 * every value has been re-sealed). Used by the model-key settings and by the re-encryption command
 * (scripts/reencrypt-model-keys.mjs, which imports this file under plain Node: it imports nothing).
 * Every value is bound to a context (e.g. its owner's id) as additional data, so a sealed value
 * copied to another row does not open.
 */

export type Keyring = {
  /** The key that seals; `id` is derived from the key itself (no configuration to get wrong). */
  current: { id: string; key: CryptoKey };
  /** Every key that may open: the current one and the previous ones. */
  byId: Map<string, CryptoKey>;
};

export type Sealed = {
  keyId: string;
  /** base64 of a 12-byte IV followed by the ciphertext and its 16-byte tag. */
  ciphertext: string;
};

export class KeyringError extends Error {
  override readonly name = "KeyringError";
}

export type KeySecrets = {
  /** base64 of 32 random bytes. */
  ENCRYPTION_KEY?: string;
  /** Earlier keys, base64, comma-separated: they still open values until those are re-sealed. */
  ENCRYPTION_KEY_PREVIOUS?: string;
};

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

async function importKey(encoded: string, name: string): Promise<{ id: string; key: CryptoKey }> {
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = fromBase64(encoded.trim());
  } catch {
    throw new KeyringError(`${name} is not base64`);
  }
  if (raw.length !== 32) throw new KeyringError(`${name} must be 32 bytes (base64), not ${raw.length}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw));
  const id = `k${Array.from(digest.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join("")}`;
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  return { id, key };
}

/** The keyring from the secrets; null when ENCRYPTION_KEY is not set. Malformed keys throw. */
export async function loadKeyring(secrets: KeySecrets): Promise<Keyring | null> {
  if (!secrets.ENCRYPTION_KEY?.trim()) return null;
  const current = await importKey(secrets.ENCRYPTION_KEY, "ENCRYPTION_KEY");
  const byId = new Map([[current.id, current.key]]);
  for (const part of (secrets.ENCRYPTION_KEY_PREVIOUS ?? "").split(",")) {
    if (part.trim() === "") continue;
    const previous = await importKey(part, "ENCRYPTION_KEY_PREVIOUS");
    if (!byId.has(previous.id)) byId.set(previous.id, previous.key);
  }
  return { current, byId };
}

export async function seal(keyring: Keyring, plaintext: string, context: string): Promise<Sealed> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = new TextEncoder().encode(plaintext);
  const additionalData = new TextEncoder().encode(context);
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData }, keyring.current.key, data),
  );
  const out = new Uint8Array(iv.length + ct.length);
  out.set(iv);
  out.set(ct, iv.length);
  return { keyId: keyring.current.id, ciphertext: toBase64(out) };
}

/** Opens a sealed value; a key the ring lacks, a wrong context or a tampered value throw `KeyringError`. */
export async function open(keyring: Keyring, sealed: Sealed, context: string): Promise<string> {
  const key = keyring.byId.get(sealed.keyId);
  if (!key) throw new KeyringError(`no encryption key with id ${sealed.keyId} is configured`);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = fromBase64(sealed.ciphertext);
  } catch {
    throw new KeyringError("the sealed value is not base64");
  }
  try {
    const additionalData = new TextEncoder().encode(context);
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.subarray(0, 12), additionalData },
      key,
      bytes.subarray(12),
    );
    return new TextDecoder().decode(plain);
  } catch {
    throw new KeyringError("the sealed value does not open with its key (tampered, or sealed for another owner)");
  }
}

/** Re-seals a value under the current key; null when it already is. */
export async function reseal(keyring: Keyring, sealed: Sealed, context: string): Promise<Sealed | null> {
  if (sealed.keyId === keyring.current.id) return null;
  return seal(keyring, await open(keyring, sealed, context), context);
}
