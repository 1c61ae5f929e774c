/**
 * A snapshot of the host's processes read from /proc: parent, thread count and CPU time of each,
 * and the trees below given pids. Used by the resource monitor and the idle reaper. Every read
 * tolerates processes that exit while the table is being built.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";

export type ProcEntry = {
  pid: number;
  ppid: number;
  threads: number;
  /** utime + stime + cutime + cstime in clock ticks: the process, plus every child it has reaped. */
  cpuTicks: number;
};

/** USER_HZ, the unit of CPU times in /proc: fixed at 100 in the Linux ABI on every architecture we run. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** Parses `/proc/<pid>/stat`; the command name may hold spaces and parentheses, so split after the last ")". */
export function parseStat(pid: number, text: string): ProcEntry | null {
  const close = text.lastIndexOf(")");
  if (close === -1) return null;
  const f = text.slice(close + 2).split(" ");
  // f[0] is field 3 (state): field n is f[n - 3].
  const num = (n: number) => Number(f[n - 3] ?? Number.NaN);
  const ppid = num(4);
  const ticks = num(14) + num(15) + num(16) + num(17);
  const threads = num(20);
  if (!Number.isFinite(ppid) || !Number.isFinite(ticks) || !Number.isFinite(threads)) return null;
  return { pid, ppid, threads, cpuTicks: ticks };
}

export function scanProcesses(procRoot = "/proc"): Map<number, ProcEntry> {
  const table = new Map<number, ProcEntry>();
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return table;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const entry = parseStat(pid, readFileSync(`${procRoot}/${name}/stat`, "utf8"));
      if (entry) table.set(pid, entry);
    } catch {
      // Exited while scanning.
    }
  }
  return table;
}

/** `root` and every process below it in the table. */
export function treeOf(table: Map<number, ProcEntry>, root: number): ProcEntry[] {
  const children = new Map<number, number[]>();
  for (const entry of table.values()) {
    const list = children.get(entry.ppid);
    if (list) list.push(entry.pid);
    else children.set(entry.ppid, [entry.pid]);
  }
  const out: ProcEntry[] = [];
  const stack = [root];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const entry = table.get(pid);
    if (!entry) continue;
    out.push(entry);
    for (const child of children.get(pid) ?? []) stack.push(child);
  }
  return out;
}

/** Anonymous resident memory of a process in bytes (RssAnon), 0 when it is gone or a zombie. */
export function anonBytes(pid: number, procRoot = "/proc"): number {
  try {
    const status = readFileSync(`${procRoot}/${pid}/status`, "utf8");
    const match = /^RssAnon:\s+(\d+)\s+kB/m.exec(status);
    return match?.[1] ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Open file descriptors of a process, 0 when it is gone (or its descriptors cannot be read). */
export function openFileCount(pid: number, procRoot = "/proc"): number {
  try {
    return readdirSync(`${procRoot}/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** Pids whose owner (the owner of `/proc/<pid>`, i.e. their effective uid) is `uid`. */
export function pidsOfUid(uid: number, procRoot = "/proc"): number[] {
  const out: number[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (statSync(`${procRoot}/${name}`).uid === uid) out.push(Number(name));
    } catch {
      // Exited.
    }
  }
  return out;
}

/** SIGKILLs every process running as `uid` (a sandbox's own uid: nothing else runs as it). */
export function killUid(uid: number, procRoot = "/proc"): number {
  let killed = 0;
  for (const pid of pidsOfUid(uid, procRoot)) {
    try {
      process.kill(pid, "SIGKILL");
      killed += 1;
    } catch {
      // Already gone.
    }
  }
  return killed;
}
