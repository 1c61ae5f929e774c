// The client's budget, checked by `npm run build`: the JavaScript the first page loads (the entry
// script and what it preloads, per dist/client/index.html) is at most 80 KiB gzipped, and the
// bundle calls no JavaScript or DOM API newer than the browsers it targets (client/vite.config.ts).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

export const BUDGET_BYTES = 80 * 1024;

/**
 * APIs the target browsers (Chrome/Edge 111, Firefox 115, Safari 16.4) lack; esbuild lowers syntax
 * but not APIs, so a call to one of these would break there.
 */
const NEWER_APIS = [
  "groupBy(",
  "withResolvers(",
  "fromAsync(",
  "isWellFormed(",
  "toWellFormed(",
  ".union(",
  ".intersection(",
  ".symmetricDifference(",
  ".isSubsetOf(",
  ".isSupersetOf(",
  ".isDisjointFrom(",
  "Iterator.from(",
  "RegExp.escape(",
  "Promise.try(",
  "sumPrecise(",
  "fromBase64(",
  "toBase64(",
  "fromHex(",
  "checkVisibility(",
  "URL.canParse(",
  "URL.parse(",
  "AbortSignal.any(",
  "rawJSON(",
  "Error.isError(",
  "transferToFixedLength(",
  "showPopover(",
];

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

/** Returns the lines to print; throws when a check fails. */
export function checkClientBudget(dir) {
  const html = readFileSync(join(dir, "index.html"), "utf8");
  const first = [
    ...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="\/?([^"]+\.js)"/g),
  ].map((m) => m[1]);
  if (first.length === 0) throw new Error("client budget: no script found in dist/client/index.html");
  const assets = readdirSync(join(dir, "assets")).filter((f) => f.endsWith(".js"));
  const size = (file) => gzipSync(readFileSync(join(dir, file)), { level: 9 }).length;
  const firstBytes = first.reduce((sum, f) => sum + size(f), 0);
  const lazy = assets.filter((f) => !first.includes(`assets/${f}`));
  const lines = [
    `client first-page JavaScript: ${kib(firstBytes)} gzipped (budget ${kib(BUDGET_BYTES)}; ${first.join(", ")})`,
    ...lazy.map((f) => `client lazy chunk ${f}: ${kib(size(`assets/${f}`))} gzipped (loaded on first use)`),
  ];
  const offenders = [];
  for (const f of assets) {
    const code = readFileSync(join(dir, "assets", f), "utf8");
    for (const api of NEWER_APIS) {
      for (let at = code.indexOf(api); at >= 0; at = code.indexOf(api, at + 1)) {
        // A call behind a feature test (`typeof URL.canParse == "function" ? ... : ...`) is fine.
        const name = api.replace(/^\./, "").replace(/\($/, "");
        if (!code.slice(Math.max(0, at - 120), at).includes(`typeof ${name}`)) offenders.push(`${f}: ${api}`);
      }
    }
  }
  if (offenders.length > 0) {
    throw new Error(`client bundle uses APIs newer than its target browsers:\n  ${offenders.join("\n  ")}`);
  }
  if (firstBytes > BUDGET_BYTES) {
    throw new Error(`client first-page JavaScript is ${kib(firstBytes)} gzipped, over the ${kib(BUDGET_BYTES)} budget`);
  }
  return lines;
}
