// Decides how `npm start` runs the local sandbox provider: inside bubblewrap when this machine can
// (installing Debian's bubblewrap first when it is missing and we may), else with
// SANDBOX_ISOLATION=none, saying so plainly. The check is the provider's own start-up probe.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { root } from "./bootstrap.mjs";

function hasBwrap() {
  return spawnSync("sh", ["-c", "command -v bwrap"], { stdio: "ignore" }).status === 0;
}

function tryInstall() {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return;
  if (spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status !== 0) return;
  console.log("[setup] installing bubblewrap (apt-get) to isolate sandboxes…");
  const args = ["install", "-y", "--no-install-recommends", "bubblewrap"];
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  if (spawnSync("apt-get", args, { stdio: "ignore", env }).status === 0) return;
  spawnSync("apt-get", ["update"], { stdio: "ignore", env });
  spawnSync("apt-get", args, { stdio: "ignore", env });
}

/** "bubblewrap" or "none" for the provider; an explicit SANDBOX_ISOLATION is kept as it is. */
export async function chooseIsolation(sandboxRoot, claudeBin) {
  if (process.env.SANDBOX_ISOLATION) return process.env.SANDBOX_ISOLATION;
  if (process.platform === "linux" && !hasBwrap()) tryInstall();
  const { setUpIsolation, isolationLogLine } = await import(join(root, "sandbox/src/isolation.ts"));
  const { DEFAULT_UIDS } = await import(join(root, "sandbox/src/server.ts"));
  try {
    const isolation = await setUpIsolation({
      mode: "bubblewrap",
      root: sandboxRoot,
      agentBin: claudeBin,
      uids: process.getuid?.() === 0 ? DEFAULT_UIDS : null,
      bwrap: process.env.SANDBOX_BWRAP || undefined,
    });
    console.log(`[setup] ${isolationLogLine(isolation)}`);
    return "bubblewrap";
  } catch (err) {
    console.log(
      `[setup] This machine cannot isolate sandboxes (${err instanceof Error ? err.message : String(err)}).\n` +
        "[setup] Starting the sandbox provider with SANDBOX_ISOLATION=none: agents run as your user and can read\n" +
        "[setup] your files and each other's sandboxes. Fine to try it alone; never for other people.",
    );
    return "none";
  }
}
