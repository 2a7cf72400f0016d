// Runs the benchmark suite: all benchmarks, or those named on the command line.
//
//   npm run bench                      # everything, full counts
//   npm run bench -- switch recursion  # only these
//   npm run bench:quick                # 10x smaller counts, fewer runs (CI smoke run)
//
// Every figure is printed beside a baseline measured in this same process.
// Results are also written to bench/results/latest.json.

import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { suite as channel } from "./channel.ts";
import { type CoreLoad, loadClockwork } from "./clockwork.ts";
import { suite as cluster } from "./cluster.ts";
import { suite as frames } from "./frames.ts";
import {
  type CellResult,
  type Env,
  gc,
  guardUncaught,
  message,
  printTable,
  type RowResult,
  ratioOf,
  type SuiteResult,
  type Table,
  type TableResult,
  type Values,
  withTimeout,
} from "./harness.ts";
import { suite as http } from "./http.ts";
import { suite as lifetimes } from "./lifetimes.ts";
import { suite as linkwatcher } from "./linkwatcher.ts";
import { suite as parked } from "./parked.ts";
import { suite as processSuite } from "./process.ts";
import { suite as recursion } from "./recursion.ts";
import { suite as select } from "./select.ts";
import { suite as sim } from "./sim.ts";
import { suite as sizeSuite } from "./size.ts";
import { suite as sleepers } from "./sleepers.ts";
import { suite as spawnJoin } from "./spawn-join.ts";
import { suite as switchSuite } from "./switch.ts";
import { suite as virtualTime } from "./virtual-time.ts";

const suites = [
  switchSuite,
  spawnJoin,
  parked,
  recursion,
  sleepers,
  virtualTime,
  frames,
  channel,
  select,
  lifetimes,
  http,
  processSuite,
  cluster,
  linkwatcher,
  sim,
  sizeSuite,
];

/** A case that takes longer than this is reported as timed out. */
const caseTimeoutMs = (quick: boolean) => (quick ? 60_000 : 240_000);

function usage(): string {
  const lines = suites.map((s) => `  ${s.name.padEnd(14)} ${s.description}`);
  return ["usage: npm run bench [-- [--quick] [name ...]]", "", "benchmarks:", ...lines].join("\n");
}

function parseArgs(argv: readonly string[]): { quick: boolean; names: string[] } {
  let quick = false;
  const names: string[] = [];
  for (const arg of argv) {
    if (arg === "--quick") quick = true;
    else if (arg === "--help" || arg === "-h") {
      console.log(usage());
      process.exit(0);
    } else if (arg.startsWith("-")) {
      console.error(`unknown option ${arg}\n\n${usage()}`);
      process.exit(2);
    } else names.push(arg);
  }
  const unknown = names.filter((n) => !suites.some((s) => s.name === n));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(", ")}\n\n${usage()}`);
    process.exit(2);
  }
  return { quick, names };
}

async function runTable(table: Table, env: Env, core: CoreLoad): Promise<TableResult> {
  const raw: { row: Omit<RowResult, "metrics">; values: Values }[] = [];
  for (const c of table.cases) {
    const base = { case: c.name, kind: c.kind, how: c.how };
    if (c.kind === "clockwork" && !core.ok) {
      console.log(`  · ${c.name}: SKIPPED, ${core.reason}`);
      raw.push({ row: { ...base, skipped: core.reason }, values: {} });
      continue;
    }
    const started = performance.now();
    process.stdout.write(`  · ${c.name} ... `);
    try {
      const start = () =>
        c.kind === "clockwork" && core.ok ? c.run(core.api, env) : runPeer(c, env);
      const values = await withTimeout(guardUncaught(start), caseTimeoutMs(env.quick), c.name);
      console.log(`${((performance.now() - started) / 1000).toFixed(1)} s`);
      raw.push({ row: base, values });
    } catch (e) {
      console.log(`FAILED (${message(e)})`);
      raw.push({ row: { ...base, error: `failed: ${message(e)}` }, values: {} });
    }
    gc();
  }
  const baseline = raw.find((r) => r.row.case === table.baseline);
  const rows: RowResult[] = raw.map(({ row, values }) => {
    const metrics: Record<string, CellResult> = {};
    for (const m of table.metrics) {
      const v = values[m.key];
      const b = baseline?.values[m.key];
      if (typeof v === "number") {
        metrics[m.key] = {
          value: v,
          unit: m.unit,
          ratio: ratioOf(v, typeof b === "number" ? b : undefined),
        };
      } else if (v !== undefined) {
        metrics[m.key] = { value: null, unit: m.unit, ratio: null, error: v.error };
      }
    }
    return { ...row, metrics };
  });
  const get = (caseName: string, key: string): number | undefined => {
    const v = raw.find((r) => r.row.case === caseName)?.values[key];
    return typeof v === "number" ? v : undefined;
  };
  const verdict = table.verdict?.(get) ?? { status: "n/a" as const, detail: "no goal" };
  return {
    title: table.title,
    params: table.params,
    goal: table.goal,
    baseline: table.baseline,
    metrics: table.metrics,
    rows,
    verdict,
  };
}

function runPeer(c: Table["cases"][number], env: Env): Promise<Values> {
  if (c.kind === "clockwork") throw new Error("not a peer case");
  return c.run(env);
}

async function main(): Promise<void> {
  const { quick, names } = parseArgs(process.argv.slice(2));
  const env: Env = { quick };
  const selected = names.length === 0 ? suites : suites.filter((s) => names.includes(s.name));
  const cpu = cpus()[0]?.model ?? "unknown cpu";
  console.log(
    `clockwork benchmarks (${quick ? "quick" : "full"}): node ${process.version}, ${cpus().length} x ${cpu}`,
  );
  if (quick) {
    console.log(
      "quick mode: counts 10x smaller and few runs, a smoke run; figures are indicative only",
    );
  }
  const core = await loadClockwork();
  if (core.ok) console.log("clockwork core: loaded from dist/index.js (the build)");
  else console.log(`clockwork core: NOT LOADED, ${core.reason}; every clockwork case is skipped`);

  const started = performance.now();
  const results: SuiteResult[] = [];
  for (const s of selected) {
    console.log(`\n=== ${s.name}: ${s.description}`);
    const tables: TableResult[] = [];
    for (const table of s.tables(env)) {
      console.log(`\n${table.title}: running`);
      const result = await runTable(table, env, core);
      printTable(result);
      tables.push(result);
    }
    results.push({ name: s.name, description: s.description, tables });
  }
  const seconds = (performance.now() - started) / 1000;

  const report = {
    date: new Date().toISOString(),
    mode: quick ? "quick" : "full",
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu,
    cores: cpus().length,
    core: core.ok ? "loaded" : `not loaded: ${core.reason}`,
    seconds,
    suites: results,
  };
  const dir = new URL("./results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL("latest.json", dir);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\ndone in ${seconds.toFixed(1)} s; results written to bench/results/latest.json`);
}

await main();
