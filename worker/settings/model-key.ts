/**
 * A user's own model API key: stored sealed (AES-GCM, worker/crypto/keyring.ts) with only its last 4
 * characters in the clear, shown only as "set, ends in …", opened only to start that user's runs.
 * Used by the settings routes and the run engine (`modelKeyForRun`); rotation re-seals rows with
 * scripts/reencrypt-model-keys.mjs. The key in the clear exists only in the memory of the request
 * or run that needs it.
 */
import { type Keyring, KeyringError, open, seal } from "../crypto/keyring";
import type { Db } from "../db/client";
import { deleteModelKey, findModelKey, upsertModelKey } from "../db/model-keys";

export type ModelKeyView = { set: false } | { set: true; last4: string; updatedAt: number };

/** The additional data every sealed model key is bound to: its owner. */
export function modelKeyContext(userId: string): string {
  return `model-key:${userId}`;
}

/** A stored key that cannot be opened with the configured keys (rotated away, or tampered with). */
export class ModelKeyUnreadable extends Error {
  override readonly name = "ModelKeyUnreadable";
  readonly code = "model_key_unreadable";
}

export async function viewModelKey(db: Db, userId: string): Promise<ModelKeyView> {
  const row = await findModelKey(db, userId);
  return row ? { set: true, last4: row.last4, updatedAt: row.updatedAt } : { set: false };
}

export async function storeModelKey(
  db: Db,
  keyring: Keyring,
  userId: string,
  key: string,
  now: number,
): Promise<ModelKeyView> {
  const sealed = await seal(keyring, key, modelKeyContext(userId));
  const last4 = key.slice(-4);
  await upsertModelKey(db, { userId, ...sealed, last4, createdAt: now, updatedAt: now });
  return { set: true, last4, updatedAt: now };
}

export async function removeModelKey(db: Db, userId: string): Promise<boolean> {
  return deleteModelKey(db, userId);
}

/**
 * The user's key in the clear for one run, or null when the user has none. Throws
 * `ModelKeyUnreadable` when one is stored but cannot be opened: the run must fail, not fall back to
 * the service's key silently.
 */
export async function modelKeyForRun(db: Db, keyring: Keyring | null, userId: string): Promise<string | null> {
  const row = await findModelKey(db, userId);
  if (!row) return null;
  if (!keyring) throw new ModelKeyUnreadable("a model key is stored but ENCRYPTION_KEY is not configured");
  try {
    return await open(keyring, row, modelKeyContext(userId));
  } catch (err: unknown) {
    if (err instanceof KeyringError)
      throw new ModelKeyUnreadable(`the stored model key cannot be read: ${err.message}`);
    throw err;
  }
}
