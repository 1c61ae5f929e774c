/**
 * A chat survives the loss of its agent session. When its sandbox was recreated (deleted at the
 * provider, reaped, lost in a provider restart), or the agent cannot find the session it was told
 * to continue, the run starts a fresh session and says so in the chat, and the next message
 * continues that new session. Real provider, CLI and scripted model.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Envelope } from "../../worker/protocol/events";
import { createChat, signUp } from "./helpers";
import { modelRequests, script, send, storedSnapshot, terminalCounts, text, Watcher } from "./run-helpers";
import { room } from "./stream-helpers";

const notices = (events: Envelope[]) =>
  events.filter((e) => e.kind === "notice").map((e) => e.payload as { code: string; text: string });

async function transcriptOf(scriptId: string): Promise<string> {
  const [request] = await modelRequests(scriptId);
  return request?.transcript.join("\n") ?? "";
}

describe("agent sessions", () => {
  it("starts a fresh session, saying so, when the chat's sandbox was recreated; the next message continues it", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const watcher = await Watcher.open(session, chat.id);
    const first = await script([{ blocks: [{ type: "text", text: "noted: the word is pelican" }] }]);
    const m1 = await send(session, chat.id, `${first.marker} remember pelican`);
    expect((await watcher.terminalOf(m1.assistantMessageId)).kind).toBe("run_completed");

    // The sandbox goes away at the provider (reaped, or lost in a restart), and with it the session.
    const res = await fetch(`${env.SANDBOX_URL}/v1/sandboxes/${chat.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${env.SANDBOX_TOKEN}` },
    });
    expect(res.status).toBe(204);

    const second = await script([{ blocks: [{ type: "text", text: "starting over" }] }]);
    const m2 = await send(session, chat.id, `${second.marker} what was the word?`);
    expect((await watcher.terminalOf(m2.assistantMessageId)).kind).toBe("run_completed");
    expect(text(watcher.of(m2.assistantMessageId))).toBe("starting over");
    expect(notices(watcher.of(m2.assistantMessageId))).toEqual([
      { code: "fresh_session", text: expect.stringMatching(/sandbox was recreated/) },
    ]);
    expect(await transcriptOf(second.id)).not.toContain("pelican");
    // The notice is part of the message as stored (it shows after a reload).
    expect((await storedSnapshot(chat.id, m2.assistantMessageId))?.blocks).toContainEqual(
      expect.objectContaining({ type: "notice", code: "fresh_session" }),
    );

    const third = await script([{ blocks: [{ type: "text", text: "you asked about a word" }] }]);
    const m3 = await send(session, chat.id, `${third.marker} and before that?`);
    expect((await watcher.terminalOf(m3.assistantMessageId)).kind).toBe("run_completed");
    expect(await transcriptOf(third.id)).toContain("what was the word?");
    expect(notices(watcher.of(m3.assistantMessageId))).toEqual([]);
    for (const m of [m1, m2, m3])
      expect(await terminalCounts(chat.id, m.assistantMessageId)).toEqual({ log: 1, d1: 1 });
    watcher.close();
  });

  it("starts a fresh session, saying so, when the agent cannot find the session it should continue", async () => {
    const session = await signUp();
    const chat = await createChat(session);
    const watcher = await Watcher.open(session, chat.id);
    const first = await script([{ blocks: [{ type: "text", text: "first answer" }] }]);
    const m1 = await send(session, chat.id, `${first.marker} hello`);
    expect((await watcher.terminalOf(m1.assistantMessageId)).kind).toBe("run_completed");
    // The chat remembers a session the agent does not have (its files were lost, the sandbox kept).
    await runInDurableObject(room(chat.id), (_instance, state) => {
      state.storage.sql.exec(
        "UPDATE meta SET value = ? WHERE key = 'agent_session_id'",
        "3f1e2d4c-1111-4222-8333-944455556666",
      );
    });

    const second = await script([{ blocks: [{ type: "text", text: "fresh and fine" }] }]);
    const m2 = await send(session, chat.id, `${second.marker} again`);
    expect((await watcher.terminalOf(m2.assistantMessageId)).kind).toBe("run_completed");
    const events = watcher.of(m2.assistantMessageId);
    expect(text(events)).toBe("fresh and fine");
    expect(events.filter((e) => e.kind === "run_started")).toHaveLength(1);
    expect(notices(events)).toEqual([{ code: "fresh_session", text: expect.stringMatching(/session .* is gone/) }]);
    expect(await terminalCounts(chat.id, m2.assistantMessageId)).toEqual({ log: 1, d1: 1 });

    const third = await script([{ blocks: [{ type: "text", text: "continuing" }] }]);
    const m3 = await send(session, chat.id, `${third.marker} still there?`);
    expect((await watcher.terminalOf(m3.assistantMessageId)).kind).toBe("run_completed");
    expect(await transcriptOf(third.id)).toContain("fresh and fine");
    watcher.close();
  });
});
