// Shared machinery for the benchmark suite: the shapes of benchmarks and cases,
// timing (tinybench, after one warm-up run that also sizes the number of runs),
// memory per object (forced gc and heapUsed differences), percentiles, table
// printing and the JSON report.

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Bench } from "tinybench";
import type { ClockworkApi } from "./clockwork.ts";

// ---------------------------------------------------------------------------
// Shapes

/** What every case gets: the mode (quick: smaller counts, fewer runs). */
export interface Env {
  readonly quick: boolean;
}

/** A measured figure, or why there is none ("stack overflow", "timeout", ...). */
export type Value = number | { readonly error: string };
export type Values = Readonly<Record<string, Value>>;

interface CaseBase {
  /** Row label, e.g. "redux-saga". */
  readonly name: string;
  /** The primitive used, printed under the table, e.g. "yield call(noop)". */
  readonly how: string;
}

/** "limit": hand-written code, the best one can do; "baseline": the platform's own tool. */
export interface PeerCase extends CaseBase {
  readonly kind: "limit" | "baseline" | "peer";
  run(env: Env): Promise<Values>;
}

/** A clockwork case runs only when the core (dist/index.js) could be imported. */
export interface ClockworkCase extends CaseBase {
  readonly kind: "clockwork";
  run(cw: ClockworkApi, env: Env): Promise<Values>;
}

export type Case = PeerCase | ClockworkCase;

export interface Metric {
  readonly key: string;
  /** Column header, e.g. "depth 10,000". */
  readonly label: string;
  /** e.g. "ns/step". */
  readonly unit: string;
  readonly better: "lower" | "higher";
}

/** Looks up a figure already measured in this table: undefined if missing or failed. */
export type Lookup = (caseName: string, metric: string) => number | undefined;

export interface Verdict {
  readonly status: "met" | "not met" | "n/a";
  readonly detail: string;
}

export interface Table {
  readonly title: string;
  /** What the counts are, e.g. "1,000 tasks x 1,000 yields". */
  readonly params: string;
  /** The goal for clockwork, printed in the header. */
  readonly goal: string;
  /** Name of the case every ratio is taken against. */
  readonly baseline: string;
  readonly metrics: readonly Metric[];
  readonly cases: readonly Case[];
  verdict?(get: Lookup): Verdict;
}

export interface Suite {
  readonly name: string;
  readonly description: string;
  tables(env: Env): readonly Table[];
}

// ---------------------------------------------------------------------------
// Small helpers

export const noop = (): void => {};

export function fail(error: string): { readonly error: string } {
  return { error };
}

export function message(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** Rejects with a timeout error if `promise` has not settled after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `start` so that an exception thrown from a callback it scheduled (a
 * timer, setImmediate, an unhandled rejection) fails it instead of ending the
 * process.
 */
export async function guardUncaught<T>(start: () => Promise<T>): Promise<T> {
  let onError: (e: unknown) => void = () => {};
  const escaped = new Promise<never>((_, reject) => {
    onError = reject;
  });
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  try {
    return await Promise.race([start(), escaped]);
  } finally {
    process.off("uncaughtException", onError);
    process.off("unhandledRejection", onError);
  }
}

export function delayMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lets pending callbacks (setImmediate, promise jobs) drain. */
export function macrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// ---------------------------------------------------------------------------
// Garbage collection and memory

let gcFn: (() => void) | undefined;

/** A forced full collection: global.gc under --expose-gc, else enabled on the fly. */
export function gc(): void {
  if (gcFn === undefined) {
    const exposed = globalThis.gc;
    if (typeof exposed === "function") {
      gcFn = () => exposed();
    } else {
      setFlagsFromString("--expose-gc");
      const fromContext: unknown = runInNewContext("gc");
      if (typeof fromContext !== "function") throw new Error("cannot force a garbage collection");
      gcFn = fromContext as () => void;
    }
  }
  gcFn();
}

/** Collects until heapUsed stops shrinking (weak references and finalizers settle). */
export async function settleHeap(): Promise<number> {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 6; i++) {
    gc();
    await macrotask();
    const used = process.memoryUsage().heapUsed;
    if (used >= last - 1024) return used;
    last = used;
  }
  return last;
}

