/**
 * The read behind reconciliation: open run rows (`pending`, `dispatched`, `queued`) in claim
 * order, one page at a time, each with its message's snapshot status from D1 `messages` and
 * whether its chat still exists. The schedule's prompt comes along only for `pending` runs.
 */
import type { TickIo } from "./io";
import type { OpenRun } from "./reconcile";

const SELECT_OPEN = `SELECT r.id, r.status, s.target, r.chat_id, r.user_message_id, r.assistant_message_id, r.claimed_at,
    r.dispatch_attempts, r.error_text, CASE WHEN r.status = 'pending' THEN s.prompt END AS prompt, s.model,
    s.permission_mode, m.status AS message_status, m.error AS message_error, m.updated_at AS message_updated_at,
    CASE WHEN m.status IN ('failed', 'cancelled') THEN json_extract(m.content_render, '$.error.code') END
      AS message_error_code,
    (c.id IS NOT NULL) AS chat_exists
  FROM schedule_runs r
  JOIN schedules s ON s.id = r.schedule_id
  LEFT JOIN messages m ON m.id = r.assistant_message_id
  LEFT JOIN chats c ON c.id = r.chat_id
  WHERE r.status IN ('pending', 'dispatched', 'queued') AND (r.claimed_at, r.id) > (?1, ?2)
  ORDER BY r.claimed_at, r.id LIMIT ?3`;

export async function selectOpen(
  io: TickIo,
  after: { claimedAt: number; id: string },
  limit: number,
): Promise<OpenRun[]> {
  return io.all<OpenRun>(io.db.prepare(SELECT_OPEN).bind(after.claimedAt, after.id, limit));
}
