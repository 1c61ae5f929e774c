/**
 * The resumable NDJSON event stream of one run (`GET .../runs/:runId/events?after=N`). Used by the
 * routes. It replays stored records with offset > N from disk, then tails live appends, so every
 * record reaches a reader exactly once; heartbeats fill silences; the response ends after `exit`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { startNdjson } from "./http.ts";
import type { RunLog } from "./run-log.ts";

export function streamEvents(
  req: IncomingMessage,
  res: ServerResponse,
  log: RunLog,
  after: number,
  heartbeatMs: number,
): void {
  startNdjson(res);
  // Reading and subscribing happen in one synchronous step: no append can fall between them.
  const backlog = log.readAfter(after);
  const doneAfterBacklog = log.hasExited;
  let lastSent = after;
  let heartbeat: NodeJS.Timeout | undefined;
  let unsubscribe: () => void = () => {};

  const arm = () => {
    clearTimeout(heartbeat);
    heartbeat = setTimeout(() => {
      res.write(`${JSON.stringify({ type: "heartbeat", at: Date.now() })}\n`);
      arm();
    }, heartbeatMs);
  };
  const stop = () => {
    clearTimeout(heartbeat);
    unsubscribe();
  };
  const finish = () => {
    stop();
    res.end();
  };

  if (!doneAfterBacklog) {
    unsubscribe = log.subscribe((line, offset, isExit) => {
      if (offset <= lastSent) return;
      lastSent = offset;
      res.write(line);
      if (isExit) finish();
      else arm();
    });
    arm();
  }
  if (backlog.length > 0) {
    res.write(backlog.join(""));
    lastSent = Math.max(lastSent, after + backlog.length);
  }
  if (doneAfterBacklog) finish();
  req.on("close", stop);
  res.on("close", stop);
}