/** Releases what a build made. */
export type Release = () => Promise<void> | void;

/**
 * Makes n live objects, keeping them reachable through `keep` (an array of n
 * slots allocated before the first heap reading, so it does not count), and
 * returns a function that releases whatever else holds them.
 */
export type Build = (n: number, keep: unknown[]) => Promise<Release> | Release;

/**
 * Heap bytes per object: the heap is read after a full collection before and
 * after `build(n)`. Repeated `repeats` times; the median is returned.
 */
export async function bytesPerObject(n: number, repeats: number, build: Build): Promise<number> {
  const figures: number[] = [];
  for (let r = 0; r < repeats; r++) {
    figures.push(await oneRound(n, build));
    await settleHeap();
  }
  return median(figures);
}

// A round of its own, so that nothing it built stays reachable from a
// suspended frame (an async function's registers) once it has returned.
async function oneRound(n: number, build: Build): Promise<number> {
  const keep = new Array<unknown>(n).fill(null);
  const before = await settleHeap();
  const release = await build(n, keep);
  const after = await settleHeap();
  await release();
  keep.fill(null);
  return (after - before) / n;
}

// ---------------------------------------------------------------------------
// Statistics

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Linear-interpolated percentile (p in 0..100) of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? Number.NaN;
  const b = sorted[hi] ?? Number.NaN;
  return a + (b - a) * (pos - lo);
}

// ---------------------------------------------------------------------------
// Timing

export interface TimingOptions {
  /** Time to spend on measured runs after the warm-up, in ms. */
  readonly budgetMs: number;
  readonly minRuns: number;
  readonly maxRuns: number;
}

/** Default budgets: the quick mode makes at most 10 runs in about 0.6 s (slow cases: one). */
export function timing(env: Env, slow = false): TimingOptions {
  if (env.quick) return { budgetMs: slow ? 300 : 600, minRuns: 1, maxRuns: 10 };
  return { budgetMs: slow ? 4000 : 3000, minRuns: slow ? 1 : 3, maxRuns: 15 };
}

/**
 * A run of the measured code. It may return the number of milliseconds to
 * count instead of its whole duration (to leave set-up and tear-down out).
 */
export type RunFn = () => Promise<number | undefined> | number | undefined;

/**
 * Median duration of one run, in ms. One warm-up run (timed, not counted)
 * sizes the number of measured runs to the budget; tinybench then makes them.
 *
 * There is a forced gc before the warm-up, not before each run: a full gc
 * between runs kills the previous run's objects and with them the hidden
 * classes that optimised code was specialised on, so V8 deoptimises that code
 * ("weak objects", "code dependencies") and every run starts cold again
 * (measured on clockwork's Worker.work/_step: 60 to 780 ns per step instead of
 * a steady ~65). A run's garbage is part of the steady-state cost anyway.
 */
export async function timeRun(fn: RunFn, options: TimingOptions): Promise<number> {
  gc();
  const start = performance.now();
  const first = fn();
  const isAsync = typeof (first as { then?: unknown } | undefined)?.then === "function";
  await first;
  // Size the runs by the whole duration, even when only part of it is counted.
  const warmMs = performance.now() - start;
  const runs = Math.max(
    options.minRuns,
    Math.min(options.maxRuns, Math.floor(options.budgetMs / Math.max(warmMs, 0.001))),
  );
  const bench = new Bench({
    iterations: runs,
    time: 0,
    warmup: false,
    throws: true,
  });
  const wrap = (r: number | undefined) => (r === undefined ? undefined : { overriddenDuration: r });
  if (isAsync) {
    bench.add("run", async () => wrap(await fn()), { async: true });
  } else {
    bench.add("run", () => wrap(fn() as number | undefined), { async: false });
  }
  await bench.run();
  const task = bench.tasks[0];
  const result = task?.result;
  if (result === undefined) throw new Error("tinybench produced no result");
  if (result.state === "errored") throw result.error;
  if (result.state !== "completed") throw new Error(`tinybench task ended as ${result.state}`);
  return result.latency.p50;
}

