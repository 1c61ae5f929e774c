/**
 * Queries for users' sealed model keys: one row per user. Rows are only ever written sealed (see
 * worker/settings/model-key.ts).
 */
import { eq } from "drizzle-orm";
import type { Db } from "./client";
import { modelKeys } from "./schema";

export type ModelKeyRow = typeof modelKeys.$inferSelect;

export async function findModelKey(db: Db, userId: string): Promise<ModelKeyRow | undefined> {
  return db.select().from(modelKeys).where(eq(modelKeys.userId, userId)).get();
}

/** Inserts or replaces the user's key; `createdAt` stays that of the first key. */
export async function upsertModelKey(db: Db, row: ModelKeyRow): Promise<void> {
  await db
    .insert(modelKeys)
    .values(row)
    .onConflictDoUpdate({
      target: modelKeys.userId,
      set: { keyId: row.keyId, ciphertext: row.ciphertext, last4: row.last4, updatedAt: row.updatedAt },
    });
}

export async function deleteModelKey(db: Db, userId: string): Promise<boolean> {
  const rows = await db.delete(modelKeys).where(eq(modelKeys.userId, userId)).returning({ userId: modelKeys.userId });
  return rows.length === 1;
}
