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

/** What `clientAddress` answers where no edge sets the address (wrangler dev, tests). */
export const LOCAL_ADDRESS = "local";

/** The client's address as Cloudflare reports it (`LOCAL_ADDRESS` where no edge sets it). */
export function clientAddress(headers: { header(name: string): string | undefined }): string {
  return headers.header("cf-connecting-ip") ?? LOCAL_ADDRESS;
}