/** CPU time (user + system) used by this process while `fn` runs, in ms. */
export async function cpuMsDuring(fn: () => Promise<void>): Promise<number> {
  const start = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

// ---------------------------------------------------------------------------
// Formatting

export function fmtCount(n: number): string {
  return n.toLocaleString("en-US");
}

export function fmtNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString("en-US");
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 1) return n.toFixed(2);
  if (abs === 0) return "0";
  return n.toPrecision(2);
}

export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return "n/a";
  if (r >= 100) return `${Math.round(r).toLocaleString("en-US")}x`;
  if (r >= 10) return `${r.toFixed(1)}x`;
  return `${r.toFixed(2)}x`;
}

/** Renders rows of cells as an aligned text table; numeric-looking cells align right. */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = /^[-+]?[\d,.]+(x| ms| %)?$|^n\/a$|^-$/;
  const line = (cells: readonly string[], alignAll: boolean) =>
    cells
      .map((c, i) => {
        const w = widths[i] ?? 0;
        return i > 0 && (alignAll || numeric.test(c)) ? c.padStart(w) : c.padEnd(w);
      })
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header, false), rule, ...rows.map((r) => line(r, false))].join("\n");
}

// ---------------------------------------------------------------------------
// Results

export interface CellResult {
  readonly value: number | null;
  readonly unit: string;
  readonly ratio: number | null;
  readonly error?: string;
}

export interface RowResult {
  readonly case: string;
  readonly kind: Case["kind"];
  readonly how: string;
  readonly skipped?: string;
  readonly error?: string;
  readonly metrics: Record<string, CellResult>;
}

export interface TableResult {
  readonly title: string;
  readonly params: string;
  readonly goal: string;
  readonly baseline: string;
  readonly metrics: readonly Metric[];
  readonly rows: readonly RowResult[];
  readonly verdict: Verdict;
}

export interface SuiteResult {
  readonly name: string;
  readonly description: string;
  readonly tables: readonly TableResult[];
}

/** Ratio of a figure to the baseline's figure for the same metric. */
export function ratioOf(value: number, base: number | undefined): number | null {
  if (base === undefined || !Number.isFinite(base) || base === 0) return null;
  return value / base;
}

export function printTable(t: TableResult): void {
  const header = ["case"];
  for (const m of t.metrics) {
    header.push(`${m.label} (${m.unit})`.trim(), "ratio");
  }
  header.push("note");
  const rows = t.rows.map((r) => {
    const cells = [r.case];
    let note = r.skipped !== undefined ? `skipped: ${r.skipped}` : (r.error ?? "");
    for (const m of t.metrics) {
      const cell = r.metrics[m.key];
      if (cell === undefined || cell.value === null) {
        cells.push(cell?.error ?? "-", "-");
      } else {
        cells.push(fmtNumber(cell.value), cell.ratio === null ? "n/a" : fmtRatio(cell.ratio));
      }
    }
    if (note.length > 70) note = `${note.slice(0, 67)}...`;
    cells.push(note);
    return cells;
  });
  const better = t.metrics.map((m) => `${m.label}: ${m.better} is better`).join("; ");
  console.log(`\n${t.title}`);
  console.log(`  counts: ${t.params}`);
  console.log(`  goal (clockwork): ${t.goal}`);
  console.log(`  ratio = figure / ${t.baseline} (same process); ${better}`);
  console.log(renderTable(header, rows));
  console.log(`  verdict: ${t.verdict.status.toUpperCase()} - ${t.verdict.detail}`);
  console.log("  primitives:");
  for (const r of t.rows) console.log(`    ${r.case}: ${r.how}`);
}
