/**
 * What the tests look at on the host itself, outside every sandbox: a sandbox has its own PID
 * namespace, so whether a process it started is really gone can only be seen from here.
 */
import { readdirSync, readFileSync } from "node:fs";

/** True when some live process on the host has `needle` in its command line. */
export function hostProcessWith(needle: string): boolean {
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(needle)) return true;
    } catch {
      // Gone while looking.
    }
  }
  return false;
}
