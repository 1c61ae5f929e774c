/**
 * Size limits of what the chat stores. Production D1 and Durable Object SQLite hold at most
 * 2,000,000 bytes per row; local SQLite enforces nothing, so every stored row is measured here. A
 * message of 20 MB of events (answers, thinking, tool inputs and outputs each well over 2 MB) must
 * flush, complete and replay exactly; and no flush failure after D1 took a batch may stop the copy.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Envelope } from "../../worker/protocol/events";
import { type MessageSnapshot, replay, snapshotText } from "../../worker/protocol/snapshot";
import { createChat, must, signUp } from "./helpers";
import { append, conversation, type Draft, openWs, room, untilReady } from "./stream-helpers";

const ROW_LIMIT = 2_000_000;

/** `bytes` of varied text (multi-byte characters, escapes, newlines), distinct per seed. */
function bulk(bytes: number, seed: string): string {
  const unit = `${seed} lörem ipsum "quoted" \\ back\tslash — 中文 😀\n`;
  return unit.repeat(Math.ceil(bytes / new TextEncoder().encode(unit).length)).slice(0, bytes);
}

/** Appends drafts in RPC calls of at most ~4 MB each. */
async function appendAll(chatId: string, drafts: Draft[]): Promise<void> {
  let batch: Draft[] = [];
  let size = 0;
  for (const d of drafts) {
    const n = JSON.stringify(d).length;
    if (batch.length > 0 && size + n > 4_000_000) {
      await append(chatId, batch);
      batch = [];
      size = 0;
    }
    batch.push(d);
    size += n;
  }
  if (batch.length > 0) await append(chatId, batch);
}

/** The largest row (all columns, in bytes) of each table that holds the chat, in D1 and in the object. */
async function largestRows(chatId: string): Promise<Record<string, number>> {
  const d1 = async (sql: string) => (await env.DB.prepare(sql).bind(chatId).first<{ n: number }>())?.n ?? 0;
  const bytes = (cols: string[]) => cols.map((c) => `COALESCE(LENGTH(CAST(${c} AS BLOB)), 0)`).join(" + ");
  const stored = await runInDurableObject(room(chatId), (_instance, state) => {
    const max = (sql: string) => state.storage.sql.exec<{ n: number | null }>(sql).one().n ?? 0;
    return {
      doEvents: max(`SELECT MAX(${bytes(["message_id", "kind", "payload"])} + 16) AS n FROM events`),
      doCheckpoints: max(`SELECT MAX(${bytes(["message_id", "snapshot"])} + 16) AS n FROM checkpoints`),
    };
  });
  return {
    d1Messages: await d1(
      `SELECT MAX(${bytes(["id", "chat_id", "role", "status", "content_render", "content_text", "error"])} + 40) AS n FROM messages WHERE chat_id = ?`,
    ),
    d1Events: await d1(
      `SELECT MAX(${bytes(["chat_id", "message_id", "kind", "payload"])} + 24) AS n FROM chat_events WHERE chat_id = ?`,
    ),
    ...stored,
  };
}

async function d1Snapshot(messageId: string): Promise<MessageSnapshot> {
  const row = await env.DB.prepare("SELECT content_render FROM messages WHERE id = ?")
    .bind(messageId)
    .first<{ content_render: string }>();
  return JSON.parse(must(row, "messages row").content_render) as MessageSnapshot;
}

