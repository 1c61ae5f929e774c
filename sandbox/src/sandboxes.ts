/**
 * Sandboxes as directories on disk: `<root>/<id>/{sandbox.json,workspace,home,tmp,etc,runs}`. Used by
 * the routes, the run manager and the idle reaper. Creation and deletion are single renames, so a
 * sandbox is either fully there or absent, and concurrent idempotent PUTs never create two. When the
 * provider runs as root each sandbox owns a distinct uid: its workspace, home and tmp are 0700 and
 * belong to that uid alone; everything else stays root's.
 */
import { randomUUID } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { ApiError } from "./http.ts";

export type SandboxStatus = "ready" | "stopped";

export type SandboxInfo = { id: string; status: SandboxStatus; createdAt: string };

export type SandboxPaths = { dir: string; workspace: string; home: string; tmp: string; etc: string; runs: string };

/** A range of host uids handed out one per sandbox; `base` itself is kept for the start-up probe. */
export type UidRange = { base: number; count: number };

type Stored = { id: string; createdAt: string; uid: number | null };

/** Directories the sandbox's own uid owns (mode 0700); the rest of a sandbox belongs to the provider. */
const OWNED_DIRS = ["workspace", "home", "tmp"] as const;

export class SandboxStore {
  readonly root: string;
  readonly uids: UidRange | null;
  private readonly byId = new Map<string, Stored>();
  private readonly usedUids = new Set<number>();
  private readonly stopped = new Set<string>();

  /** `uids` null: every sandbox runs as the provider's own user (not root, or isolation off). */
  constructor(root: string, uids: UidRange | null = null) {
    this.root = root;
    this.uids = uids;
    mkdirSync(root, { recursive: true });
    // Sandbox users must pass through the root to reach their own directories, but not list it.
    if (uids) chmodSync(root, 0o711);
    this.load();
  }

