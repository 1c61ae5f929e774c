/**
 * Streams in real Chromium: a network cut mid-reply (a TCP proxy destroys every connection, then
 * lets them through again) loses and repeats nothing; a second tab streams the same reply; rapid
 * navigation while a chat streams never holds two connections for one chat, and the chat left
 * behind keeps streaming in the background.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import {
  chromiumForFile,
  createChat,
  origin,
  renderedText,
  screenshot,
  script,
  signedInContext,
  storedMessages,
  storedText,
  watchErrors,
  words,
} from "./support/app.ts";
import { startNoWebSocketProxy } from "./support/no-websocket-proxy.ts";
import { startTcpProxy } from "./support/tcp-proxy.ts";

const browser = chromiumForFile();

/** A slow plain-text reply: `n` numbered words streamed a few characters at a time. */
async function slowReply(prefix: string, n: number, delayMs: number): Promise<{ marker: string; text: string }> {
  const text = words(prefix, n);
  return { marker: await script([{ blocks: [{ type: "text", text }], delayMs, chunkSize: 5 }]), text };
}

/** Stream connections the page opens, by chat; the most it ever held open at once for one chat. */
function countConnections(page: Page) {
  const open = new Map<string, number>();
  let max = 0;
  let sse = 0;
  page.on("websocket", (ws) => {
    const chat = /\/api\/chats\/([^/]+)\/ws/.exec(ws.url())?.[1];
    if (!chat) return;
    open.set(chat, (open.get(chat) ?? 0) + 1);
    max = Math.max(max, open.get(chat) ?? 0);
    ws.on("close", () => open.set(chat, (open.get(chat) ?? 1) - 1));
  });
  page.on("request", (req) => {
    if (/\/api\/chats\/[^/]+\/stream/.test(req.url())) sse++;
  });
  return { open: (chat: string) => open.get(chat) ?? 0, max: () => max, sse: () => sse };
}

