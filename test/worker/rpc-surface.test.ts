/**
 * The chat object's RPC surface is what the Worker needs and nothing more: no way to append an
 * event of any kind (a terminal one included) or to swap its sandbox provider from outside. Test
 * and bench workers reach such seams through a symbol key, which RPC cannot name.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ChatRoom, roomSeams } from "../../worker/chat/chat-room";
import { room } from "./stream-helpers";

describe("the ChatRoom's RPC surface", () => {
  it("names only the Worker's calls and the runtime's handlers", () => {
    const names = Object.getOwnPropertyNames(ChatRoom.prototype).filter((n) => n !== "constructor");
    expect(names.sort()).toEqual(
      [
        "alarm",
        "answerPermission",
        "cancel",
        "destroy",
        "editQueued",
        "fetch",
        "listQueue",
        "removeQueued",
        "sendMessage",
        "sendNow",
        "sweep",
        "webSocketClose",
        "webSocketMessage",
      ].sort(),
    );
    expect(Object.getOwnPropertySymbols(ChatRoom.prototype)).toEqual([roomSeams]);
  });

  it("has no public fields that could swap its provider", async () => {
    const chatId = crypto.randomUUID();
    const fields = await runInDurableObject(room(chatId), (instance) => Object.keys(instance));
    expect(fields.sort()).toEqual(["ctx", "env"]); // what every Durable Object has, from the runtime
  });
});
