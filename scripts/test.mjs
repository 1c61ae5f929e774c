// The one test command: installs what is missing, builds the client (the worker serves it),
// runs `npm run check`, then every vitest project, and ends with the line `N passed, N failed`.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bootstrap, root, run } from "./bootstrap.mjs";

bootstrap(import.meta.url);

run("npm", ["run", "--silent", "types"]);
run("npm", ["run", "--silent", "build:client"]);
run("npm", ["run", "--silent", "check"]);

mkdirSync(join(root, "test-results"), { recursive: true });
const report = join(root, "test-results", "vitest.json");
const res = spawnSync(
  "vitest",
  ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { cwd: root, stdio: "inherit", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
);

let passed = 0;
let failed = 0;
try {
  const json = JSON.parse(readFileSync(report, "utf8"));
  passed = json.numPassedTests ?? 0;
  // A file that failed before running any test (an import or setup error) counts as one failure.
  const brokenFiles = (json.testResults ?? []).filter(
    (f) => f.status === "failed" && (f.assertionResults ?? []).length === 0,
  );
  failed = (json.numFailedTests ?? 0) + brokenFiles.length + (json.numRuntimeErrors ?? 0);
} catch {
  failed = Math.max(failed, 1);
}
if (res.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(res.status === 0 && failed === 0 ? 0 : 1);
