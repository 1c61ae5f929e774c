/**
 * The Hono root: mounts one sub-app per resource under `/api`, sets up the database handle,
 * size limits and origin checks, and turns every failure into `{ error: { code, message } }`.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requireUser, sameOrigin } from "./auth/middleware";
import { createDb } from "./db/client";
import { AppError, errorBody } from "./errors";
import type { AppEnv } from "./http/context";
import { authRoutes } from "./routes/auth";
import { chatRoutes } from "./routes/chats";
import { fileRoutes } from "./routes/files";
import { runRoutes } from "./routes/runs";
import { scheduleRoutes } from "./routes/schedules";
import { settingsRoutes } from "./routes/settings";
import { streamRoutes } from "./routes/streams";
import { tokenRoutes } from "./routes/tokens";

/** Largest request body accepted anywhere; message content has its own, smaller limit. */
export const MAX_BODY_BYTES = 512 * 1024;

const api = new Hono<AppEnv>()
  .use(async (c, next) => {
    c.set("db", createDb(c.env.DB));
    await next();
  })
  .use(sameOrigin)
  .use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new AppError("payload_too_large", `Request bodies are limited to ${MAX_BODY_BYTES} bytes`);
      },
    }),
  )
  .route("/auth", authRoutes)
  .use("/tokens/*", requireUser)
  .use("/chats/*", requireUser)
  .use("/settings/*", requireUser)
  .route("/tokens", tokenRoutes)
  .route("/chats", chatRoutes)
  .route("/chats", streamRoutes)
  .route("/chats", runRoutes)
  .route("/chats", fileRoutes)
  .use("/schedules/*", requireUser)
  .route("/schedules", scheduleRoutes)
  .route("/settings", settingsRoutes);

export const app = new Hono<AppEnv>()
  .route("/api", api)
  .notFound((c) => c.json(errorBody("not_found", "No such route"), 404))
  .onError((err, c) => {
    if (err instanceof AppError) {
      if (err.code === "rate_limited") c.header("retry-after", "60");
      return c.json(errorBody(err.code, err.message, err.details), err.status);
    }
    console.error(
      JSON.stringify({
        msg: "unhandled error",
        method: c.req.method,
        path: c.req.path,
        error: String(err),
        stack: err instanceof Error ? err.stack : undefined,
      }),
    );
    return c.json(errorBody("internal_error", "Something went wrong on our side"), 500);
  });

export type AppType = typeof app;