describe("streams in the browser", () => {
  it("a network cut mid-reply: 'Reconnecting…', then the text continues with nothing lost or repeated", async () => {
    const proxy = await startTcpProxy(origin());
    const { context } = await signedInContext(browser(), { base: proxy.origin });
    const chatId = await createChat(context, { permissionMode: "bypassPermissions" });
    const page = await context.newPage();
    const errors = watchErrors(page);
    const connections = countConnections(page);
    await page.goto(`/chats/${chatId}`);
    const reply = await slowReply("w", 120, 60);
    await page.locator("#composer").fill(`${reply.marker} count for me`);
    await page.keyboard.press("Enter");
    const agent = page.locator(".message.agent").first();
    await agent.locator(".markdown", { hasText: "w10 " }).waitFor();
    expect(await agent.getAttribute("data-status")).toBe("streaming");
    // Settings changed mid-stream leave the stream alone (no callback holds the old ones).
    await page.getByLabel("Permissions").selectOption("acceptEdits");
    await page.getByLabel("Model").fill("claude-opus-4-1");
    await page.getByLabel("Model").press("Enter");
    await agent.locator(".markdown", { hasText: "w20 " }).waitFor();

    proxy.cut();
    await page.getByText("Reconnecting…").waitFor();
    await screenshot(page, "chat-reconnecting");
    const before = await renderedText(page, ".message.agent");
    await page.waitForTimeout(1500);
    proxy.restore();
    await page.locator('.message.agent[data-status="completed"]').waitFor({ timeout: 60_000 });
    await expect.poll(() => page.getByText("Reconnecting…").count()).toBe(0);

    const after = await renderedText(page, ".message.agent");
    expect(after).toBe(reply.text);
    // The cut really fell mid-reply: part of it came after the reconnect.
    expect(before.length).toBeLessThan(reply.text.length);
    const stored = (await storedMessages(context, chatId)).find((m) => m.role === "assistant");
    expect(storedText(stored)).toBe(reply.text);
    const chat = ((await (await context.request.get(`/api/chats/${chatId}`)).json()) as { chat: unknown }).chat;
    expect(chat).toMatchObject({ model: "claude-opus-4-1", permissionMode: "acceptEdits" });
    expect(connections.max()).toBe(1);
    expect(errors).toEqual([]);
    await context.close();
    await proxy.close();
  });

  it("where WebSockets are blocked it streams over SSE, and resumes after a cut from where it was", async () => {
    const proxy = await startNoWebSocketProxy(origin());
    const { context } = await signedInContext(browser(), { base: proxy.origin });
    const chatId = await createChat(context, { permissionMode: "bypassPermissions" });
    const page = await context.newPage();
    const errors = watchErrors(page);
    const streams: string[] = [];
    page.on("request", (req) => {
      if (req.url().includes("/stream?after=")) streams.push(new URL(req.url()).searchParams.get("after") ?? "");
    });
    await page.goto(`/chats/${chatId}`);
    await expect.poll(() => streams.length, { timeout: 10_000 }).toBeGreaterThan(0);
    const reply = await slowReply("sse", 100, 50);
    await page.locator("#composer").fill(`${reply.marker} over SSE`);
    await page.keyboard.press("Enter");
    await page.locator(".message.agent .markdown", { hasText: "sse10 " }).waitFor();
    const before = streams.length;
    proxy.cut();
    await page.locator('.message.agent[data-status="completed"]').waitFor({ timeout: 60_000 });
    expect(await renderedText(page, ".message.agent")).toBe(reply.text);
    // It reconnected over SSE with its cursor (not from 0), and never got a WebSocket through.
    expect(streams.length).toBeGreaterThan(before);
    expect(Number(streams.at(-1))).toBeGreaterThan(0);
    expect(proxy.upgradesRefused()).toBeGreaterThan(0);
    const stored = (await storedMessages(context, chatId)).find((m) => m.role === "assistant");
    expect(storedText(stored)).toBe(reply.text);
    expect(errors).toEqual([]);
    await context.close();
    await proxy.close();
  });

  it("the same chat in a second tab streams the same reply; a prompt answered in one tab goes in both", async () => {
    const { context } = await signedInContext(browser());
    const chatId = await createChat(context, { permissionMode: "default" });
    const first = await context.newPage();
    const second = await context.newPage();
    const errors = [...watchErrors(first), ...watchErrors(second)];
    await first.goto(`/chats/${chatId}`);
    await second.goto(`/chats/${chatId}`);
    await second.locator("#composer").waitFor();
    const text = words("tab", 60);
    const marker = await script([
      {
        blocks: [
          { type: "text", text },
          { type: "tool_use", name: "Bash", input: { command: "seq 1 40 > forty.txt && cat forty.txt" } },
        ],
        delayMs: 40,
        chunkSize: 5,
      },
      { blocks: [{ type: "text", text: "Counted to forty." }] },
    ]);
    await first.locator("#composer").fill(`${marker} both tabs`);
    await first.keyboard.press("Enter");
    // The other tab sees the prompt and the reply while it streams.
    await second.locator(".message.user", { hasText: "both tabs" }).waitFor();
    await second.locator('.message.agent[data-status="streaming"] .markdown', { hasText: "tab5 " }).waitFor();
    for (const page of [first, second]) await page.locator(".message.agent .permission button").first().waitFor();
    await second.locator(".permission").getByRole("button", { name: "Allow" }).click();
    // Answered in the second tab: the first tab's buttons go too.
    await first.locator(".permission .permission-decision", { hasText: "Allowed" }).waitFor();
    expect(await first.locator(".permission button").count()).toBe(0);
    for (const page of [first, second]) await page.locator('.message.agent[data-status="completed"]').waitFor();
    for (const page of [first, second]) {
      expect(await renderedText(page, ".message.agent")).toBe(`${text} Counted to forty.`);
    }
    // Long tool output is folded after 20 lines.
    const tool = first.locator("details.tool");
    await tool.locator("summary").click();
    expect((await tool.locator(".tool-section pre").last().innerText()).split("\n")).toHaveLength(20);
    await tool.getByRole("button", { name: "Show all 40 lines" }).click();
    expect((await tool.locator(".tool-section pre").last().innerText()).trim().split("\n")).toHaveLength(40);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("rapid navigation while one chat streams: never two connections for one chat; the left chat streams on", async () => {
    const { context } = await signedInContext(browser());
    const streaming = await createChat(context, { title: "Streaming chat", permissionMode: "bypassPermissions" });
    const quiet = await createChat(context, { title: "Quiet chat" });
    const other = await createChat(context, { title: "Other chat" });
    const page = await context.newPage();
    const errors = watchErrors(page);
    const connections = countConnections(page);
    await page.goto(`/chats/${streaming}`);
    const reply = await slowReply("nav", 150, 50);
    await page.locator("#composer").fill(`${reply.marker} stream while I click around`);
    await page.keyboard.press("Enter");
    await page.locator(".message.agent .markdown", { hasText: "nav3 " }).waitFor();

    const link = (title: string) => page.locator("#sidebar .chat-link", { hasText: title });
    const order = ["Quiet chat", "Other chat", "Streaming chat", "Quiet chat", "Streaming chat", "Other chat"];
    for (let round = 0; round < 3; round++) {
      for (const title of order) {
        await link(title).click();
        for (const chat of [streaming, quiet, other]) expect(connections.open(chat)).toBeLessThanOrEqual(1);
      }
      await page.goBack();
      await page.goForward();
    }
    // Leave the streaming chat: it keeps its connection (and its row says so) until the reply ends.
    await link("Quiet chat").click();
    await page.locator("h1", { hasText: "Quiet chat" }).waitFor();
    expect(connections.open(streaming)).toBe(1);
    await link("Streaming chat").locator(".mark.streaming").waitFor();
    await expect
      .poll(async () => (await storedMessages(context, streaming)).find((m) => m.role === "assistant")?.status, {
        timeout: 60_000,
      })
      .toBe("completed");
    // Idle and not shown: its connection goes after the store's linger time.
    await expect.poll(() => connections.open(streaming), { timeout: 10_000 }).toBe(0);
    expect(await link("Streaming chat").locator(".mark.streaming").count()).toBe(0);
    expect(connections.open(quiet)).toBe(1);

    // Back to it: the whole reply, as D1 has it, with the background part in place.
    await link("Streaming chat").click();
    await page.locator('.message.agent[data-status="completed"]').waitFor();
    expect(await renderedText(page, ".message.agent")).toBe(reply.text);
    expect(connections.max()).toBe(1);
    expect(connections.sse()).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  });
});
