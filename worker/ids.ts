/**
 * Id generation and validation. Ids are random UUIDs (v4) from WebCrypto; anything else in a path
 * segment is rejected before it reaches a query or a Durable Object name.
 */
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function newId(): string {
  return crypto.randomUUID();
}

export function isId(value: string): boolean {
  return uuidPattern.test(value);
}
