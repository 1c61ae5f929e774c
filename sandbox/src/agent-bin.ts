/**
 * Where sandboxes find the agent CLI. With a uid per sandbox, the binary and every directory above
 * it must be open to other users; a checkout under a private directory (a 0700 home or temp dir)
 * is not. Then the provider stages the binary in its own root (a hard link, or a copy across file
 * systems), which sandbox users can reach. Used once at start-up by the server.
 */
import { chmodSync, copyFileSync, linkSync, mkdirSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

/** True when any user may run the file: it is world-readable and executable, and so is every directory above it. */
function openToAll(file: string): boolean {
  if ((statSync(file).mode & 0o005) !== 0o005) return false;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dirname(dir) === dir) return true;
  }
}

/** The path sandboxes run the agent from: `agentBin` itself when they can reach it, else a staged one under `root`. */
export function agentBinForSandboxes(agentBin: string, root: string, uidPerSandbox: boolean): string {
  if (!uidPerSandbox || openToAll(agentBin)) return agentBin;
  const dir = join(root, ".agent");
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const staged = join(dir, "claude");
  rmSync(staged, { force: true });
  try {
    linkSync(agentBin, staged);
  } catch {
    copyFileSync(agentBin, staged); // another file system: a hard link cannot cross it
  }
  chmodSync(staged, 0o755);
  return staged;
}
