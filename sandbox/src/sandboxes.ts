/**
 * Sandboxes as directories on disk: `<root>/<id>/{sandbox.json,workspace,home,runs}`. Used by the
 * routes and the run manager. Creation and deletion are single renames, so a sandbox is either
 * fully there or absent, and concurrent idempotent PUTs never create two.
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";

export type SandboxInfo = { id: string; status: "ready"; createdAt: string };

export type SandboxPaths = { dir: string; workspace: string; home: string; runs: string };

export class SandboxStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
    mkdirSync(root, { recursive: true });
  }

  paths(id: string): SandboxPaths {
    const dir = join(this.root, id);
    return { dir, workspace: join(dir, "workspace"), home: join(dir, "home"), runs: join(dir, "runs") };
  }

  get(id: string): SandboxInfo | null {
    try {
      const raw: unknown = JSON.parse(readFileSync(join(this.root, id, "sandbox.json"), "utf8"));
      if (typeof raw === "object" && raw !== null && "createdAt" in raw && typeof raw.createdAt === "string") {
        return { id, status: "ready", createdAt: raw.createdAt };
      }
      return null;
    } catch {
      return null;
    }
  }

  /** Creates the sandbox unless it exists; `created` tells which. */
  create(id: string): { created: boolean; sandbox: SandboxInfo } {
    const existing = this.get(id);
    if (existing) return { created: false, sandbox: existing };
    const staging = join(this.root, `.staging-${randomUUID()}`);
    const createdAt = new Date().toISOString();
    for (const sub of ["workspace", "home", "runs"]) mkdirSync(join(staging, sub), { recursive: true });
    writeFileSync(join(staging, "sandbox.json"), JSON.stringify({ id, createdAt }));
    try {
      renameSync(staging, join(this.root, id));
    } catch (err: unknown) {
      rmSync(staging, { recursive: true, force: true });
      const raced = this.get(id);
      if (raced) return { created: false, sandbox: raced };
      throw err;
    }
    return { created: true, sandbox: { id, status: "ready", createdAt } };
  }

  /** Moves the sandbox out of the way at once, then removes it in the background. */
  async remove(id: string): Promise<boolean> {
    const dir = join(this.root, id);
    if (!existsSync(join(dir, "sandbox.json"))) return false;
    const trash = join(this.root, `.trash-${randomUUID()}`);
    renameSync(dir, trash);
    await rm(trash, { recursive: true, force: true });
    return true;
  }
}
