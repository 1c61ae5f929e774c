/**
 * Bytes a directory tree really occupies on disk (allocated blocks, so sparse files count for what
 * they hold), walked asynchronously without following symlinks, and the files at least `bigFileBytes`
 * long (by apparent size) met on the way. Used by the resource monitor for a sandbox's workspace,
 * home and /tmp. The tree belongs to the sandbox, so the walk uses an explicit
 * stack (no recursion depth to exhaust) and tolerates entries vanishing under it.
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

const BATCH = 64;
/** Big files reported by one walk at most (one is enough to act on). */
const MAX_BIG_FILES = 16;

export type BigFile = { path: string; size: number; mtimeMs: number };

export type DiskUsage = { bytes: number; bigFiles: BigFile[] };

export async function diskUsage(roots: string[], bigFileBytes = Number.POSITIVE_INFINITY): Promise<DiskUsage> {
  let total = 0;
  const bigFiles: BigFile[] = [];
  const dirs: string[] = [];
  const visit = async (path: string) => {
    try {
      const stat = await lstat(path);
      total += stat.blocks * 512;
      if (stat.isDirectory()) dirs.push(path);
      else if (stat.isFile() && stat.size >= bigFileBytes && bigFiles.length < MAX_BIG_FILES)
        bigFiles.push({ path, size: stat.size, mtimeMs: stat.mtimeMs });
    } catch {
      // Vanished meanwhile.
    }
  };
  await Promise.all(roots.map(visit));
  while (dirs.length > 0) {
    const dir = dirs.pop() as string;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (let i = 0; i < names.length; i += BATCH) {
      await Promise.all(names.slice(i, i + BATCH).map((name) => visit(join(dir, name))));
    }
  }
  return { bytes: total, bigFiles };
}
