import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BUDGET_BYTES, checkClientBudget } from "../../scripts/client-budget.mjs";

/** A dist/client with an entry script and a lazy chunk. */
function dist(entry: string, lazy = "export const x = 1;"): string {
  const dir = mkdtempSync(join(tmpdir(), "budget-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(
    join(dir, "index.html"),
    '<script type="module" crossorigin src="/assets/index-a.js"></script><link rel="modulepreload" href="/assets/dep-b.js">',
  );
  writeFileSync(join(dir, "assets", "index-a.js"), entry);
  writeFileSync(join(dir, "assets", "dep-b.js"), "export const dep = 2;");
  writeFileSync(join(dir, "assets", "lazy-c.js"), lazy);
  return dir;
}

/** Text that gzip cannot shrink much: random bytes as base64 (6 bits a character). */
function incompressible(chars: number): string {
  return `export const blob = "${randomBytes(Math.ceil((chars * 3) / 4)).toString("base64")}";`;
}

describe("the client budget checked by npm run build", () => {
  it("counts the entry and its preloads, lists lazy chunks apart", () => {
    const lines = checkClientBudget(dist("export const a = 1;", incompressible(200_000)));
    expect(lines[0]).toMatch(
      /^client first-page JavaScript: 0\.\d KiB gzipped .*assets\/index-a\.js, assets\/dep-b\.js/,
    );
    expect(lines[1]).toMatch(/lazy chunk lazy-c\.js/);
  });

  it("fails above 80 KiB gzipped", () => {
    expect(() => checkClientBudget(dist(incompressible(BUDGET_BYTES * 1.4)))).toThrow(/over the 80\.0 KiB budget/);
  });

  it("fails on an API newer than the target browsers, unless it sits behind a feature test", () => {
    expect(() => checkClientBudget(dist("const g = Object.groupBy(xs, f);"))).toThrow(/groupBy/);
    expect(() => checkClientBudget(dist("", "new Set(a).union(b)"))).toThrow(/lazy-c\.js: \.union\(/);
    expect(() =>
      checkClientBudget(dist('typeof URL.canParse=="function"?URL.canParse(e):(new URL(e),!0)')),
    ).not.toThrow();
  });
});
