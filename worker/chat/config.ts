/**
 * Tunables of the chat stream and its runs, read from the environment with defaults (DESIGN sections 3-5).
 * Tests and benchmarks override them through bindings; a malformed value falls back to the default.
 */
export type StreamConfig = {
  coalesceWindowMs: number;
  coalesceMaxBytes: number;
  flushIntervalMs: number;
  flushRetryBaseMs: number;
  flushRetryMaxMs: number;
  sseHeartbeatMs: number;
  sseMaxMs: number;
  /** How long a WebSocket listener stays connected before it must reconnect (and authenticate again). */
  wsMaxMs: number;
  providerSilenceMs: number;
  agentSilenceMs: number;
  watchdogIntervalMs: number;
  /** Envelope characters of the newest events held in memory for replays (0 turns it off). */
  recentEventsChars: number;
};

type ConfigEnv = Partial<Record<string, unknown>>;

function num(env: ConfigEnv, key: string, fallback: number): number {
  const raw = env[key];
  const value = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

export function streamConfig(env: ConfigEnv): StreamConfig {
  return {
    coalesceWindowMs: num(env, "COALESCE_WINDOW_MS", 25),
    coalesceMaxBytes: num(env, "COALESCE_MAX_BYTES", 4096),
    flushIntervalMs: num(env, "FLUSH_INTERVAL_MS", 1000),
    flushRetryBaseMs: num(env, "FLUSH_RETRY_BASE_MS", 1000),
    flushRetryMaxMs: num(env, "FLUSH_RETRY_MAX_MS", 60_000),
    sseHeartbeatMs: num(env, "SSE_HEARTBEAT_MS", 15_000),
    sseMaxMs: num(env, "SSE_MAX_MS", 5 * 60_000),
    wsMaxMs: num(env, "WS_MAX_MS", 5 * 60_000),
    providerSilenceMs: num(env, "PROVIDER_SILENCE_MS", 60_000),
    agentSilenceMs: num(env, "AGENT_SILENCE_MS", 10 * 60_000),
    watchdogIntervalMs: num(env, "WATCHDOG_INTERVAL_MS", 5_000),
    recentEventsChars: num(env, "RECENT_EVENTS_CHARS", 4 * 1024 * 1024),
  };
}
