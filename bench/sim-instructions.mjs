// Instructions a schedule of explore() on fixed twins of the corpus, counted
// by valgrind's callgrind (bench/callgrind.mjs): schedules a second move
// with the machine's load, this does not. The workload is
// bench/sim-program.mjs; each twin is counted for five batches of `runs`
// schedules after warming up, and the median is reported with the fewest
// and most (a batch can hold a garbage collection).
//
//   npm run build && node bench/sim-instructions.mjs [--limit] [--runs N] [twin name ...]
//
// --limit counts the twin alone on a fresh worker per run instead (see
// sim-program.mjs). Default: every twin, 3,000 schedules a batch.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { countRounds, needValgrind } from "./callgrind.mjs";

const args = process.argv.slice(2);
let mode = "explore";
let runs = 3000;
const names = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--limit") mode = "limit";
  else if (args[i] === "--runs" && Number(args[i + 1]) > 0) runs = Number(args[++i]);
  else names.push(args[i]);
}
const program = fileURLToPath(new URL("./sim-program.mjs", import.meta.url));
const all = JSON.parse(execFileSync(process.execPath, [program, "--names"], { encoding: "utf8" }));
const unknown = names.filter((n) => !all.includes(n));
if (unknown.length > 0) {
  console.error(`no twin named ${unknown.join(", ")}: the corpus has ${all.join(", ")}`);
  process.exit(2);
}
needValgrind();

const ROUNDS = 5;
const folder = mkdtempSync(join(tmpdir(), "clockwork-callgrind-"));
try {
  console.log(
    `instructions a schedule, ${mode}, ${runs} schedules a batch (median, fewest, most):`,
  );
  for (const [i, name] of (names.length > 0 ? names : all).entries()) {
    const totals = await countRounds(
      folder,
      `twin${i}`,
      [program, name, mode, String(runs)],
      ROUNDS,
    );
    const per = (n) => Math.round(n / runs).toLocaleString("en-US");
    console.log(
      `  ${name.padEnd(34)} ${per(totals[ROUNDS >> 1]).padStart(9)}  (${per(totals[0])} to ${per(totals[ROUNDS - 1])})`,
    );
  }
} finally {
  rmSync(folder, { recursive: true, force: true });
}
