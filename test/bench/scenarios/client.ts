/**
 * The web client in real Chromium (`npm run bench -- client`). Opening a chat: a fresh page load
 * of /chats/<id> until its last message is on screen and the composer is there, for chats of 1,000
 * and 10,000 events side by side. Streaming: three chats stream at a fast model's pace into one
 * page (one shown, two in the background); for each text delta of the shown chat, the time from
 * its frame's arrival at the page's WebSocket to its text in the DOM, and the page's long tasks.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../../e2e/support/browser.ts";
import { bench, createChat } from "../clients.ts";
import type { Context } from "../context.ts";
import { figure, median, note, percentile } from "../stats.ts";

const SIZES = [1_000, 10_000] as const;
/** Tokens each of the three streams sends (about 9 s at the bench room's pace). */
const STREAM_TOKENS = 6_000;

/** Records in the page when the last message's marker and the composer are both on screen. */
function watchReady(marker: string): void {
  const check = () => {
    if (!document.getElementById("composer")) return false;
    const messages = document.querySelectorAll(".message");
    const last = messages[messages.length - 1];
    if (!last?.textContent?.includes(marker)) return false;
    (window as unknown as { __readyAt: number }).__readyAt = performance.now();
    return true;
  };
  new MutationObserver((_, observer) => {
    if (check()) observer.disconnect();
  }).observe(document, { childList: true, subtree: true, characterData: true });
}

type OpenTime = { ready: number; scriptDone: number; chatLoaded: number };

async function openTime(context: BrowserContext, origin: string, chatId: string, marker: string): Promise<OpenTime> {
  const page = await context.newPage();
  try {
    await page.addInitScript(watchReady, marker);
    await page.goto(`${origin}/chats/${chatId}`);
    await page.waitForFunction(() => (window as unknown as { __readyAt?: number }).__readyAt !== undefined, null, {
      timeout: 60_000,
    });
    return await page.evaluate((id) => {
      const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
      const chat = performance.getEntriesByType("resource").find((e) => e.name.endsWith(`/api/chats/${id}`));
      return {
        ready: (window as unknown as { __readyAt: number }).__readyAt,
        scriptDone: nav?.domContentLoadedEventEnd ?? Number.NaN,
        chatLoaded: (chat as PerformanceResourceTiming | undefined)?.responseEnd ?? Number.NaN,
      };
    }, chatId);
  } finally {
    await page.close();
  }
}

async function openChats(ctx: Context, context: BrowserContext): Promise<void> {
  const times = new Map<number, OpenTime[]>();
  const chats = new Map<number, { id: string; marker: string; messages: number }>();
  for (const size of SIZES) {
    const id = await createChat(ctx.api);
    const marker = `end-of-chat-${size}`;
    const { head } = await bench<{ head: number }>(ctx.origin, "conversation", { chat: id, n: size, marker });
    chats.set(size, { id, marker, messages: Math.floor(size / 29) * 2 });
    note(`client open: chat of ${head} events (${Math.floor(size / 29) * 2} messages)`);
  }
  // One untimed load each warms the routes, the objects and the HTTP cache.
  for (const chat of chats.values()) await openTime(context, ctx.origin, chat.id, chat.marker);
  for (let rep = 0; rep < ctx.reps; rep++) {
    for (const [size, chat] of chats) {
      times.set(size, [...(times.get(size) ?? []), await openTime(context, ctx.origin, chat.id, chat.marker)]);
    }
  }
  const readyOf = (size: number) => median((times.get(size) ?? []).map((t) => t.ready));
  for (const [size, values] of times) {
    note(`client open ${size} runs: ${values.map((v) => v.ready.toFixed(0)).join(", ")} ms`);
    note(
      `client open ${size}: script run by ${median(values.map((v) => v.scriptDone)).toFixed(0)} ms, ` +
        `chat loaded by ${median(values.map((v) => v.chatLoaded)).toFixed(0)} ms (medians, from navigation)`,
    );
    figure(`client_open_chat_${size}_events`, readyOf(size), "ms");
  }
  const small = readyOf(1_000);
  const large = readyOf(10_000);
  figure("client_open_chat_10000_over_1000", large / small, "x (the chat is 10x longer)");
}

