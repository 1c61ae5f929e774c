// Production build: the client with Vite and the worker bundle with `wrangler deploy --dry-run`,
// then the gzipped size of each; fails when the client breaks its budget (scripts/client-budget.mjs).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { bootstrap, root, run } from "./bootstrap.mjs";
import { checkClientBudget } from "./client-budget.mjs";

bootstrap(import.meta.url);

run("npm", ["run", "--silent", "build:client"]);
run("wrangler", ["deploy", "--dry-run", "--outdir", "dist/worker"]);

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

function gzipped(dir, pattern) {
  return files(join(root, dir))
    .filter((f) => pattern.test(f))
    .reduce((sum, f) => sum + gzipSync(readFileSync(f)).length, 0);
}

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`worker bundle: ${kb(gzipped("dist/worker", /\.js$/))} gzipped`);
console.log(`client bundle: ${kb(gzipped("dist/client", /\.(js|css|html)$/))} gzipped`);
try {
  for (const line of checkClientBudget(join(root, "dist", "client"))) console.log(line);
} catch (error) {
  console.error(String(error instanceof Error ? error.message : error));
  process.exit(1);
}
