/**
 * The web client in real Chromium against the real worker, reference sandbox provider, Claude Code
 * CLI and scripted model: signing up, a chat with streaming text, a tool card and an answered
 * permission prompt, sanitized markdown, keyboard-only use, settings. Screenshots go to
 * test-results/screens/.
 */
import { describe, expect, it } from "vitest";
import {
  chromiumForFile,
  createChat,
  origin,
  ownAddress,
  PASSWORD,
  screenshot,
  script,
  signedInContext,
  storedMessages,
  uniqueEmail,
  watchErrors,
} from "./support/app.ts";

const browser = chromiumForFile();

describe("a chat in the browser", () => {
  it("signs up, creates a chat, streams text, shows a tool card and answers a permission prompt", async () => {
    const context = await browser().newContext({
      viewport: { width: 1280, height: 800 },
      extraHTTPHeaders: ownAddress(),
    });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(origin());
    await page.getByRole("heading", { name: "Log in to Agent Chat" }).waitFor();
    await screenshot(page, "login");
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByLabel("Email").fill(uniqueEmail("signup"));
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.getByRole("heading", { name: "Start your first chat" }).waitFor();
    await screenshot(page, "home-empty");

    await page.getByRole("main").getByRole("button", { name: "+ New chat" }).click();
    await page.waitForURL(/\/chats\//);
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe("composer");

    const marker = await script([
      {
        blocks: [
          { type: "thinking", thinking: "The user wants a file; I will write it with Bash." },
          { type: "text", text: "I will write the file now, one careful step at a time. " },
          { type: "tool_use", name: "Bash", input: { command: "echo from-the-browser > e2e.txt && cat e2e.txt" } },
        ],
        delayMs: 40,
        chunkSize: 6,
      },
      { blocks: [{ type: "text", text: "The file **e2e.txt** now says `from-the-browser`." }], delayMs: 20 },
    ]);
    await page.locator("#composer").fill(`${marker} please write the file`);
    await page.keyboard.press("Enter");

    const agent = page.locator(".message.agent").first();
    // Text appears while the reply is still streaming.
    await agent.locator(".markdown", { hasText: "I will write" }).waitFor();
    expect(await agent.getAttribute("data-status")).toBe("streaming");
    await page.getByText("Working…").waitFor();
    await expect.poll(() => agent.locator(".markdown").innerText()).toContain("one careful step at a time");

    const prompt = agent.locator(".permission");
    await prompt.waitFor();
    await expect.poll(() => prompt.innerText()).toContain("echo from-the-browser");
    await expect.poll(() => agent.locator(".thinking summary").innerText()).toMatch(/Thought|Thinking…/);
    await screenshot(page, "chat-permission");
    await prompt.getByRole("button", { name: "Allow" }).click();
    await prompt.getByText("Allowed").waitFor();
    await expect.poll(() => prompt.getByRole("button").count()).toBe(0);

    const tool = agent.locator("details.tool");
    await tool.locator(".tool-state.completed").waitFor();
    expect(await tool.locator(".tool-name").innerText()).toBe("Bash");
    await tool.locator("summary").click();
    await expect.poll(() => tool.locator(".tool-body").innerText()).toContain("from-the-browser");
    await agent.locator("strong", { hasText: "e2e.txt" }).waitFor();
    await page.locator('.message.agent[data-status="completed"]').waitFor();
    await expect.poll(() => agent.locator(".usage").innerText()).toMatch(/in · .* out/);
    // The chat took its first message as its title.
    await expect.poll(() => page.locator(".chat-title-h").innerText()).toContain("please write the file");
    await screenshot(page, "chat-view");

    // The same file through the files panel.
    await page.getByRole("button", { name: "Files" }).click();
    await page.getByRole("button", { name: /e2e\.txt/ }).click();
    await expect.poll(() => page.locator(".file-text").innerText()).toBe("from-the-browser\n");
    await screenshot(page, "chat-files");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("the offline demo model answers by default, runs a command once allowed, and the header says demo", async () => {
    const { context } = await signedInContext(browser(), { viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto("/");
    await page.getByRole("main").getByRole("button", { name: "+ New chat" }).click();
    await page.waitForURL(/\/chats\//);
    await page.locator("#composer").fill("$ echo 'hello from the sandbox' > hello.txt && ls -l");
    await page.keyboard.press("Enter");
    const prompt = page.locator(".permission");
    await prompt.waitFor({ timeout: 60_000 });
    await prompt.getByRole("button", { name: "Allow" }).click();
    const agent = page.locator('.message.agent[data-status="completed"]');
    await agent.waitFor({ timeout: 60_000 });
    expect(await agent.innerText()).toContain("offline demo model");
    expect(await agent.locator("pre code").innerText()).toContain("hello.txt");
    await page.locator(".badge", { hasText: "demo" }).waitFor();
    // Sent before the chat had loaded, the first message still became its title.
    await expect.poll(() => page.locator(".chat-title-h").innerText()).toContain("echo 'hello from the sandbox'");
    await page.locator("#composer").fill("Thanks! What can you do here?");
    await page.keyboard.press("Enter");
    await page.locator('.message.agent[data-status="completed"]').nth(1).waitFor({ timeout: 60_000 });
    await page.getByRole("button", { name: "Files" }).click();
    await page
      .locator("#files-panel")
      .getByRole("button", { name: /hello\.txt/ })
      .click();
    await expect.poll(() => page.locator(".file-text").innerText()).toBe("hello from the sandbox\n");
    await page.locator("#composer").focus();
    await screenshot(page, "readme-chat-view");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("renders markdown with copyable code blocks and lets no HTML from the agent reach the page", async () => {
    const { context } = await signedInContext(browser());
    const chatId = await createChat(context, { permissionMode: "bypassPermissions" });
    const hostile = [
      "Here is code:",
      "",
      "```js",
      "console.log('<b>not bold</b>');",
      "```",
      "",
      '<img src="x" onerror="window.__pwned = 1"> <script>window.__pwned = 2</script>',
      '<a href="javascript:window.__pwned=3">click</a> and <iframe src="about:blank"></iframe>',
      "",
      "| a | b |",
      "|---|---|",
      "| 1 | 2 |",
    ].join("\n");
    const marker = await script([{ blocks: [{ type: "text", text: hostile }] }]);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`/chats/${chatId}`);
    await page.locator("#composer").fill(`${marker} show me`);
    await page.keyboard.press("Enter");
    const agent = page.locator('.message.agent[data-status="completed"]');
    await agent.waitFor();
    expect(await agent.locator("pre code").innerText()).toBe("console.log('<b>not bold</b>');");
    expect(await agent.locator("table td").allInnerTexts()).toEqual(["1", "2"]);
    expect(await agent.locator("script, iframe, [onerror], b").count()).toBe(0);
    const href = await agent.locator("a", { hasText: "click" }).getAttribute("href");
    expect(href ?? "").not.toContain("javascript:");
    expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await agent.getByRole("button", { name: "Copy" }).click();
    await agent.getByRole("button", { name: "Copied" }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe("console.log('<b>not bold</b>');");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("works with the keyboard alone: log in, new chat, send, with a visible focus ring", async () => {
    const email = uniqueEmail("keys");
    const address = ownAddress();
    const setup = await browser().newContext({ extraHTTPHeaders: address });
    await setup.request.post(`${origin()}/api/auth/signup`, { data: { email, password: PASSWORD } });
    await setup.close();
    const context = await browser().newContext({ viewport: { width: 1280, height: 800 }, extraHTTPHeaders: address });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(origin());
    await page.getByRole("heading", { name: "Log in to Agent Chat" }).waitFor();
    const focusedName = () =>
      page.evaluate(() => document.activeElement?.getAttribute("name") ?? document.activeElement?.id);
    await page.keyboard.press("Tab");
    expect(await focusedName()).toBe("email");
    const ring = await page.evaluate(() => getComputedStyle(document.activeElement as Element).outlineStyle);
    expect(ring).not.toBe("none");
    await page.keyboard.type(email);
    await page.keyboard.press("Tab");
    expect(await focusedName()).toBe("password");
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Start your first chat" }).waitFor();
    await page.keyboard.press("Alt+Shift+N");
    await page.waitForURL(/\/chats\//);
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe("composer");
    const marker = await script([{ blocks: [{ type: "text", text: "Typed without a mouse." }] }]);
    await page.keyboard.type(`${marker} hello`);
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type("second line");
    await page.keyboard.press("Enter");
    await page.locator(".message.user .bubble", { hasText: "second line" }).waitFor();
    expect(await page.locator(".message.user .bubble").innerText()).toBe(`${marker} hello\nsecond line`);
    await page.locator('.message.agent[data-status="completed"]', { hasText: "Typed without a mouse." }).waitFor();
    // "/" focuses the composer from elsewhere on the page.
    await page.locator(".chat-title-h button").focus();
    await page.keyboard.press("/");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("composer");
    // Tab reaches the sidebar's rename and delete buttons of the current chat.
    await page.locator(".chat-row.current .chat-link").focus();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toMatch(/^Rename /);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("the chat list: newest first, paged, rename and delete in place", async () => {
    const { context } = await signedInContext(browser());
    for (let i = 1; i <= 32; i++) await createChat(context, { title: `Chat number ${i}` });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto("/");
    const rows = page.locator("#sidebar .chat-row");
    await expect.poll(() => rows.count()).toBe(30);
    expect(await rows.first().locator(".chat-title").innerText()).toBe("Chat number 32");
    await page.getByRole("button", { name: "Show more chats" }).click();
    await expect.poll(() => rows.count()).toBe(32);
    expect(await rows.last().locator(".chat-title").innerText()).toBe("Chat number 1");

    const chatId = await page.locator('#sidebar .chat-row:has-text("Chat number 32")').getAttribute("data-chat-id");
    const row = page.locator(`#sidebar .chat-row[data-chat-id="${chatId}"]`);
    await row.locator(".chat-link").click();
    await page.locator(".chat-title-h", { hasText: "Chat number 32" }).waitFor();
    await row.getByRole("button", { name: "Rename Chat number 32" }).click();
    await row.getByLabel("New title").fill("Renamed in place");
    await row.getByLabel("New title").press("Enter");
    await page.locator("#sidebar .chat-title", { hasText: "Renamed in place" }).waitFor();
    await page.locator(".chat-title-h", { hasText: "Renamed in place" }).waitFor();
    await row.getByRole("button", { name: "Delete Renamed in place" }).click();
    await row.getByRole("button", { name: "Delete", exact: true }).click();
    // The chat shown was deleted: back to the start, and the row is gone.
    await page.waitForURL((url) => url.pathname === "/");
    await expect.poll(() => rows.count()).toBe(31);
    const list = await context.request.get("/api/chats?limit=100");
    const titles = ((await list.json()) as { chats: { title: string }[] }).chats.map((c) => c.title);
    expect(titles).not.toContain("Renamed in place");
    expect(titles).toHaveLength(31);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("settings: defaults apply to new chats; an API token is shown once, listed, works, and is revoked", async () => {
    const { context } = await signedInContext(browser());
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto("/settings");
    await page.getByRole("heading", { name: "Settings" }).waitFor();
    await page.getByLabel("Default model").fill("claude-opus-4-1");
    await page.getByLabel("Default permission mode").selectOption("acceptEdits");
    await page.getByRole("button", { name: "Save defaults" }).click();
    await page.getByText("Saved.").waitFor();
    await page.getByLabel("Token name").fill("my script");
    await page.getByRole("button", { name: "Create token" }).click();
    const secret = (await page.locator(".secret-value").innerText()).trim();
    expect(secret.length).toBeGreaterThan(20);
    await page.locator("table.tokens", { hasText: "my script" }).waitFor();
    await screenshot(page, "settings");
    const me = await fetch(`${origin()}/api/auth/me`, { headers: { authorization: `Bearer ${secret}` } });
    expect(me.status).toBe(200);
    await page.getByRole("button", { name: "Done" }).click();
    expect(await page.locator(".secret-value").count()).toBe(0);
    await page.reload();
    await page.locator("table.tokens", { hasText: "my script" }).waitFor();
    expect(await page.locator(".secret-value").count()).toBe(0);
    await page.getByRole("button", { name: "Revoke my script" }).click();
    await page.getByText("No tokens yet.").waitFor();
    const after = await fetch(`${origin()}/api/auth/me`, { headers: { authorization: `Bearer ${secret}` } });
    expect(after.status).toBe(401);

    // The defaults survive a reload and a new chat starts with them.
    await page.reload();
    expect(await page.getByLabel("Default model").inputValue()).toBe("claude-opus-4-1");
    await page.getByRole("button", { name: "+ New chat" }).click();
    await page.waitForURL(/\/chats\//);
    const chatId = decodeURIComponent(page.url().split("/chats/")[1] ?? "");
    const res = await context.request.get(`/api/chats/${chatId}`);
    expect((await res.json()).chat).toMatchObject({ model: "claude-opus-4-1", permissionMode: "acceptEdits" });
    expect(await page.getByLabel("Permissions").inputValue()).toBe("acceptEdits");
    expect((await storedMessages(context, chatId)).length).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("on a phone-sized screen the chat list is a drawer and the files panel a full-screen sheet", async () => {
    const { context } = await signedInContext(browser(), { viewport: { width: 390, height: 800 } });
    const chatId = await createChat(context, { title: "On the phone", permissionMode: "bypassPermissions" });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`/chats/${chatId}`);
    const marker = await script([{ blocks: [{ type: "text", text: "Small screens work too." }] }]);
    await page.locator("#composer").fill(`${marker} hi`);
    await page.keyboard.press("Enter");
    await page.locator('.message.agent[data-status="completed"]').waitFor();
    expect(await page.locator("#sidebar").isVisible()).toBe(false);
    await screenshot(page, "phone-chat");
    await page.getByRole("button", { name: "Show chats" }).click();
    await page.locator("#sidebar").getByText("On the phone").waitFor();
    expect(await page.locator("#sidebar").isVisible()).toBe(true);
    await screenshot(page, "phone-drawer");
    await page.keyboard.press("Escape");
    await expect.poll(() => page.locator("#sidebar").isVisible()).toBe(false);
    await page.getByRole("button", { name: "Files" }).click();
    const sheet = await page.locator("#files-panel").boundingBox();
    expect(sheet).toMatchObject({ x: 0, y: 0, width: 390, height: 800 });
    expect(errors).toEqual([]);
    await context.close();
  });
});
