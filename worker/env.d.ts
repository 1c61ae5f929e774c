// Secrets are not in wrangler.toml, so `wrangler types` cannot see them; they are declared here,
// on both the global Env and `Cloudflare.Env` (what `cloudflare:workers` exports as `env`).
interface SecretEnv {
  /** Bearer token of the sandbox provider (`wrangler secret put SANDBOX_TOKEN`). */
  SANDBOX_TOKEN?: string;
}
interface Env extends SecretEnv {}
declare namespace Cloudflare {
  interface Env extends SecretEnv {}
}
