// Production build: the client with Vite and the worker bundle with `wrangler deploy --dry-run`,
// then the gzipped size of each.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { bootstrap, root, run } from "./bootstrap.mjs";

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
