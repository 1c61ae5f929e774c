/**
 * Input decoding for routes: JSON bodies and query strings checked with zod, every failure an
 * `AppError` with a stable code. Unknown fields are rejected by the routes' strict schemas.
 */
import type { Context } from "hono";
import { z } from "zod";
import { AppError } from "../errors";

function issues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
}

/** Parses the request body as JSON and validates it; a missing body counts as `{}`. */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header("content-type") ?? "";
  const text = await c.req.text();
  if (text.length > 0 && !/^application\/json\b/i.test(type)) {
    throw new AppError("unsupported_media_type", "Send the body as application/json");
  }
  let value: unknown = {};
  if (text.trim().length > 0) {
    try {
      value = JSON.parse(text);
    } catch {
      throw new AppError("invalid_json", "The body is not valid JSON");
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError("invalid_request", "The body is not valid", issues(parsed.error));
  return parsed.data;
}

/** Validates the query string (first value of each key) against a schema of string inputs. */
export function query<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw new AppError("invalid_request", "The query is not valid", issues(parsed.error));
  return parsed.data;
}

/** A `limit` query parameter: a whole number from 1 to `max`, `fallback` when absent. */
export const pageLimit = (max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d{1,4}$/, "limit must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(1).max(max))
    .optional()
    .transform((v) => v ?? fallback);
