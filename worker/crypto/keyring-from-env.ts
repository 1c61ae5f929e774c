/**
 * The keyring of this deployment, from the ENCRYPTION_KEY / ENCRYPTION_KEY_PREVIOUS secrets. An edge
 * module: routes and the run engine call it with `env`. Imported keys are cached per isolate for the
 * secrets' values, so a request does not re-import them; a rotation deploys new values and misses.
 */
import { type Keyring, type KeySecrets, loadKeyring } from "./keyring";

const cache = new Map<string, Promise<Keyring | null>>();

export function keyringFromEnv(env: KeySecrets): Promise<Keyring | null> {
  const id = `${env.ENCRYPTION_KEY ?? ""}\n${env.ENCRYPTION_KEY_PREVIOUS ?? ""}`;
  let keyring = cache.get(id);
  if (!keyring) {
    keyring = loadKeyring(env);
    // A malformed secret must fail every time, not be cached as a rejected promise forever after a fix.
    keyring.catch(() => cache.delete(id));
    cache.set(id, keyring);
  }
  return keyring;
}
