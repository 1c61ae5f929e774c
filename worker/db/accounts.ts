/**
 * Queries for users, login sessions and API tokens. Session and token secrets are stored only as
 * SHA-256 hashes; lookups reject expired and revoked rows in the query itself.
 */
import { and, desc, eq, gt, isNull } from "drizzle-orm";
import type { Db } from "./client";
import { apiTokens, sessions, users } from "./schema";

export type UserRow = typeof users.$inferSelect;

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db.select().from(users).where(eq(users.email, email)).get();
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return db.select().from(users).where(eq(users.id, id)).get();
}

/** Inserts a user; returns false when the email is taken (unique index), so races end in a 409. */
export async function insertUser(db: Db, user: UserRow): Promise<boolean> {
  const rows = await db.insert(users).values(user).onConflictDoNothing().returning({ id: users.id });
  return rows.length === 1;
}

export async function insertSession(
  db: Db,
  row: { id: string; userId: string; createdAt: number; expiresAt: number },
): Promise<void> {
  await db.insert(sessions).values(row);
}

/** The user of a live session (not expired, not revoked), by the hash of its token. */
export async function findSessionUser(db: Db, sessionHash: string, now: number): Promise<string | undefined> {
  const row = await db
    .select({ userId: sessions.userId })
    .from(sessions)
    .where(and(eq(sessions.id, sessionHash), gt(sessions.expiresAt, now), isNull(sessions.revokedAt)))
    .get();
  return row?.userId;
}

export async function revokeSession(db: Db, sessionHash: string, now: number): Promise<void> {
  await db.update(sessions).set({ revokedAt: now }).where(eq(sessions.id, sessionHash));
}

export type ApiTokenInfo = { id: string; name: string; createdAt: number; lastUsedAt: number | null };

export async function insertApiToken(db: Db, row: typeof apiTokens.$inferInsert): Promise<void> {
  await db.insert(apiTokens).values(row);
}

export async function listApiTokens(db: Db, userId: string): Promise<ApiTokenInfo[]> {
  return db
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      createdAt: apiTokens.createdAt,
      lastUsedAt: apiTokens.lastUsedAt,
    })
    .from(apiTokens)
    .where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)))
    .orderBy(desc(apiTokens.createdAt))
    .all();
}

/** Revokes one of the user's tokens; false when it does not exist, is revoked, or is someone else's. */
export async function revokeApiToken(db: Db, userId: string, id: string, now: number): Promise<boolean> {
  const rows = await db
    .update(apiTokens)
    .set({ revokedAt: now })
    .where(and(eq(apiTokens.id, id), eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)))
    .returning({ id: apiTokens.id });
  return rows.length === 1;
}

export async function findApiTokenUser(db: Db, tokenHash: string): Promise<{ id: string; userId: string } | undefined> {
  return db
    .select({ id: apiTokens.id, userId: apiTokens.userId })
    .from(apiTokens)
    .where(and(eq(apiTokens.tokenHash, tokenHash), isNull(apiTokens.revokedAt)))
    .get();
}

export async function touchApiToken(db: Db, id: string, now: number): Promise<void> {
  await db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, id));
}
