/**
 * What the browser tests share: the running worker's address, accounts made through the API in a
 * browser context (so the page is signed in with the same cookie), scripts for the scripted model,
 * what the scripted model recorded, the stored (D1) state of a chat to compare the screen with, and
 * screenshots under test-results/.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, inject } from "vitest";
import { type MessageSnapshot, snapshotText } from "../../../worker/protocol/snapshot";
import { launchChromium } from "./browser.ts";

export const origin = () => inject("e2eOrigin");
const modelUrl = () => inject("e2eModelUrl");
const screens = join(import.meta.dirname, "..", "..", "..", "test-results", "screens");

export const PASSWORD = "a long password";

export function uniqueEmail(tag: string): string {
  return `${tag}-${crypto.randomUUID().slice(0, 8)}@example.com`;
}

let addresses = 0;

/**
 * Headers that give a browser context a client address of its own. Each test plays a different
 * person; deployed, the edge sets `CF-Connecting-IP`, and `wrangler dev` keeps one a client sends.
 * Without it every test signs up from 127.0.0.1 and a fast run passes the sign-up limit (10 a
 * minute per address, tested in test/worker/auth.test.ts).
 */
export function ownAddress(): Record<string, string> {
  addresses += 1;
  return { "cf-connecting-ip": `198.18.${process.pid % 256}.${addresses % 256}` };
}

export type Block =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string }
  | { type: "tool_use"; name: string; input: unknown };
export type Turn = { blocks: Block[]; delayMs?: number; chunkSize?: number } | { stallMs: number };

/** Registers a script with the scripted model; put the returned marker in a prompt to use it. */
export async function script(turns: Turn[]): Promise<string> {
  const id = crypto.randomUUID().slice(0, 8);
  const res = await fetch(`${modelUrl()}/__scripts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id, turns }),
  });
  if (!res.ok) throw new Error(`script rejected: ${await res.text()}`);
  return `[script:${id}]`;
}

/** The script id inside a marker from `script()`. */
export function scriptId(marker: string): string {
  const id = /^\[script:([^\]]+)\]$/.exec(marker)?.[1];
  if (!id) throw new Error(`not a script marker: ${marker}`);
  return id;
}

/** What the scripted model recorded of the requests for a script: the credential each carried. */
export async function modelRequests(marker: string): Promise<{ apiKey: string | null; turn: number }[]> {
  const res = await fetch(`${modelUrl()}/__requests?script=${scriptId(marker)}`);
  return ((await res.json()) as { requests: { apiKey: string | null; turn: number }[] }).requests;
}

/** A browser context signed in as a new user (signed up through the API, sharing the cookie). */
export async function signedInContext(
  browser: Browser,
  options: { base?: string; viewport?: { width: number; height: number }; timezoneId?: string } = {},
): Promise<{ context: BrowserContext; email: string }> {
  const base = options.base ?? origin();
  const context = await browser.newContext({
    baseURL: base,
    viewport: options.viewport ?? { width: 1280, height: 800 },
    extraHTTPHeaders: ownAddress(),
    ...(options.timezoneId ? { timezoneId: options.timezoneId } : {}),
  });
  const email = uniqueEmail("e2e");
  const res = await context.request.post("/api/auth/signup", { data: { email, password: PASSWORD } });
  if (res.status() !== 201) throw new Error(`sign-up failed: ${res.status()} ${await res.text()}`);
  return { context, email };
}

export async function createChat(context: BrowserContext, body: Record<string, unknown> = {}): Promise<string> {
  const res = await context.request.post("/api/chats", { data: body });
  if (res.status() !== 201) throw new Error(`create chat failed: ${res.status()}`);
  return ((await res.json()) as { chat: { id: string } }).chat.id;
}

export type StoredMessage = { id: string; role: "user" | "assistant"; status: string; snapshot: MessageSnapshot };

/** The chat as D1 has it, once D1 caught up with a finished message. */
export async function storedMessages(context: BrowserContext, chatId: string): Promise<StoredMessage[]> {
  const res = await context.request.get(`/api/chats/${chatId}`);
  return ((await res.json()) as { messages: StoredMessage[] }).messages;
}

/** A stored message's text: the user's, or the agent's text blocks. */
export function storedText(message: StoredMessage | undefined): string | undefined {
  return message ? snapshotText(message.snapshot) : undefined;
}

/** Page errors fail the test that caused them. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  return errors;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(screens, { recursive: true });
  await page.screenshot({ path: join(screens, `${name}.png`) });
}

/** The whole visible text of an agent message's text blocks, whitespace collapsed. */
export async function renderedText(page: Page, messageSelector: string): Promise<string> {
  const text = await page.locator(`${messageSelector} .markdown`).allInnerTexts();
  return text.join(" ").replace(/\s+/g, " ").trim();
}

export function words(prefix: string, n: number): string {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`).join(" ");
}

/** One Chromium for a test file: launched before its tests, closed after them. */
export function chromiumForFile(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error("Chromium is not running");
    return browser;
  };
}