describe("stored sizes", () => {
  it("flushes, completes and replays exactly a message of 20 MB, every stored row under 2,000,000 bytes", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const [u, a] = [crypto.randomUUID(), crypto.randomUUID()];
    const thinking = bulk(4_000_000, "think");
    const answer = bulk(7_000_000, "answer");
    const drafts: Draft[] = [
      { kind: "user_message", messageId: u, payload: { content: "go big", assistantMessageId: a, source: "user" } },
      { kind: "run_started", messageId: a, payload: { userMessageId: u, model: "m" } },
    ];
    for (let i = 0; i < thinking.length; i += 200_000) {
      drafts.push({ kind: "thinking_delta", messageId: a, payload: { text: thinking.slice(i, i + 200_000) } });
    }
    drafts.push({
      kind: "tool_started",
      messageId: a,
      payload: { toolUseId: "t1", name: "Write", input: { file_path: "big.txt", content: bulk(3_000_000, "input") } },
    });
    for (let i = 0; i < 3; i++) {
      drafts.push({
        kind: "tool_completed",
        messageId: a,
        payload: { toolUseId: i === 0 ? "t1" : `t${i + 1}`, output: bulk(2_500_000, `out${i}`) },
      });
    }
    for (let i = 0; i < answer.length; i += 300_000) {
      drafts.push({ kind: "text_delta", messageId: a, payload: { text: answer.slice(i, i + 300_000) } });
    }
    drafts.push({ kind: "run_completed", messageId: a, payload: { numTurns: 1 } });
    await appendAll(chat.id, drafts);
    const { head, flushedSeq } = await room(chat.id).flush(chat.id);
    expect(flushedSeq).toBe(head);

    // The log replays every byte of the answer and the thinking.
    const ws = await openWs(session, chat.id, 0);
    const { events } = await untilReady(ws);
    ws.close();
    const join = (kind: string) =>
      events
        .filter((e: Envelope) => e.kind === kind)
        .map((e) => (e.payload as { text: string }).text)
        .join("");
    expect(join("text_delta")).toBe(answer);
    expect(join("thinking_delta")).toBe(thinking);

    // The stored snapshot: completed, the same as the reducer's replay, bounded, its start intact.
    const stored = await d1Snapshot(a);
    expect(stored).toEqual(replay(events).get(a));
    expect(stored.status).toBe("completed");
    expect(stored.omittedBytes).toBeGreaterThan(0);
    expect(thinking.startsWith(must(stored.blocks.find((b) => b.type === "thinking")).text as string)).toBe(true);
    expect(answer.startsWith(snapshotText(stored))).toBe(true);

    for (const [table, bytes] of Object.entries(await largestRows(chat.id))) {
      expect(bytes, table).toBeGreaterThan(0);
      expect(bytes, table).toBeLessThanOrEqual(ROW_LIMIT);
    }
  }, 120_000);

  it("keeps copying to D1 when the object cannot store a checkpoint, and rebuilds snapshots without it", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const [u, a] = [crypto.randomUUID(), crypto.randomUUID()];
    const drafts = conversation(u, a, ["one ", "two ", "three"]);
    await append(chat.id, drafts.slice(0, 3));
    // Every checkpoint write fails from now on, as one over the row limit would in production.
    await runInDurableObject(room(chat.id), (_instance, state) => {
      for (const op of ["INSERT", "UPDATE"]) {
        state.storage.sql.exec(
          `CREATE TRIGGER refuse_${op} BEFORE ${op} ON checkpoints BEGIN SELECT RAISE(ABORT, 'string or blob too big'); END`,
        );
      }
    });
    let flushed = await room(chat.id).flush(chat.id);
    expect(flushed.flushedSeq).toBe(flushed.head);
    await append(chat.id, drafts.slice(3, 5));
    flushed = await room(chat.id).flush(chat.id);
    expect(flushed.flushedSeq).toBe(flushed.head);
    // A fresh instance has neither cache nor checkpoint: it folds the message from its first seq.
    await evictDurableObject(room(chat.id));
    await append(chat.id, drafts.slice(5));
    flushed = await room(chat.id).flush(chat.id);
    expect(flushed.flushedSeq).toBe(flushed.head);

    const ws = await openWs(session, chat.id, 0);
    const { events } = await untilReady(ws);
    ws.close();
    const expected = replay(events).get(a);
    expect(await d1Snapshot(a)).toEqual(expected);
    expect(snapshotText(must(expected))).toBe("one two three");
    expect(expected?.status).toBe("completed");
  });
});
