// Secrets are not in wrangler.toml, so `wrangler types` cannot see them; they are declared here,
// on both the global Env and `Cloudflare.Env` (what `cloudflare:workers` exports as `env`).
interface SecretEnv {
  /** Bearer token of the sandbox provider (`wrangler secret put SANDBOX_TOKEN`). */
  SANDBOX_TOKEN?: string;
  /** base64 of 32 random bytes: the AES-GCM key that seals users' model keys at rest. */
  ENCRYPTION_KEY?: string;
  /** Earlier ENCRYPTION_KEYs (base64, comma-separated), still accepted until keys are re-sealed. */
  ENCRYPTION_KEY_PREVIOUS?: string;
}
interface Env extends SecretEnv {}
declare namespace Cloudflare {
  interface Env extends SecretEnv {}
}
