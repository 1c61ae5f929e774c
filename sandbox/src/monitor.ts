/**
 * The resource monitor: enforces each sandbox's limits over all of its processes together, which
 * per-process rlimits cannot. Used by the run manager and exec. A watched job is one process tree
 * (a run's or an exec's jail); every tick reads /proc once, sums tasks and anonymous memory per
 * sandbox and CPU time per job, counts each process's open files, and walks each busy sandbox's disk
 * less often (its total, and files grown to the file size limit). A breach is reported once per
 * job, with a stable code; the caller ends the job. Nothing else is touched.
 */
import { diskUsage } from "./disk-usage.ts";
import type { SandboxLimits } from "./limits.ts";
import { anonBytes, CLOCK_TICKS_PER_SECOND, openFileCount, scanProcesses, treeOf } from "./proc-table.ts";

export type LimitCode =
  | "process_limit"
  | "memory_limit"
  | "cpu_limit"
  | "disk_limit"
  | "file_size_limit"
  | "open_files_limit";

export type LimitBreach = { code: LimitCode; message: string };

export type WatchedJob = {
  sandboxId: string;
  /** The jail's top process (bwrap); everything the job starts lives below it. */
  pid: number;
  limits: SandboxLimits;
  /** The sandbox's writable directories, whose sum is held to `maxDiskBytes`. */
  dirs: string[];
  onBreach(breach: LimitBreach): void;
};

/**
 * `lastDisk`: the sandbox's usage at the latest walk during this job (none yet: null). `startedAt`:
 * when watching began; only files written since then count against the job.
 */
type Job = WatchedJob & { reported: boolean; lastDisk: number | null; startedAt: number };

type DiskState = { walking: boolean; nextAt: number };

export type MonitorOptions = { intervalMs: number; diskIntervalMs: number; procRoot?: string };

const MiB = 1024 * 1024;

function formatSize(bytes: number): string {
  return bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`;
}

/**
 * The count that counts as "at the limit" for the limits the kernel holds (RLIMIT_NPROC per sandbox,
 * RLIMIT_NOFILE per process): processes of a fork bomb die and respawn between two samples, and a
 * program refused a descriptor may close others, so a sample rarely sees the exact limit: 90% of it
 * (at least limit - 1) is taken as reaching it.
 */
function atLimit(max: number): number {
  return Math.max(1, Math.min(max - 1, Math.floor(max * 0.9)));
}

export class ResourceMonitor {
  private readonly options: MonitorOptions;
  private readonly jobs = new Set<Job>();
  private readonly disk = new Map<string, DiskState>();
  private timer: NodeJS.Timeout | null = null;

  constructor(options: MonitorOptions) {
    this.options = options;
  }

  /** Starts watching a job; the returned function stops it (call it when the job has ended). */
  watch(watched: WatchedJob): () => void {
    const job: Job = { ...watched, reported: false, lastDisk: null, startedAt: Date.now() };
    this.jobs.add(job);
    if (!this.disk.has(job.sandboxId)) this.disk.set(job.sandboxId, { walking: false, nextAt: 0 });
    this.timer ??= setInterval(() => this.tick(), this.options.intervalMs);
    this.timer.unref();
    return () => {
      this.jobs.delete(job);
      if (this.jobs.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  /** True while the sandbox has a watched job (a run or an exec). */
  busy(sandboxId: string): boolean {
    for (const job of this.jobs) if (job.sandboxId === sandboxId) return true;
    return false;
  }

  /** Drops what is remembered of a deleted sandbox. */
  forget(sandboxId: string): void {
    if (![...this.jobs].some((j) => j.sandboxId === sandboxId)) this.disk.delete(sandboxId);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.jobs.clear();
    this.disk.clear();
  }

  private breach(jobs: Job[], breach: LimitBreach): void {
    for (const job of jobs) {
      if (job.reported) continue;
      job.reported = true;
      job.onBreach(breach);
    }
  }

  private tick(): void {
    const table = scanProcesses(this.options.procRoot);
    const bySandbox = new Map<string, Job[]>();
    for (const job of this.jobs) {
      const list = bySandbox.get(job.sandboxId);
      if (list) list.push(job);
      else bySandbox.set(job.sandboxId, [job]);
    }
    for (const [sandboxId, jobs] of bySandbox) {
      const limits = (jobs[0] as Job).limits;
      let tasks = 0;
      let memory = 0;
      for (const job of jobs) {
        const tree = treeOf(table, job.pid);
        let ticks = 0;
        let mostOpenFiles = 0;
        for (const p of tree) {
          tasks += p.threads;
          memory += anonBytes(p.pid, this.options.procRoot);
          ticks += p.cpuTicks;
          mostOpenFiles = Math.max(mostOpenFiles, openFileCount(p.pid, this.options.procRoot));
        }
        if (mostOpenFiles >= atLimit(job.limits.maxOpenFiles)) {
          this.breach([job], {
            code: "open_files_limit",
            message: `reached ${job.limits.maxOpenFiles} open files in one process (limit per process)`,
          });
        }
        const cpuSeconds = ticks / CLOCK_TICKS_PER_SECOND;
        if (cpuSeconds > job.limits.maxRunCpuSeconds) {
          this.breach([job], {
            code: "cpu_limit",
            message: `used more than ${job.limits.maxRunCpuSeconds} s of CPU time (limit per run)`,
          });
        }
      }
      if (tasks >= atLimit(limits.maxProcesses)) {
        this.breach(jobs, {
          code: "process_limit",
          message: `reached ${limits.maxProcesses} processes and threads (limit per sandbox)`,
        });
      }
      if (memory > limits.maxMemoryBytes) {
        this.breach(jobs, {
          code: "memory_limit",
          message: `used more than ${Math.round(limits.maxMemoryBytes / MiB)} MiB of memory (limit per sandbox)`,
        });
      }
      this.checkDisk(sandboxId, jobs);
    }
  }

  /**
   * Walks the sandbox's directories when due (never two walks at once). A job is stopped when the
   * sandbox is over its limit and its usage grew since the job's previous walk: a job that starts in
   * an over-full sandbox (to clean it up, say) is judged only on what it adds itself. Likewise a file
   * at the file size limit (where RLIMIT_FSIZE stopped its writer) counts against a job only when it
   * was written while the job ran.
   */
  private checkDisk(sandboxId: string, jobs: Job[]): void {
    const state = this.disk.get(sandboxId);
    if (!state || state.walking || Date.now() < state.nextAt) return;
    state.walking = true;
    const started = Date.now();
    const limits = (jobs[0] as Job).limits;
    void diskUsage((jobs[0] as Job).dirs, limits.maxFileBytes).then(({ bytes: used, bigFiles }) => {
      state.walking = false;
      // Big trees are walked less often: at most a fifth of the time goes to walking.
      state.nextAt = Date.now() + Math.max(this.options.diskIntervalMs, 5 * (Date.now() - started));
      for (const job of this.jobs) {
        if (job.sandboxId !== sandboxId) continue;
        const grew = job.lastDisk !== null && used > job.lastDisk;
        job.lastDisk = used;
        if (used > limits.maxDiskBytes && grew) {
          this.breach([job], {
            code: "disk_limit",
            message: `wrote more than ${Math.round(limits.maxDiskBytes / MiB)} MiB to its workspace, home and /tmp (limit per sandbox)`,
          });
        }
        if (bigFiles.some((file) => file.mtimeMs >= job.startedAt)) {
          this.breach([job], {
            code: "file_size_limit",
            message: `wrote a file of ${formatSize(limits.maxFileBytes)}, the largest one file may be (limit per file)`,
          });
        }
      }
    });
  }
}
