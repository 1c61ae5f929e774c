// Secrets are not in wrangler.toml, so `wrangler types` cannot see them; they are declared here.
interface Env {
  /** Bearer token of the sandbox provider (`wrangler secret put SANDBOX_TOKEN`). */
  SANDBOX_TOKEN?: string;
}