  private load(): void {
    for (const entry of readdirSync(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
      const stored = this.readStored(entry.name);
      if (!stored) continue;
      if (stored.uid !== null) this.usedUids.add(stored.uid);
      this.byId.set(stored.id, stored);
    }
    // Sandboxes from before uids were handed out (or made without isolation) get one now.
    for (const stored of this.byId.values()) {
      if (this.uids && stored.uid === null) this.adopt(stored);
      // Older layouts lack tmp and etc, which the jail binds.
      else if (!existsSync(join(this.paths(stored.id).etc, "passwd"))) prepareLayout(this.paths(stored.id), stored.uid);
    }
  }

  private readStored(id: string): Stored | null {
    try {
      const raw: unknown = JSON.parse(readFileSync(join(this.root, id, "sandbox.json"), "utf8"));
      if (typeof raw !== "object" || raw === null || !("createdAt" in raw) || typeof raw.createdAt !== "string") {
        return null;
      }
      const uid = "uid" in raw && typeof raw.uid === "number" && Number.isInteger(raw.uid) ? raw.uid : null;
      return { id, createdAt: raw.createdAt, uid };
    } catch {
      return null;
    }
  }

  private adopt(stored: Stored): void {
    const uid = this.allocateUid();
    const paths = this.paths(stored.id);
    prepareLayout(paths, uid);
    for (const sub of OWNED_DIRS) chownTree(join(paths.dir, sub), uid);
    stored.uid = uid;
    writeFileSync(join(paths.dir, "sandbox.json"), JSON.stringify(stored));
    this.usedUids.add(uid);
  }

  private allocateUid(): number {
    const range = this.uids;
    if (!range) throw new Error("no uid range configured");
    for (let uid = range.base + 1; uid < range.base + range.count; uid++) {
      if (!this.usedUids.has(uid)) return uid;
    }
    throw new ApiError(503, "capacity_exhausted", "every sandbox uid of this provider is in use");
  }

  paths(id: string): SandboxPaths {
    return layoutAt(join(this.root, id));
  }

  get(id: string): SandboxInfo | null {
    const stored = this.byId.get(id);
    if (!stored) return null;
    return { id, status: this.stopped.has(id) ? "stopped" : "ready", createdAt: stored.createdAt };
  }

  /** The host uid the sandbox's processes run as; null when they run as the provider's user. */
  uidOf(id: string): number | null {
    return this.byId.get(id)?.uid ?? null;
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  /** Marks a sandbox stopped (idle) or ready again (any use wakes it). */
  setStopped(id: string, stopped: boolean): void {
    if (stopped) this.stopped.add(id);
    else this.stopped.delete(id);
  }

  /** Creates the sandbox unless it exists; `created` tells which. */
  create(id: string): { created: boolean; sandbox: SandboxInfo } {
    const existing = this.get(id);
    if (existing) return { created: false, sandbox: existing };
    const staging = join(this.root, `.staging-${randomUUID()}`);
    const createdAt = new Date().toISOString();
    const uid = this.uids ? this.allocateUid() : null;
    const stored: Stored = { id, createdAt, uid };
    try {
      prepareLayout(layoutAt(staging), uid);
      writeFileSync(join(staging, "sandbox.json"), JSON.stringify(stored), { mode: 0o600 });
      renameSync(staging, join(this.root, id));
    } catch (err: unknown) {
      rmSync(staging, { recursive: true, force: true });
      throw err;
    }
    this.byId.set(id, stored);
    if (uid !== null) this.usedUids.add(uid);
    return { created: true, sandbox: { id, status: "ready", createdAt } };
  }

  /** Moves the sandbox out of the way at once, then removes it in the background; frees its uid. */
  async remove(id: string): Promise<boolean> {
    const stored = this.byId.get(id);
    if (!stored) return false;
    const dir = join(this.root, id);
    const trash = join(this.root, `.trash-${randomUUID()}`);
    renameSync(dir, trash);
    this.byId.delete(id);
    this.stopped.delete(id);
    await rm(trash, { recursive: true, force: true });
    if (stored.uid !== null) this.usedUids.delete(stored.uid);
    return true;
  }
}

/** The paths of a sandbox kept in `dir`. */
export function layoutAt(dir: string): SandboxPaths {
  return {
    dir,
    workspace: join(dir, "workspace"),
    home: join(dir, "home"),
    tmp: join(dir, "tmp"),
    etc: join(dir, "etc"),
    runs: join(dir, "runs"),
  };
}

/**
 * Makes a sandbox's directories and its passwd/group; with a `uid`, hands it the workspace, home and
 * tmp (0700) and leaves the rest to the provider. Used for real sandboxes and the start-up probe.
 */
export function prepareLayout(paths: SandboxPaths, uid: number | null): void {
  for (const dir of [paths.workspace, paths.home, paths.tmp, paths.runs]) mkdirSync(dir, { recursive: true });
  writeIdentity(paths, uid ?? ownUid());
  if (uid !== null) setModes(paths, uid);
}

/** The sandbox's own /etc/passwd and /etc/group: itself, root and nobody, nothing of the host. */
function writeIdentity(paths: Pick<SandboxPaths, "etc">, uid: number): void {
  mkdirSync(paths.etc, { recursive: true });
  writeFileSync(
    join(paths.etc, "passwd"),
    `root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:${uid}:${uid}:sandbox:/home/sandbox:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
    { mode: 0o644 },
  );
  writeFileSync(join(paths.etc, "group"), `root:x:0:\nsandbox:x:${uid}:\nnogroup:x:65534:\n`, { mode: 0o644 });
}

function setModes(paths: SandboxPaths, uid: number): void {
  chmodSync(paths.dir, 0o711);
  for (const dir of [paths.workspace, paths.home, paths.tmp]) {
    lchownSync(dir, uid, uid);
    chmodSync(dir, 0o700);
  }
  chmodSync(paths.etc, 0o755);
  chmodSync(paths.runs, 0o700);
}

function ownUid(): number {
  return process.getuid?.() ?? 1000;
}

/** chown -R that never follows a symlink (lchown), for sandboxes adopted into a uid. */
function chownTree(path: string, uid: number): void {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (stat.isDirectory()) {
    for (const name of readdirSync(path)) chownTree(join(path, name), uid);
  }
  lchownSync(path, uid, uid);
}
