/**
 * Typed calls for the user's own model key (`/api/settings/model-key`). No answer carries the key:
 * only whether one is set and its last 4 characters. Imported only by the settings page's chunk.
 */
import { z } from "zod";
import { request } from "./http";
import { anySchema } from "./schemas";

export const modelKeyViewSchema = z.discriminatedUnion("set", [
  z.object({ set: z.literal(false) }),
  z.object({ set: z.literal(true), last4: z.string(), updatedAt: z.number() }),
]);
export type ModelKeyView = z.infer<typeof modelKeyViewSchema>;
const modelKeyBodySchema = z.object({ modelKey: modelKeyViewSchema });

export const modelKeyApi = {
  getModelKey: () => request("GET", "/api/settings/model-key", modelKeyBodySchema),
  putModelKey: (key: string) => request("PUT", "/api/settings/model-key", modelKeyBodySchema, { body: { key } }),
  deleteModelKey: () => request("DELETE", "/api/settings/model-key", anySchema),
};

export type ModelKeyApi = typeof modelKeyApi;
