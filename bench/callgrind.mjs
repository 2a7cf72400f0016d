// Instructions counted by valgrind's callgrind, for the *-instructions.mjs
// scripts: a figure that does not move with the machine's load.
//
// The program counted runs under callgrind with instrumentation off, warms
// up and prints "ready"; then each "go" line on stdin runs its workload once
// and prints "done", and "exit" ends it. Each round between a "go" and its
// "done" is counted and dumped on its own (main thread only: the workloads
// are synchronous). Needs valgrind (`apt-get install valgrind`).
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** Exits with a word on how to install valgrind when it is not there. */
export function needValgrind() {
  try {
    execFileSync("valgrind", ["--version"], { stdio: "ignore" });
  } catch {
    console.error(
      "valgrind was not found: install it (apt-get install valgrind) to count instructions",
    );
    process.exit(2);
  }
}

const control = (...a) => execFileSync("callgrind_control", a, { stdio: "ignore" });

/** valgrind's arguments to run `node args...` under callgrind, not counting until told, dumps in `folder` named after `tag`. */
export function underCallgrind(folder, tag, args, node = process.execPath) {
  return [
    "--tool=callgrind",
    "--instr-atstart=no",
    "--separate-threads=yes",
    "--smc-check=all-non-file", // V8 writes machine code at run time
    `--callgrind-out-file=${join(folder, `${tag}.%p`)}`,
    node,
    ...args,
  ];
}

/**
 * The counted program's side: runs `workload` `warmups` times, prints
 * "ready", then runs it once for each "go" line on stdin, printing "done";
 * exits at "exit" (or the end of stdin).
 */
export async function answerRounds(workload, warmups) {
  for (let i = 0; i < warmups; i++) workload();
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  console.log("ready");
  for (
    let line = await lines.next();
    !line.done && line.value === "go";
    line = await lines.next()
  ) {
    workload();
    console.log("done");
  }
  process.exit(0);
}

/**
 * Runs `node args...` under callgrind (dumps in `folder`, named after
 * `tag`); resolves with the instructions of each of `rounds` counted runs,
 * fewest first (report the median: a run can hold a garbage collection).
 */
export async function countRounds(folder, tag, args, rounds, node = process.execPath) {
  const child = spawn("valgrind", underCallgrind(folder, tag, args, node), {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const expect = async (word) => {
    const { value, done } = await lines.next();
    if (done || value !== word)
      throw new Error(`${tag}: expected "${word}", got ${value}\n${stderr}`);
  };
  await expect("ready");
  const totals = [];
  for (let round = 1; round <= rounds; round++) {
    control("--instr=on", String(child.pid));
    child.stdin.write("go\n");
    await expect("done");
    control("--instr=off", String(child.pid));
    control("--dump", String(child.pid));
    const main = readdirSync(folder).find((f) => f.startsWith(`${tag}.${child.pid}.${round}-01`));
    if (main === undefined) throw new Error(`${tag}: no dump of the main thread`);
    const line = readFileSync(join(folder, main), "utf8").match(/^totals: (\d+)/m);
    if (line === null) throw new Error(`${tag}: no totals line in ${main}`);
    totals.push(Number(line[1]));
  }
  child.stdin.write("exit\n");
  await exited;
  return totals.sort((a, b) => a - b);
}
