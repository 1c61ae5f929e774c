/**
 * A tiny client for the sandbox provider and the scripted model server, shared by the sandbox
 * tests: JSON calls, registering scripts, and reading a run's NDJSON event stream (whole, or until
 * a condition holds, which then drops the connection like a reader that went away).
 */
import type { RecordedRequest, Turn } from "../model-server/server.ts";

/** Response JSON as the tests inspect it: loosely, with `expect` doing the checking. */
// biome-ignore lint/suspicious/noExplicitAny: assertions, not types, check test-side JSON.
export type Loose = any;

export type Rec = { offset?: number; type: string; [key: string]: unknown };

export type Client = ReturnType<typeof makeClient>;

export function makeClient(sandboxUrl: string, token: string, modelUrl: string) {
  const headers = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra });

  async function call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Loose; text: string; headers: Headers }> {
    const res = await fetch(`${sandboxUrl}${path}`, {
      method,
      headers: headers(body === undefined ? {} : { "content-type": "application/json" }),
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: Loose = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: res.status, json, text, headers: res.headers };
  }

  async function script(id: string, turns: Turn[]): Promise<void> {
    const res = await fetch(`${modelUrl}/__scripts`, { method: "POST", body: JSON.stringify({ id, turns }) });
    if (res.status !== 201) throw new Error(`script registration failed: ${res.status}`);
  }

  async function modelRequests(id: string): Promise<{ count: number; requests: RecordedRequest[] }> {
    const res = await fetch(`${modelUrl}/__requests?script=${encodeURIComponent(id)}`);
    return (await res.json()) as Loose;
  }

  /**
   * Reads `events?after=` and returns every line (heartbeats included) until the stream ends, or
   * until `stop` returns true for a line, at which point the connection is aborted.
   */
  async function events(
    sandboxId: string,
    runId: string,
    after = 0,
    stop?: (rec: Rec, seen: Rec[]) => boolean,
  ): Promise<Rec[]> {
    const controller = new AbortController();
    const res = await fetch(`${sandboxUrl}/v1/sandboxes/${sandboxId}/runs/${runId}/events?after=${after}`, {
      headers: headers(),
      signal: controller.signal,
    });
    if (res.status !== 200 || !res.body) throw new Error(`events: ${res.status} ${await res.text()}`);
    const seen: Rec[] = [];
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let nl = buffer.indexOf("\n");
        while (nl !== -1) {
          const rec = JSON.parse(buffer.slice(0, nl)) as Rec;
          buffer = buffer.slice(nl + 1);
          seen.push(rec);
          if (stop?.(rec, seen)) {
            controller.abort();
            return seen;
          }
          nl = buffer.indexOf("\n");
        }
      }
    } catch (err: unknown) {
      if (!controller.signal.aborted) throw err;
    }
    if (controller.signal.aborted) return seen;
    if (buffer.trim() !== "") throw new Error(`stream ended mid-line: ${buffer}`);
    return seen;
  }

  /** The records (no heartbeats) of a finished or running run, read until the exit record. */
  async function records(sandboxId: string, runId: string, after = 0): Promise<Rec[]> {
    return (await events(sandboxId, runId, after)).filter((r) => r.type !== "heartbeat");
  }

  return { call, script, modelRequests, events, records, headers };
}

export function agentData(recs: Rec[]): Loose[] {
  return recs.filter((r) => r.type === "agent").map((r) => r.data as Loose);
}

export function resultOf(recs: Rec[]): Loose {
  return agentData(recs).find((d) => d.type === "result");
}

export function exitOf(recs: Rec[]): Rec | undefined {
  return recs.find((r) => r.type === "exit");
}

let counter = 0;
/** A unique id per test (script ids, sandbox ids, idempotency keys). */
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}
