// The workload of bench/sim-instructions.mjs: one fixed twin of the corpus
// (test/sim-corpus.ts, compiled by esbuild as bench/sim.ts compiles it, on
// the build in dist/), `runs` schedules a workload:
//
//   node bench/sim-program.mjs <twin name> <explore|limit> <runs>
//   node bench/sim-program.mjs --names      (the twins' names, as JSON)
//
// explore: explore(fixed, { runs, seed }), a new seed each workload; limit:
// fixed() on a fresh worker per run, round-robin, the twin's faults only
// drawn (at its rate). It warms up and prints "ready"; then each "go" line
// on stdin runs the workload once more and prints "done"; "exit" ends it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { transform } from "esbuild";
import * as cw from "../dist/index.js";
import * as sim from "../dist/sim.js";
import { answerRounds } from "./callgrind.mjs";

const [name, mode, runsArg] = process.argv.slice(2);
const runs = Number(runsArg);
const source = readFileSync(new URL("../test/sim-corpus.ts", import.meta.url), "utf8");
const { code } = await transform(source, { loader: "ts", format: "esm", target: "node20" });
const folder = mkdtempSync(join(tmpdir(), "clockwork-sim-program-"));
writeFileSync(join(folder, "sim-corpus.mjs"), code);
const { corpus } = await import(pathToFileURL(join(folder, "sim-corpus.mjs")).href);
rmSync(folder, { recursive: true, force: true });
const entries = corpus({ ...cw, sim: sim.sim });
if (name === "--names") {
  console.log(JSON.stringify(entries.map((e) => e.name)));
  process.exit(0);
}
const entry = entries.find((e) => e.name === name);
if (entry === undefined || !["explore", "limit"].includes(mode) || !(runs > 0)) {
  console.error("usage: node bench/sim-program.mjs <twin name> <explore|limit> <runs>");
  process.exit(2);
}

let seed = 1;
const rate = entry.options.faults?.rate;
let drawn = 1;
const faultsOnly = {
  pick: () => 0,
  choose: (_options, label) => {
    drawn = (Math.imul(drawn, 1664525) + 1013904223) >>> 0;
    return label.startsWith("fault ") && drawn / 4294967296 < rate ? 1 : 0;
  },
};
const workload =
  mode === "explore"
    ? () => {
        const result = sim.explore(entry.fixed, { ...entry.options, runs, seed: seed++ });
        if (!result.ok) throw new Error(`${name}, fixed, failed: ${result.failure.why}`);
      }
    : () => {
        for (let i = 0; i < runs; i++) {
          const clock = new cw.VirtualClock();
          const worker = new cw.Worker(
            rate === undefined ? { clock } : { clock, schedule: faultsOnly },
          );
          worker.assign(entry.fixed());
          worker.work();
        }
      };

await answerRounds(workload, 3);
