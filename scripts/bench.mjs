// The benchmark command (`npm run bench [-- scenario... --reps=N --burst=N --via-proxy]`): installs
// what is missing, builds the client (the bench worker serves the real assets), then runs
// test/bench/run.ts on the pinned Node 22. Prints `bench <name> <value> <unit>` lines.
import { bootstrap, run } from "./bootstrap.mjs";

bootstrap(import.meta.url);

run("npm", ["run", "--silent", "build:client"]);
run("node", ["--disable-warning=ExperimentalWarning", "test/bench/run.ts", ...process.argv.slice(2)]);
