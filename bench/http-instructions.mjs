// Instructions per request of the hello-world servers, counted by valgrind's
// callgrind: a figure that does not move with the machine's load, where
// requests per second on this noisy 2-core machine move by 20% between runs.
//
//   npm run build && node bench/http-instructions.mjs [--requests N] [--warmup N] [modes...]
//
// Each server of bench/http-server.mjs (modes: node, node-same-headers,
// clockwork; default all three) runs under callgrind with instrumentation
// off; autocannon (10 connections, in this process) sends the warm-up
// requests, then instrumentation is switched on for exactly N more
// requests, and the counts are dumped. Printed per request: instructions on
// the main thread (where the requests are handled) and on all threads
// (garbage collection and the optimising compiler run on helper threads).
// The servers run one after the other; each takes about a minute.
// Not part of `npm run bench`: it needs valgrind (`apt-get install valgrind`).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { needValgrind, underCallgrind } from "./callgrind.mjs";

const usage =
  "usage: node bench/http-instructions.mjs [--requests N] [--warmup N] [node|node-same-headers|clockwork ...]";
const known = ["node", "node-same-headers", "clockwork"];
const options = { requests: 20_000, warmup: 20_000, modes: [] };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === "--requests" || arg === "--warmup") {
    const value = Number(args[++i]);
    if (!Number.isInteger(value) || value < 1) {
      console.error(`${arg} expects a whole number above 0, got ${args[i]}\n${usage}`);
      process.exit(2);
    }
    options[arg.slice(2)] = value;
  } else if (known.includes(arg)) options.modes.push(arg);
  else {
    console.error(`unknown argument ${JSON.stringify(arg)}\n${usage}`);
    process.exit(2);
  }
}
if (options.modes.length === 0) options.modes = known;

needValgrind();

const server = fileURLToPath(new URL("./http-server.mjs", import.meta.url));
const folder = mkdtempSync(join(tmpdir(), "clockwork-callgrind-"));

/** Starts a server under callgrind; resolves with its pid and port once it listens. */
function start(mode) {
  const child = spawn("valgrind", underCallgrind(folder, mode, [server, mode]), {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line === undefined) return;
      const message = JSON.parse(line);
      if (message.error) reject(new Error(`${mode}: ${message.error}`));
      else resolve({ child, port: message.port });
    });
    child.on("exit", (code) =>
      reject(new Error(`${mode}: the server exited (${code}) before it listened\n${stderr}`)),
    );
  });
}

const load = (port, amount) =>
  autocannon({ url: `http://127.0.0.1:${port}/`, connections: 10, amount });

/** The instruction total of each thread's dump file, main thread first. */
function totals(mode, pid) {
  const files = readdirSync(folder)
    .filter((f) => f.startsWith(`${mode}.${pid}.1-`))
    .sort();
  return files.map((f) => {
    const line = readFileSync(join(folder, f), "utf8").match(/^totals: (\d+)/m);
    if (line === null) throw new Error(`no totals line in ${f}`);
    return Number(line[1]);
  });
}

const control = (...args) => execFileSync("callgrind_control", args, { stdio: "ignore" });

const results = [];
try {
  for (const mode of options.modes) {
    process.stdout.write(`${mode}: starting under callgrind ... `);
    const { child, port } = await start(mode);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await load(port, options.warmup);
    control("--instr=on", String(child.pid));
    const result = await load(port, options.requests);
    control("--instr=off", String(child.pid));
    control("--dump", String(child.pid));
    child.kill();
    await exited;
    const counts = totals(mode, child.pid);
    if (result.errors + result.non2xx > 0) throw new Error(`${mode}: requests failed`);
    const done = result.requests.total;
    const main = counts[0] / done;
    const all = counts.reduce((a, b) => a + b, 0) / done;
    results.push({ mode, main, all });
    console.log(`${done} requests counted`);
  }
} finally {
  rmSync(folder, { recursive: true, force: true });
}

const base = results[0];
console.log(`\ninstructions per request (ratio to ${base.mode}):`);
for (const { mode, main, all } of results) {
  console.log(
    `  ${mode.padEnd(18)} main thread ${Math.round(main).toLocaleString("en-US").padStart(7)} (${(main / base.main).toFixed(3)}x)` +
      `   all threads ${Math.round(all).toLocaleString("en-US").padStart(7)} (${(all / base.all).toFixed(3)}x)`,
  );
}
