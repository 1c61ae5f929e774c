/**
 * The scheduler scenario's /bench/schedules/* routes in the bench worker: seed many schedules of
 * one user straight into D1, run one scheduler tick (the production code, with the D1 binding
 * metered so every query it issues is counted independently of the tick's own count), and report
 * how the runs of one tick are doing. Never deployed.
 */
import { schedulerTick } from "../../worker/scheduler/cron-trigger";

export type D1Meter = { queries: number; statements: number };

/** Wraps a D1 binding so that every round trip (a statement run alone, or a batch) is counted. */
export function meteredD1(db: D1Database, meter: D1Meter): D1Database {
  const originals = new WeakMap<object, D1PreparedStatement>();
  const wrap = (statement: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key);
        if (key === "bind") return (...args: unknown[]) => wrap(target.bind(...args));
        if (key === "all" || key === "run" || key === "first" || key === "raw") {
          return (...args: unknown[]) => {
            meter.queries += 1;
            meter.statements += 1;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    originals.set(proxy, statement);
    return proxy;
  };
  return new Proxy(db, {
    get(target, key) {
      if (key === "prepare") return (query: string) => wrap(target.prepare(query));
      if (key === "batch") {
        return (statements: D1PreparedStatement[]) => {
          meter.queries += 1;
          meter.statements += statements.length;
          return target.batch(statements.map((s) => originals.get(s) ?? s));
        };
      }
      const value: unknown = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function int(url: URL, name: string): number {
  const value = Number(url.searchParams.get(name));
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`bad ${name}`);
  return value;
}

const ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"];

/**
 * `n` hourly schedules of `user` (new chat per run), `due` of them due at `at` (a whole hour), the
 * rest an hour later; inserted 1,000 rows per statement through json_each.
 */
async function seed(env: Env, url: URL): Promise<{ seeded: number }> {
  const user = url.searchParams.get("user") ?? "";
  const [n, due, at] = [int(url, "n"), int(url, "due"), int(url, "at")];
  const rows = Array.from({ length: n }, (_, i) => ({
    id: crypto.randomUUID(),
    name: `bench schedule ${i}`,
    tz: ZONES[i % ZONES.length],
    next: i < due ? at : at + 3_600_000,
  }));
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < rows.length; i += 1000) {
    statements.push(
      env.DB.prepare(
        `INSERT INTO schedules (id, user_id, name, prompt, cron, timezone, target, model, permission_mode, enabled,
           next_run_at, consecutive_failures, created_at, updated_at)
         SELECT j.value ->> 'id', ?2, j.value ->> 'name', 'Say hello (bench).', '0 * * * *', j.value ->> 'tz',
           'new_chat', 'claude-sonnet-4-5', 'default', 1, j.value ->> 'next', 0, ?3, ?3
         FROM json_each(?1) AS j`,
      ).bind(JSON.stringify(rows.slice(i, i + 1000)), user, Date.now()),
    );
  }
  await env.DB.batch(statements);
  return { seeded: n };
}

/** One scheduler tick at `at`, timed inside workerd, with the D1 queries it issued counted. */
async function tick(env: Env, url: URL) {
  const meter: D1Meter = { queries: 0, statements: 0 };
  const started = Date.now();
  const report = await schedulerTick({ ...env, DB: meteredD1(env.DB, meter) }, int(url, "at"));
  if (!report) throw new Error("the scheduler tick failed (see the worker's log)");
  return { report, meter, ms: Date.now() - started };
}

/** How the runs claimed at `at` for `user` stand: run row statuses and their messages' statuses. */
async function progress(env: Env, url: URL) {
  const rows = await env.DB.prepare(
    `SELECT r.status AS run, COALESCE(m.status, 'none') AS message, COUNT(*) AS n, MIN(m.error) AS error
     FROM schedule_runs r JOIN schedules s ON s.id = r.schedule_id
     LEFT JOIN messages m ON m.id = r.assistant_message_id
     WHERE s.user_id = ?1 AND r.claimed_at = ?2 GROUP BY 1, 2`,
  )
    .bind(url.searchParams.get("user") ?? "", int(url, "at"))
    .all<{ run: string; message: string; n: number; error: string | null }>();
  return { rows: rows.results };
}

export async function schedulerBenchRoute(request: Request, env: Env): Promise<Response | null> {
  const url = new URL(request.url);
  switch (url.pathname) {
    case "/bench/schedules/seed":
      return Response.json(await seed(env, url));
    case "/bench/schedules/tick":
      return Response.json(await tick(env, url));
    case "/bench/schedules/progress":
      return Response.json(await progress(env, url));
    default:
      return null;
  }
}
