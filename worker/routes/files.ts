/**
 * Read-only access to a chat's sandbox files: list a directory, read or download a file. Paths are
 * relative to the workspace; the worker rejects escapes before asking the provider, which checks
 * again (symlinks included).
 */
import { Hono } from "hono";
import { z } from "zod";
import { AppError } from "../errors";
import type { AppEnv } from "../http/context";
import { query } from "../http/validate";
import { ProviderError, type SandboxProvider } from "../sandbox/provider";
import { providerFromEnv } from "../sandbox/provider-for-env";
import { ownedChat } from "./chats";

const pathQuery = z.strictObject({ path: z.string().max(4096).optional() });

/** A workspace-relative path: no absolute paths, no `..` segments, no NUL or backslashes. */
export function workspacePath(raw: string | undefined): string {
  const path = (raw ?? "").trim();
  if (path.startsWith("/") || /[\0\\]/.test(path) || path.split("/").some((seg) => seg === "..")) {
    throw new AppError("invalid_path", "Paths are relative to the workspace and cannot leave it");
  }
  return path === "." ? "" : path;
}

function provider(env: Env): SandboxProvider {
  const setup = providerFromEnv(env);
  if (!setup.ok) throw new AppError("sandbox_unavailable", setup.message);
  return setup.provider;
}

/** Provider failures as API errors: the user's mistakes as 4xx, the provider's as 502. */
function mapProviderError(error: unknown): never {
  if (!(error instanceof ProviderError)) throw error;
  switch (error.code) {
    case "invalid_path":
      throw new AppError("invalid_path", "Paths are relative to the workspace and cannot leave it");
    case "not_found":
    case "sandbox_not_found":
      throw new AppError("file_not_found", "No such file or directory in the sandbox");
    case "not_a_directory":
      throw new AppError("not_a_directory", "That path is a file, not a directory");
    case "not_a_file":
      throw new AppError("not_a_file", "That path is a directory, not a file");
    case "file_too_large":
      throw new AppError("file_too_large", "The file is too large to read through the API");
    default:
      throw new AppError("sandbox_unavailable", `The sandbox provider failed: ${error.message}`);
  }
}

export const fileRoutes = new Hono<AppEnv>()
  .get("/:chatId/files", async (c) => {
    const path = workspacePath(query(c, pathQuery).path);
    const chat = await ownedChat(c, c.req.param("chatId"));
    const listing = await provider(c.env).listFiles(chat.id, path).catch(mapProviderError);
    return c.json(listing);
  })
  .get("/:chatId/files/content", async (c) => {
    const path = workspacePath(query(c, pathQuery).path);
    if (path === "") throw new AppError("not_a_file", "That path is a directory, not a file");
    const chat = await ownedChat(c, c.req.param("chatId"));
    const file = await provider(c.env).readFile(chat.id, path).catch(mapProviderError);
    const name = path.split("/").at(-1) ?? "file";
    return new Response(file.body, {
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(file.size),
        "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
        "x-content-type-options": "nosniff",
      },
    });
  });
