// Instructions per task switch, counted by valgrind's callgrind: the switch
// benchmark's workload (bench/step-program.mjs) for bare generators and for
// clockwork, whose time ratio moves between runs on this noisy machine.
//
//   npm run build && node bench/step-instructions.mjs [--tasks N] [--yields N]
//
// Each program runs under callgrind with instrumentation off, warms up, and
// is counted for five runs of the workload, each dumped on its own; the
// median is reported (main thread only: the workload is synchronous). Needs valgrind (`apt-get install valgrind`).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { countRounds, needValgrind } from "./callgrind.mjs";

const usage = "usage: node bench/step-instructions.mjs [--tasks N] [--yields N]";
const options = { tasks: 1000, yields: 200 };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const value = Number(args[i + 1]);
  if ((arg === "--tasks" || arg === "--yields") && Number.isInteger(value) && value > 0) {
    options[arg.slice(2)] = value;
    i++;
  } else {
    console.error(`bad argument ${JSON.stringify(arg)}\n${usage}`);
    process.exit(2);
  }
}

needValgrind();

const program = fileURLToPath(new URL("./step-program.mjs", import.meta.url));
const folder = mkdtempSync(join(tmpdir(), "clockwork-callgrind-"));

/** Counted runs per program; the median is reported (a run can hold a garbage collection). */
const ROUNDS = 5;

/** Runs one program under callgrind; resolves with the median instructions of its counted runs. */
async function count(mode) {
  const args = [program, mode, String(options.tasks), String(options.yields)];
  return (await countRounds(folder, mode, args, ROUNDS))[ROUNDS >> 1];
}

try {
  const steps = options.tasks * options.yields;
  const results = [];
  for (const mode of ["bare", "clockwork"]) {
    process.stdout.write(`${mode}: counting under callgrind ... `);
    const total = await count(mode);
    results.push({ mode, perStep: total / steps });
    console.log("done");
  }
  const [bare] = results;
  console.log(
    `\ninstructions per step, ${options.tasks} tasks x ${options.yields} yields (ratio to bare generators):`,
  );
  for (const { mode, perStep } of results) {
    console.log(
      `  ${mode.padEnd(10)} ${perStep.toFixed(1).padStart(8)} (${(perStep / bare.perStep).toFixed(2)}x)`,
    );
  }
  stepBytecode();
} finally {
  rmSync(folder, { recursive: true, force: true });
}

/**
 * The worker's step function must stay small enough for V8 to inline it
 * into the driving loops (work(), tickFor()): its bytecode under
 * --max-inlined-bytecode-size (460 in Node 20). Past it, every step pays a
 * call and loses the optimisations across it (measured on 2026-12-03: 476
 * bytes cost about 70 instructions a step).
 */
function stepBytecode() {
  const limit = 460;
  const out = execFileSync(
    process.execPath,
    ["--print-bytecode", "--print-bytecode-filter=_step", program, "clockwork", "20", "2000"],
    { input: "exit\n", encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
  );
  const size = Number(out.match(/Bytecode length: (\d+)/)?.[1]);
  if (!Number.isFinite(size)) {
    console.log("\nworker._step bytecode: not found in V8's output");
    return;
  }
  const verdict =
    size < limit ? "inlined into the driving loops" : "TOO BIG to inline: every step pays a call";
  console.log(`\nworker._step bytecode: ${size} bytes (V8 inlines up to ${limit}): ${verdict}`);
}
