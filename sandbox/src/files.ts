/**
 * Workspace file access for the files routes: list a directory, read and write a file. Every path
 * goes through `resolveInWorkspace`, which rejects absolute paths, `..` escapes and NUL bytes, and
 * checks that the real path (after symlinks) of the target or its nearest existing ancestor stays
 * inside the workspace's real path.
 */
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  type Stats,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, isAbsolute, join, normalize, relative, sep } from "node:path";
import { ApiError } from "./http.ts";

export const MAX_FILE_BYTES = 10 * 1024 * 1024;

export type Entry = { name: string; type: "file" | "dir" | "other"; size: number; modifiedAt: string };

function invalidPath(message: string): ApiError {
  return new ApiError(400, "invalid_path", message);
}

function inside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

function errorCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string"
    ? err.code
    : undefined;
}

/**
 * The absolute path for a workspace-relative `path`. Resolves symlinks of the longest existing
 * prefix; the missing rest (for writes) is appended as is, which cannot leave the root as it has no `..`.
 */
export function resolveInWorkspace(workspace: string, path: string): string {
  if (path.includes("\0")) throw invalidPath("path contains a NUL byte");
  if (isAbsolute(path) || path.startsWith("\\")) throw invalidPath("path must be relative to the workspace");
  const normal = normalize(path === "" ? "." : path);
  if (normal === ".." || normal.startsWith(`..${sep}`)) throw invalidPath("path leaves the workspace");
  const root = realpathSync(workspace);
  const target = join(root, normal);
  let existing = target;
  const missing: string[] = [];
  for (;;) {
    try {
      const real = realpathSync(existing);
      if (!inside(root, real)) throw invalidPath("path resolves outside the workspace");
      return join(real, ...missing.reverse());
    } catch (err: unknown) {
      if (err instanceof ApiError) throw err;
      const code = errorCode(err);
      if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
      // A dangling symlink would be followed by a later write: refuse it unless it points inside.
      try {
        if (lstatSync(existing).isSymbolicLink()) throw invalidPath("path is a dangling symlink");
      } catch (inner: unknown) {
        if (inner instanceof ApiError) throw inner;
      }
      missing.push(existing.slice(dirname(existing).length + 1));
      const parent = dirname(existing);
      if (parent === existing) throw invalidPath("path resolves outside the workspace");
      existing = parent;
    }
  }
}

/** The target's stats, or a 404 `not_found` with `message` when nothing is there. */
function statOrNotFound(target: string, message: string): Stats {
  try {
    return statSync(target);
  } catch {
    throw new ApiError(404, "not_found", message);
  }
}

export function listDir(workspace: string, path: string): Entry[] {
  const dir = resolveInWorkspace(workspace, path);
  const stat = statOrNotFound(dir, `no such directory: ${path}`);
  if (!stat.isDirectory()) throw new ApiError(400, "not_a_directory", `${path} is not a directory`);
  const entries: Entry[] = [];
  for (const name of readdirSync(dir)) {
    try {
      const s = lstatSync(join(dir, name));
      entries.push({
        name,
        type: s.isFile() ? "file" : s.isDirectory() ? "dir" : "other",
        size: s.size,
        modifiedAt: s.mtime.toISOString(),
      });
    } catch {
      // Removed while listing.
    }
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function readWorkspaceFile(workspace: string, path: string): Buffer {
  const file = resolveInWorkspace(workspace, path);
  const stat = statOrNotFound(file, `no such file: ${path}`);
  if (stat.isDirectory()) throw new ApiError(400, "not_a_file", `${path} is a directory`);
  if (!stat.isFile()) throw new ApiError(400, "not_a_file", `${path} is not a regular file`);
  if (stat.size > MAX_FILE_BYTES) throw new ApiError(413, "file_too_large", `${path} is larger than 10 MiB`);
  return readFileSync(file);
}

export function writeWorkspaceFile(workspace: string, path: string, content: Buffer): void {
  const normal = normalize(path === "" ? "." : path);
  if (normal === ".") throw new ApiError(400, "not_a_file", "the workspace root is a directory");
  const file = resolveInWorkspace(workspace, path);
  try {
    if (statSync(file).isDirectory()) throw new ApiError(400, "not_a_file", `${path} is a directory`);
  } catch (err: unknown) {
    if (err instanceof ApiError) throw err;
  }
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  } catch (err: unknown) {
    const code = errorCode(err);
    if (code === "ENOTDIR" || code === "EEXIST")
      throw new ApiError(400, "not_a_directory", `a parent of ${path} is a file`);
    throw err;
  }
}
