/**
 * Workspace file access for the files routes: list a directory, read and write a file. Every path
 * goes through `resolveInWorkspace`, which rejects absolute paths, `..` escapes and NUL bytes, and
 * checks that the real path (after symlinks) of the target or its nearest existing ancestor stays
 * inside the workspace's real path. The access itself then walks that real path one directory
 * descriptor at a time, refusing any symlink: the sandbox's agent may be changing its workspace
 * while the provider (root) reads it, and a component swapped for a symlink after the check must
 * not lead anywhere else. Files the API writes belong to the sandbox's uid.
 */
import {
  closeSync,
  constants,
  existsSync,
  fchownSync,
  fstatSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  type Stats,
  writeSync,
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
      // A symlink the provider cannot follow (a loop, another process's /proc entry) leads nowhere inside.
      if (code !== "ENOENT" && code !== "ENOTDIR") throw invalidPath(`path cannot be resolved (${code ?? "error"})`);
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

/** Descriptor paths (`/proc/self/fd/N/name`) make a walk that cannot be redirected; without /proc, plain paths. */
const HAVE_FD_PATHS = existsSync("/proc/self/fd");

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

function changed(): ApiError {
  return invalidPath("the path changed while it was used (a symlink appeared)");
}

/** An open directory: `at(name)` names an entry of exactly this directory. */
class DirHandle {
  private fd: number | null;
  private readonly path: string;

  // No parameter properties: Node runs this file by stripping types, which cannot rewrite them.
  private constructor(fd: number | null, path: string) {
    this.fd = fd;
    this.path = path;
  }

  static root(workspaceReal: string): DirHandle {
    return HAVE_FD_PATHS
      ? new DirHandle(openSync(workspaceReal, constants.O_RDONLY | constants.O_DIRECTORY), workspaceReal)
      : new DirHandle(null, workspaceReal);
  }

  get self(): string {
    return this.fd === null ? this.path : `/proc/self/fd/${this.fd}`;
  }

  at(name: string): string {
    return `${this.self}/${name}`;
  }

  /** Opens the subdirectory `name`, creating it (owned by `owner`) when asked; closes this handle. */
  descend(name: string, create: { owner: number | null } | null, display: string): DirHandle {
    try {
      if (create) {
        try {
          mkdirSync(this.at(name));
          if (create.owner !== null) lchownSync(this.at(name), create.owner, create.owner);
        } catch (err: unknown) {
          if (errorCode(err) !== "EEXIST") throw err;
        }
      }
      if (this.fd === null) {
        const next = join(this.path, name);
        if (lstatSync(next).isSymbolicLink()) throw changed();
        if (!lstatSync(next).isDirectory())
          throw new ApiError(400, "not_a_directory", `a parent of ${display} is a file`);
        return new DirHandle(null, next);
      }
      return new DirHandle(openSync(this.at(name), DIR_FLAGS), join(this.path, name));
    } catch (err: unknown) {
      if (err instanceof ApiError) throw err;
      // With O_DIRECTORY, a symlink in the way reads as ENOTDIR rather than ELOOP.
      if (errorCode(err) === "ENOTDIR" && this.isSymlink(name)) throw changed();
      throw fsError(err, display, "directory");
    } finally {
      this.close();
    }
  }

  private isSymlink(name: string): boolean {
    try {
      return lstatSync(this.at(name)).isSymbolicLink();
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function fsError(err: unknown, display: string, what: "file" | "directory"): unknown {
  const code = errorCode(err);
  if (code === "ELOOP") return changed();
  if (code === "ENOENT") return new ApiError(404, "not_found", `no such ${what}: ${display}`);
  if (code === "ENOTDIR") return new ApiError(400, "not_a_directory", `a parent of ${display} is a file`);
  return err;
}

/** The symlink-free components from the workspace root to `real` (a path `resolveInWorkspace` gave). */
function components(workspace: string, real: string): { root: string; parts: string[] } {
  const root = realpathSync(workspace);
  const rel = relative(root, real);
  return { root, parts: rel === "" ? [] : rel.split(sep) };
}

/** Walks to the directory holding `parts` (all but the last when `leaf`), never through a symlink. */
function walk(
  workspace: string,
  real: string,
  display: string,
  opts: { leaf: boolean; create?: { owner: number | null } },
): { dir: DirHandle; name: string | null } {
  const { root, parts } = components(workspace, real);
  const name = opts.leaf ? (parts.pop() ?? null) : null;
  let dir = DirHandle.root(root);
  for (const part of parts) dir = dir.descend(part, opts.create ?? null, display);
  return { dir, name };
}

function entryType(s: Stats): Entry["type"] {
  return s.isFile() ? "file" : s.isDirectory() ? "dir" : "other";
}

export function listDir(workspace: string, path: string): Entry[] {
  const real = resolveInWorkspace(workspace, path);
  let handle: DirHandle;
  try {
    handle = walk(workspace, real, path, { leaf: false }).dir;
  } catch (err: unknown) {
    if (err instanceof ApiError && err.code === "not_a_directory" && existsSync(real)) {
      throw new ApiError(400, "not_a_directory", `${path} is not a directory`);
    }
    if (err instanceof ApiError && err.code === "not_found")
      throw new ApiError(404, "not_found", `no such directory: ${path}`);
    throw err;
  }
  try {
    const entries: Entry[] = [];
    for (const name of readdirSync(handle.self)) {
      try {
        const s = lstatSync(handle.at(name));
        entries.push({ name, type: entryType(s), size: s.size, modifiedAt: s.mtime.toISOString() });
      } catch {
        // Removed while listing.
      }
    }
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } finally {
    handle.close();
  }
}

export function readWorkspaceFile(workspace: string, path: string): Buffer {
  const real = resolveInWorkspace(workspace, path);
  const { dir, name } = walk(workspace, real, path, { leaf: true });
  if (name === null) {
    dir.close();
    throw new ApiError(400, "not_a_file", `${path} is a directory`);
  }
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO the agent left here must not hang the provider.
    fd = openSync(dir.at(name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err: unknown) {
    throw fsError(err, path, "file");
  } finally {
    dir.close();
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new ApiError(400, "not_a_file", `${path} is a directory`);
    if (!stat.isFile()) throw new ApiError(400, "not_a_file", `${path} is not a regular file`);
    if (stat.size > MAX_FILE_BYTES) throw new ApiError(413, "file_too_large", `${path} is larger than 10 MiB`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a file; created directories and the file belong to `owner` (the sandbox's uid, if any). */
export function writeWorkspaceFile(
  workspace: string,
  path: string,
  content: Buffer,
  owner: number | null = null,
): void {
  const normal = normalize(path === "" ? "." : path);
  if (normal === ".") throw new ApiError(400, "not_a_file", "the workspace root is a directory");
  const real = resolveInWorkspace(workspace, path);
  const { dir, name } = walk(workspace, real, path, { leaf: true, create: { owner } });
  if (name === null) {
    dir.close();
    throw new ApiError(400, "not_a_file", `${path} is a directory`);
  }
  let fd: number;
  try {
    const flags =
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_NONBLOCK;
    fd = openSync(dir.at(name), flags, 0o644);
  } catch (err: unknown) {
    if (errorCode(err) === "EISDIR") throw new ApiError(400, "not_a_file", `${path} is a directory`);
    throw fsError(err, path, "file");
  } finally {
    dir.close();
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new ApiError(400, "not_a_file", `${path} is not a regular file`);
    if (owner !== null && stat.uid !== owner) fchownSync(fd, owner, owner);
    let offset = 0;
    while (offset < content.length) offset += writeSync(fd, content, offset);
  } finally {
    closeSync(fd);
  }
}
