/**
 * Request rate limits on top of the Workers Rate Limiting bindings: a request over its limit gets
 * `429 rate_limited` with a Retry-After hint. Keys name who is counted (an address, an email, a
 * user), never anything secret.
 */
import { AppError } from "../errors";

export async function enforceLimit(limiter: RateLimit, key: string, what: string): Promise<void> {
  const { success } = await limiter.limit({ key });
  if (!success) throw new AppError("rate_limited", `Too many ${what}; wait a minute and try again`);
}

/** The client's address as Cloudflare reports it ("local" where no edge sets it, e.g. wrangler dev). */
export function clientAddress(headers: { header(name: string): string | undefined }): string {
  return headers.header("cf-connecting-ip") ?? "local";
}
