/**
 * Agent runs end to end: the real worker and Durable Object, the real reference provider running
 * the real Claude Code CLI, and the scripted model server.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { replay } from "../../worker/protocol/snapshot";
import { api, createChat, json, signUp } from "./helpers";
import { modelRequests, script, send, storedSnapshot, text, Watcher } from "./run-helpers";

describe("a full run", () => {
  it("streams text, runs a real Bash tool in the sandbox, completes, and continues the session", async () => {
    const session = await signUp();
    const chat = await createChat(session, { permissionMode: "bypassPermissions" });
    const first = await script([
      {
        blocks: [
          { type: "text", text: "I will create the file now." },
          { type: "tool_use", name: "Bash", input: { command: "echo hello from the agent > made.txt" } },
        ],
      },
      { blocks: [{ type: "text", text: "Done: made.txt exists." }] },
    ]);
    const watcher = await Watcher.open(session, chat.id);
    const sent = await send(session, chat.id, `${first.marker} please make a file`);
    expect(sent.status).toBe("started");
    const end = await watcher.terminalOf(sent.assistantMessageId);
    expect(end.kind).toBe("run_completed");

    const events = watcher.of(sent.assistantMessageId);
    const kinds = events.map((e) => e.kind);
    expect(kinds[0]).toBe("run_started");
    expect(kinds).toContain("tool_started");
    expect(kinds.indexOf("tool_completed")).toBeGreaterThan(kinds.indexOf("tool_started"));
    expect(kinds.filter((k) => k === "run_completed")).toHaveLength(1);
    expect(text(events)).toBe("I will create the file now.Done: made.txt exists.");
    const tool = events.find((e) => e.kind === "tool_started")?.payload as { name: string; input: { command: string } };
    expect(tool.name).toBe("Bash");
    expect(watcher.of(sent.userMessageId).map((e) => e.kind)).toEqual(["user_message"]);

    // The tool's effect exists in the sandbox, read through the files API.
    const file = await api(`/api/chats/${chat.id}/files/content?path=made.txt`, { session });
    expect(file.status).toBe(200);
    expect(await file.text()).toBe("hello from the agent\n");
    const listing = await json<{ entries: { name: string }[] }>(await api(`/api/chats/${chat.id}/files`, { session }));
    expect(listing.entries.map((e) => e.name)).toContain("made.txt");

    // The D1 snapshot equals the replay of the message's events.
    expect(await storedSnapshot(chat.id, sent.assistantMessageId)).toEqual(
      replay(watcher.events).get(sent.assistantMessageId),
    );

    // A second message continues the same Claude Code session: the model sees the first exchange.
    const second = await script([{ blocks: [{ type: "text", text: "I remember." }] }]);
    const next = await send(session, chat.id, `${second.marker} what did you do?`);
    expect((await watcher.terminalOf(next.assistantMessageId)).kind).toBe("run_completed");
    const [request] = await modelRequests(second.id);
    const transcript = request?.transcript.join("\n") ?? "";
    expect(transcript).toContain("please make a file");
    expect(transcript).toContain("Done: made.txt exists.");
    watcher.close();

    // Deleting the chat deletes its sandbox at the provider.
    const sandbox = `${env.SANDBOX_URL}/v1/sandboxes/${chat.id}`;
    const auth = { authorization: `Bearer ${env.SANDBOX_TOKEN}` };
    expect((await fetch(sandbox, { headers: auth })).status).toBe(200);
    expect((await api(`/api/chats/${chat.id}`, { session, method: "DELETE" })).status).toBe(204);
    expect((await fetch(sandbox, { headers: auth })).status).toBe(404);
  });
});
