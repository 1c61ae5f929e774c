/**
 * Per-sandbox resource limits: their defaults, how they are read from the environment, and the
 * kernel rlimits (`prlimit`) every sandboxed process starts under. Used by main.ts, the jail and the
 * resource monitor. The rlimits are hard per-process caps; the monitor enforces the per-sandbox sums.
 */

export type SandboxLimits = {
  /** Tasks (processes and threads) of one sandbox at once. RLIMIT_NPROC, counted per sandbox uid. */
  maxProcesses: number;
  /** Anonymous resident memory of all of a sandbox's processes together. */
  maxMemoryBytes: number;
  /** CPU time of everything one run (or one exec) starts, children included. */
  maxRunCpuSeconds: number;
  /** Largest file a sandboxed process may write (RLIMIT_FSIZE). */
  maxFileBytes: number;
  /** Bytes on disk of a sandbox's workspace, home and /tmp together. */
  maxDiskBytes: number;
  /** Open file descriptors per process (RLIMIT_NOFILE). */
  maxOpenFiles: number;
};

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: SandboxLimits = {
  maxProcesses: 512,
  maxMemoryBytes: 4096 * MiB,
  maxRunCpuSeconds: 1800,
  maxFileBytes: 1024 * MiB,
  maxDiskBytes: 10_240 * MiB,
  maxOpenFiles: 4096,
};

/** The environment variable of each limit and the unit it is given in. */
export const LIMIT_ENV: Record<keyof SandboxLimits, { name: string; unit: number }> = {
  maxProcesses: { name: "SANDBOX_MAX_PROCESSES", unit: 1 },
  maxMemoryBytes: { name: "SANDBOX_MAX_MEMORY_MB", unit: MiB },
  maxRunCpuSeconds: { name: "SANDBOX_RUN_CPU_SECONDS", unit: 1 },
  maxFileBytes: { name: "SANDBOX_MAX_FILE_MB", unit: MiB },
  maxDiskBytes: { name: "SANDBOX_MAX_DISK_MB", unit: MiB },
  maxOpenFiles: { name: "SANDBOX_MAX_OPEN_FILES", unit: 1 },
};

/** Reads the limits; an unset variable keeps its default, a malformed one is an error. */
export function limitsFromEnv(env: Record<string, string | undefined>): SandboxLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(LIMIT_ENV) as (keyof SandboxLimits)[]) {
    const { name, unit } = LIMIT_ENV[key];
    const raw = env[name];
    if (raw === undefined || raw.trim() === "") continue;
    if (!/^\d{1,9}$/.test(raw.trim()) || Number(raw) < 1) throw new Error(`${name} must be a positive whole number`);
    limits[key] = Number(raw) * unit;
  }
  return limits;
}

/**
 * `prlimit` options for a sandboxed process. The memory and CPU rlimits are backstops set above the
 * per-sandbox limits, so that the monitor, which sees every process together, reports the breach
 * with its code first: RLIMIT_DATA is twice the sandbox's memory (one process can pass the sum but
 * cannot take the machine), RLIMIT_CPU a little over the run's CPU time (SIGXCPU, then SIGKILL five
 * seconds later). Core dumps are off.
 */
export function prlimitArgs(limits: SandboxLimits): string[] {
  const cpu = limits.maxRunCpuSeconds + Math.max(2, Math.ceil(limits.maxRunCpuSeconds / 10));
  return [
    `--nproc=${limits.maxProcesses}`,
    `--nofile=${limits.maxOpenFiles}`,
    `--fsize=${limits.maxFileBytes}`,
    `--cpu=${cpu}:${cpu + 5}`,
    `--data=${limits.maxMemoryBytes * 2}`,
    "--core=0",
  ];
}
