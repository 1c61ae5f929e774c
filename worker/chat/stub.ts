/**
 * How the Worker reaches a chat's Durable Object: one object per chat, named by the chat id.
 */
import type { ChatRoom } from "./chat-room";

export function chatRoom(env: Env, chatId: string): DurableObjectStub<ChatRoom> {
  return env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(chatId));
}
