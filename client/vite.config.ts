/**
 * The client build. The target names the oldest browsers supported (README says the same); esbuild
 * lowers newer syntax to them, and scripts/client-budget.mjs checks the bundle for newer APIs and
 * for the size budget.
 */
import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

/** Browsers from mid-2023 on: ES2023 (Array#findLast, #at, Object.hasOwn, private fields) everywhere. */
export const browserTargets = ["chrome111", "edge111", "firefox115", "safari16.4"];

export default defineConfig({
  root: "client",
  plugins: [preact()],
  build: {
    outDir: "../dist/client",
    emptyOutDir: true,
    target: browserTargets,
    cssTarget: browserTargets,
  },
});
