/**
 * The append-only record log of one agent run: `<runs>/<runId>.ndjson`, one record per line with
 * offsets 1, 2, 3... Used by the run manager (writer) and the events route (readers). Appends are
 * synchronous and notify listeners in the same tick, so "read the file, then subscribe" never
 * loses or doubles a record; readers get the exact bytes that were written.
 */
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import type { Usage } from "./usage.ts";

/** Why a run was ended by the provider (a limit), with a stable code. */
export type RunError = { code: string; message: string };

export type RecordBody =
  | { type: "agent"; data: unknown }
  | { type: "stderr"; text: string }
  | {
      type: "exit";
      exitCode: number | null;
      signal: string | null;
      cancelled: boolean;
      usage: Usage | null;
      error?: RunError;
    };

type Listener = (line: string, offset: number, isExit: boolean) => void;

export class RunLog {
  readonly file: string;
  private count = 0;
  private exited = false;
  private fd: number | null = null;
  private listeners = new Set<Listener>();

  constructor(file: string) {
    this.file = file;
    if (existsSync(file)) this.load();
  }

  /** Counts the stored records, dropping a torn last line left by a crash. */
  private load(): void {
    const text = readFileSync(this.file, "utf8");
    const end = text.lastIndexOf("\n") + 1;
    if (end < text.length) {
      const fd = openSync(this.file, "r+");
      ftruncateSync(fd, Buffer.byteLength(text.slice(0, end)));
      closeSync(fd);
    }
    const lines = text
      .slice(0, end)
      .split("\n")
      .filter((l) => l !== "");
    this.count = lines.length;
    const last = lines[lines.length - 1];
    this.exited = last !== undefined && (JSON.parse(last) as { type?: unknown }).type === "exit";
  }

  get records(): number {
    return this.count;
  }

  get hasExited(): boolean {
    return this.exited;
  }

  append(body: RecordBody): number {
    if (this.exited) throw new Error("run log already has its exit record");
    const offset = this.count + 1;
    const line = `${JSON.stringify({ offset, ...body })}\n`;
    this.fd ??= openSync(this.file, "a");
    writeSync(this.fd, line);
    this.count = offset;
    const isExit = body.type === "exit";
    if (isExit) {
      this.exited = true;
      closeSync(this.fd);
      this.fd = null;
    }
    for (const listener of [...this.listeners]) listener(line, offset, isExit);
    return offset;
  }

  /** Stored record lines with offset > `after` (each ends with "\n"). */
  readAfter(after: number): string[] {
    if (after >= this.count || !existsSync(this.file)) return [];
    const lines = readFileSync(this.file, "utf8").split("\n");
    const out: string[] = [];
    for (let i = after; i < this.count; i++) out.push(`${lines[i]}\n`);
    return out;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