/** In the page: each text delta's arrival at a WebSocket, and when its token shows in the DOM. */
function instrumentStreams(): void {
  type Pending = { token: string; chatId: string; at: number };
  const state = {
    pending: [] as Pending[],
    delays: [] as number[],
    longTasks: [] as number[],
    measuring: false,
  };
  (window as unknown as { __bench: typeof state }).__bench = state;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      // Added before the app's handler, so this runs first: the arrival time.
      this.addEventListener("message", (event) => {
        const at = performance.now();
        if (!state.measuring || typeof event.data !== "string") return;
        const frame = JSON.parse(event.data) as {
          events?: { chatId: string; kind: string; payload: { text?: string } }[];
        };
        for (const e of frame.events ?? []) {
          if (e.kind !== "text_delta") continue;
          const tokens = e.payload.text?.match(/w\d+x/g);
          const token = tokens?.[tokens.length - 1];
          if (token) state.pending.push({ token, chatId: e.chatId, at });
        }
      });
    }
  };
  new PerformanceObserver((list) => {
    if (!state.measuring) return;
    for (const entry of list.getEntries()) state.longTasks.push(entry.duration);
  }).observe({ type: "longtask", buffered: false });
  const shown = () => decodeURIComponent(location.pathname.split("/chats/")[1] ?? "");
  const check = () => {
    if (state.pending.length === 0) return;
    const chatId = shown();
    const text = document.querySelector(".timeline")?.textContent ?? "";
    const now = performance.now();
    state.pending = state.pending.filter((p) => {
      if (p.chatId !== chatId) return false;
      if (!text.includes(p.token)) return true;
      state.delays.push(now - p.at);
      return false;
    });
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true });
}

type BenchState = { pending: unknown[]; delays: number[]; longTasks: number[]; measuring: boolean };

async function streaming(ctx: Context, browser: Browser, cookie: { name: string; value: string }): Promise<void> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addCookies([{ ...cookie, url: ctx.origin }]);
  const delays: number[] = [];
  const longTasks: number[] = [];
  try {
    for (let rep = 0; rep < ctx.reps; rep++) {
      const chats = [await createChat(ctx.api), await createChat(ctx.api), await createChat(ctx.api)];
      const page: Page = await context.newPage();
      await page.addInitScript(instrumentStreams);
      await page.goto(`${ctx.origin}/chats/${chats[0]}`);
      await page.locator("#composer").waitFor();
      // All three start streaming; the page visits each (so each is open) and stays on the last.
      const runs = chats.map((chat) => bench(ctx.origin, "stream", { chat, tokens: STREAM_TOKENS }));
      for (const chat of chats) {
        await page.locator(`#sidebar a[href="/chats/${chat}"]`).click();
        await page.locator(".message.agent .markdown").first().waitFor();
      }
      await page.evaluate(() => {
        (window as unknown as { __bench: BenchState }).__bench.measuring = true;
      });
      await Promise.all(runs);
      await page.locator('.message.agent[data-status="completed"]').waitFor({ timeout: 60_000 });
      const result = await page.evaluate(() => (window as unknown as { __bench: BenchState }).__bench);
      note(
        `client stream rep ${rep}: ${result.delays.length} deltas measured, ${result.pending.length} never seen, ` +
          `${result.longTasks.length} long tasks`,
      );
      delays.push(...result.delays);
      longTasks.push(...result.longTasks);
      await page.close();
    }
  } finally {
    await context.close();
  }
  figure("client_stream_delta_to_dom_p50", percentile(delays, 50), "ms");
  figure("client_stream_delta_to_dom_p95", percentile(delays, 95), "ms (goal: one frame, 16.7 ms)");
  figure("client_stream_long_tasks_over_50ms", longTasks.filter((d) => d > 50).length, "tasks");
  figure("client_stream_longest_task", Math.max(0, ...longTasks), "ms (longtask entries start at 50 ms)");
}

export async function client(ctx: Context): Promise<void> {
  const [name = "", value = ""] = ctx.api.cookie.split("=", 2);
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addCookies([{ name, value, url: ctx.origin }]);
    await openChats(ctx, context);
    await context.close();
    await streaming(ctx, browser, { name, value });
  } finally {
    await browser.close();
  }
}
