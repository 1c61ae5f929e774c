/**
 * The ChatRoom Durable Object: the single writer of one chat.
 */
import { DurableObject } from "cloudflare:workers";

export class ChatRoom extends DurableObject<Env> {}
