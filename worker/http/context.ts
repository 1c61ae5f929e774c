/**
 * The Hono environment shared by every route: bindings plus what the middleware establishes
 * (the database handle, and the signed-in user on protected routes).
 */
import type { Db } from "../db/client";

export type AppEnv = {
  Bindings: Env;
  Variables: {
    db: Db;
    userId: string;
  };
};
