// sim: schedules explored a second by `explore()` (clockwork-microthreads/sim)
// on two fixed twins of the corpus (test/sim-corpus.ts): the lost update
// under a lock (3 tasks) and the torn read under a lock (a writer and a
// reader), and the torn read again with its routines made once outside the
// program (a run that makes new generator functions pays for new hidden
// classes; this row shows how much), and a program of a few dozen steps
// written the same way (transfers: 33 steps). Each explored schedule is a fresh Worker on a VirtualClock, its
// choices drawn by the portfolio and recorded, the outcome checked.
//
// The limit is the same program run to its end on a fresh plain Worker per
// run (no schedule, no choices, no check): what a schedule cannot beat. The
// peer is fast-check's fc.scheduler(), the anchor of issue 15: the same
// programs written with async functions and a promise lock, each scheduled
// promise released in a random order, runs/s of fc.assert.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { transform } from "esbuild";
import fc from "fast-check";
import {
  type CorpusApi,
  type CorpusEntry,
  corpus as corpusNames,
  type corpus as corpusOf,
} from "../test/sim-corpus.ts";
import type { ClockworkApi, CwSemaphore } from "./clockwork.ts";
import {
  type Case,
  type Env,
  fmtCount,
  fmtNumber,
  type Metric,
  type Suite,
  type Table,
  timeRun,
  timing,
} from "./harness.ts";

/** The goal of issue 15: schedules a second on programs of a few dozen steps. */
const GOAL = 50_000;

export function params(env: Env): { runs: number; peerRuns: number } {
  return env.quick ? { runs: 1_000, peerRuns: 100 } : { runs: 20_000, peerRuns: 2_000 };
}

const programs = ["lost update", "torn read"] as const;
type ProgramName = (typeof programs)[number];

/** The torn read's twin again, its routines made once instead of in every run (see hoistedTorn). */
const HOISTED = "torn read, hoisted";

/** A program of a few dozen steps, not from the corpus (see transfers). */
const TRANSFERS = "transfers";

/** The programs the goal is on: the two corpus twins and the longer one. */
const judged = [...programs, TRANSFERS] as const;

const metrics: Metric[] = [
  ...programs.map((name) => ({ key: name, label: `${name}, fixed` })),
  { key: TRANSFERS, label: "transfers (33 steps)" },
  { key: HOISTED, label: HOISTED },
].map((m) => ({ ...m, unit: "schedules/s", better: "higher" }) as Metric);

/**
 * A program of a few dozen steps (33, round-robin), written as a test
 * would write it: its routines made inside the program, as in the corpus,
 * each once a run. Three tellers move money around a ring of three
 * accounts, three transfers each, every one a read, a yield and a write
 * under one lock; whatever the schedule, the money adds up to 300. (Made
 * anew for every transfer, as the corpus's torn read makes its bodies, the
 * nine generator functions a run cost V8 nine new hidden classes: see
 * docs/benchmarks.md.)
 */
function transfers(cw: ClockworkApi): () => Generator<unknown, number, unknown> {
  return function* transfers(): Generator<unknown, number, unknown> {
    const accounts = [100, 100, 100];
    const lock = new cw.Semaphore(1);
    const transfer = function* transfer(
      from: number,
      to: number,
    ): Generator<unknown, void, unknown> {
      const balance = accounts[from] as number;
      yield;
      accounts[from] = balance - 10;
      accounts[to] = (accounts[to] as number) + 10;
    };
    const teller = function* teller(from: number, to: number): Generator<unknown, void, unknown> {
      for (let i = 0; i < 3; i++) {
        yield* lock.withPermit(transfer(from, to));
        yield;
      }
    };
    const tellers = [cw.spawn(teller(0, 1)), cw.spawn(teller(1, 2)), cw.spawn(teller(2, 0))];
    for (const t of tellers) yield t;
    return accounts.reduce((a, b) => a + b, 0);
  };
}

/** What transfers() must give: no money made or lost. */
const transfersOptions: CorpusEntry["options"] = {
  check: (outcome) => {
    if (!outcome.ok) return `it failed: ${String(outcome.error)}`;
    return outcome.value === 300 ? null : `the accounts add up to ${String(outcome.value)}`;
  },
};

/**
 * The torn read's twin with its routines made once, outside the program,
 * and the run's state passed in. The corpus, like most programs, makes its
 * routines inside the program, so each run makes new generator functions,
 * and V8 new hidden classes for their generators: that is most of a run's
 * cost, and this row shows it.
 */
function hoistedTorn(cw: ClockworkApi): () => Generator<unknown, string, unknown> {
  type Pair = { x: number; y: number };
  type Seen = { torn: boolean };
  const write = function* write(pair: Pair, i: number): Generator<unknown, void, unknown> {
    pair.x = i;
    yield;
    pair.y = i;
  };
  const read = function* read(pair: Pair, seen: Seen): Generator<unknown, void, unknown> {
    const x = pair.x;
    yield;
    if (x !== pair.y) seen.torn = true;
  };
  const writer = function* writer(
    pair: Pair,
    lock: CwSemaphore,
  ): Generator<unknown, void, unknown> {
    for (let i = 1; i <= 2; i++) yield* lock.withPermit(write(pair, i));
  };
  const reader = function* reader(
    pair: Pair,
    lock: CwSemaphore,
  ): Generator<unknown, string, unknown> {
    const seen = { torn: false };
    for (let i = 0; i < 4; i++) {
      yield* lock.withPermit(read(pair, seen));
      yield;
    }
    return seen.torn ? "torn" : "consistent";
  };
  return function* torn(): Generator<unknown, string, unknown> {
    const pair = { x: 0, y: 0 };
    const lock = new cw.Semaphore(1);
    const w = cw.spawn(writer(pair, lock), { name: "writer" });
    const r = cw.spawn(reader(pair, lock), { name: "reader" });
    yield w;
    return (yield r) as string;
  };
}

/** The clockwork side: the built core and sim (dist/), and the corpus made with them. */
interface Built {
  sim: typeof import("../src/sim.ts");
  /** The whole corpus. */
  all: CorpusEntry[];
  entries: Map<ProgramName, CorpusEntry>;
  /** The programs the clockwork rows run, by metric, each with its invariant. */
  runs: [string, CorpusEntry["fixed"], CorpusEntry["options"]][];
}

/**
 * The corpus compiled as a user's build compiles it (esbuild, names kept as
 * written), not through tsx: tsx names every function expression when it is
 * created (keepNames), a cost per run that no build pays and that would be
 * counted here as the program's.
 */
async function compiledCorpus(): Promise<typeof corpusOf> {
  const source = readFileSync(new URL("../test/sim-corpus.ts", import.meta.url), "utf8");
  const { code } = await transform(source, { loader: "ts", format: "esm", target: "node20" });
  const folder = mkdtempSync(join(tmpdir(), "clockwork-bench-sim-"));
  try {
    const file = join(folder, "sim-corpus.mjs");
    writeFileSync(file, code);
    return ((await import(pathToFileURL(file).href)) as { corpus: typeof corpusOf }).corpus;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

async function built(cw: ClockworkApi): Promise<Built> {
  const sim = (await import(new URL("../dist/sim.js", import.meta.url).href)) as Built["sim"];
  const corpus = await compiledCorpus();
  // dist/index.js is the build of src/index.ts: the corpus takes it as its api.
  const all = corpus({ ...(cw as unknown as CorpusApi), sim: sim.sim });
  const entries = new Map<ProgramName, CorpusEntry>();
  for (const name of programs) {
    const entry = all.find((e) => e.name === name);
    if (entry === undefined) throw new Error(`the corpus has no "${name}"`);
    entries.set(name, entry);
  }
  const hoisted = entries.get("torn read") as CorpusEntry;
  const runs: Built["runs"] = [
    ...programs.map((name): Built["runs"][number] => {
      const { fixed, options } = entries.get(name) as CorpusEntry;
      return [name, fixed, options];
    }),
    [TRANSFERS, transfers(cw) as CorpusEntry["fixed"], transfersOptions],
    [HOISTED, hoistedTorn(cw), hoisted.options],
  ];
  return { sim, all, entries, runs };
}

/** Schedules a second from the median ms of `runs` of them. */
const rate = (runs: number, ms: number): number => runs / (ms / 1000);

// ---------------------------------------------------------------------------
// The peer: fast-check's scheduler over async twins of the same programs.

type Scheduler = fc.Scheduler<unknown>;

/** A promise lock: each holder runs after the one before has finished. */
function promiseLock(): <T>(body: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (body) => {
    const run = tail.then(body);
    tail = run.catch(() => {});
    return run;
  };
}

/** Three increments, each a read, a scheduled pause and a write, under a lock. */
async function lostUpdateAsync(s: Scheduler): Promise<number> {
  let value = 0;
  const locked = promiseLock();
  const increment = () =>
    locked(async () => {
      const read = value;
      await s.schedule(Promise.resolve());
      value = read + 1;
    });
  const all = Promise.all([increment(), increment(), increment()]);
  await s.waitFor(all);
  return value;
}

/** A writer of two fields and a reader of both, each access pair under a lock. */
async function tornReadAsync(s: Scheduler): Promise<string> {
  const pair = { x: 0, y: 0 };
  const locked = promiseLock();
  const writer = async () => {
    for (let i = 1; i <= 2; i++) {
      await locked(async () => {
        pair.x = i;
        await s.schedule(Promise.resolve());
        pair.y = i;
      });
    }
  };
  const reader = async () => {
    let seen = "consistent";
    for (let i = 0; i < 4; i++) {
      await locked(async () => {
        const x = pair.x;
        await s.schedule(Promise.resolve());
        if (x !== pair.y) seen = "torn";
      });
      await s.schedule(Promise.resolve());
    }
    return seen;
  };
  const [, seen] = await s.waitFor(Promise.all([writer(), reader()]));
  return seen;
}

/** Three tellers, three transfers each around a ring of accounts, each a read, a scheduled pause and a write under a lock. */
async function transfersAsync(s: Scheduler): Promise<number> {
  const accounts = [100, 100, 100];
  const locked = promiseLock();
  const teller = async (from: number, to: number) => {
    for (let i = 0; i < 3; i++) {
      await locked(async () => {
        const balance = accounts[from] as number;
        await s.schedule(Promise.resolve());
        accounts[from] = balance - 10;
        accounts[to] = (accounts[to] as number) + 10;
      });
      await s.schedule(Promise.resolve());
    }
  };
  await s.waitFor(Promise.all([teller(0, 1), teller(1, 2), teller(2, 0)]));
  return accounts.reduce((a, b) => a + b, 0);
}

const asyncTwins: Record<
  (typeof judged)[number],
  { run: (s: Scheduler) => Promise<unknown>; want: unknown }
> = {
  "lost update": { run: lostUpdateAsync, want: 3 },
  "torn read": { run: tornReadAsync, want: "consistent" },
  transfers: { run: transfersAsync, want: 300 },
};

// ---------------------------------------------------------------------------

/** Schedules a second of each program of the clockwork rows, `runOnce` making `params(env).runs` of them. */
async function ratesOf(
  { runs: programs }: Built,
  env: Env,
  runOnce: (program: CorpusEntry["fixed"], options: CorpusEntry["options"], name: string) => void,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, program, options] of programs) {
    const ms = await timeRun(() => {
      runOnce(program, options, name);
      return undefined;
    }, timing(env));
    out[name] = rate(params(env).runs, ms);
  }
  return out;
}

export const cases: Case[] = [
  {
    name: "limit (plain worker per run)",
    kind: "clockwork",
    how: "new Worker({ clock: new VirtualClock() }); assign(program()); work(): no schedule, no check",
    async run(cw, env) {
      const { runs } = params(env);
      return ratesOf(await built(cw), env, (program) => {
        for (let i = 0; i < runs; i++) {
          const worker = new cw.Worker({ clock: new cw.VirtualClock() });
          worker.assign(program());
          worker.work();
        }
      });
    },
  },
  {
    name: "clockwork explore()",
    kind: "clockwork",
    how: "explore(fixed, { runs, check }): portfolio of random and PCT 1-3, every choice recorded",
    async run(cw, env) {
      const { runs } = params(env);
      const build = await built(cw);
      return ratesOf(build, env, (fixed, options, name) => {
        const result = build.sim.explore(fixed, { ...options, runs });
        if (!result.ok) throw new Error(`${name}, fixed, failed: ${result.failure.why}`);
      });
    },
  },
  {
    name: "fast-check fc.scheduler()",
    kind: "peer",
    how: "fc.assert(fc.asyncProperty(fc.scheduler(), ...)): async twins, a promise lock, s.schedule() at each pause",
    async run(env) {
      const { peerRuns } = params(env);
      const out: Record<string, number> = {};
      for (const name of judged) {
        const { run, want } = asyncTwins[name];
        const ms = await timeRun(
          async () => {
            await fc.assert(
              fc.asyncProperty(fc.scheduler(), async (s) => {
                const got = await run(s);
                if (got !== want) throw new Error(`${name}: ${String(got)}`);
              }),
              { numRuns: peerRuns, seed: 1 },
            );
            return undefined;
          },
          timing(env, true),
        );
        out[name] = rate(peerRuns, ms);
      }
      return out;
    },
  },
];

// ---------------------------------------------------------------------------
// The corpus goals of issue 15, on the build: each bug found within 1,000
// schedules for each of ten master seeds and shrunk to within one delay of
// its fewest (test/sim.test.ts finds the fewest by its own enumeration and
// checks five seeds), its shrunk token failing twice out of twice; each
// fixed twin passing 10,000 schedules (npm test runs 2,000).

const CORPUS_SEEDS = 10;
const FIND_WITHIN = 1_000;
const TWIN_RUNS = 10_000;

const corpusMetrics: Metric[] = [
  { key: "found", label: "schedules to find it, worst seed", unit: "schedules", better: "lower" },
  { key: "over", label: "shrunk delays above the fewest, worst", unit: "delays", better: "lower" },
  {
    key: "twin",
    label: "fixed twin",
    unit: "schedules/s",
    better: "higher",
  },
  {
    key: "limit",
    label: "twin, limit (no explore)",
    unit: "schedules/s",
    better: "higher",
  },
];

/**
 * The limit of a twin: runs of the program alone, each on a fresh worker
 * with a VirtualClock, as explore() makes them but with nothing drawn,
 * recorded or checked. A plain worker (round-robin) for a twin without
 * faults; with faults, a schedule that only draws them, at the twin's rate
 * (a plain worker never injects one, and the faults are most of such a
 * run's cost: the Error the program throws, its stack).
 */
function limitRate(cw: ClockworkApi, entry: CorpusEntry, runs: number): number {
  const rate = entry.options.faults?.rate;
  let seed = 1;
  const faultsOnly =
    rate === undefined
      ? undefined
      : {
          pick: () => 0,
          choose: (_options: number, label: string) => {
            seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
            return label.startsWith("fault ") && seed / 4294967296 < rate ? 1 : 0;
          },
        };
  const Worker = cw.Worker as unknown as typeof import("../src/index.ts").Worker;
  const started = performance.now();
  for (let i = 0; i < runs; i++) {
    const worker = new Worker({
      clock: new cw.VirtualClock() as unknown as import("../src/index.ts").VirtualClock,
      ...(faultsOnly === undefined ? {} : { schedule: faultsOnly }),
    });
    worker.assign(entry.fixed());
    worker.work();
  }
  return runs / ((performance.now() - started) / 1000);
}

function corpusCase(name: string): Case {
  return {
    name,
    kind: "clockwork",
    how: "explore(bug, { seed }) for each seed; replay(shrunk) twice; explore(fixed, { runs: 10,000 }); limit: fixed() on a fresh worker per run (round-robin; faults only drawn, at the twin's rate)",
    async run(cw, env) {
      const { sim, all } = await built(cw);
      const entry = all.find((e) => e.name === name) as CorpusEntry;
      const check = entry.options.check ?? ((o: { ok: boolean }) => (o.ok ? null : "failed"));
      let found = 0;
      let over = 0;
      for (let seed = 1; seed <= (env.quick ? 2 : CORPUS_SEEDS); seed++) {
        let tried = 0;
        let first = 0;
        const result = sim.explore(entry.bug, {
          ...entry.options,
          seed,
          runs: FIND_WITHIN,
          check: (outcome, e) => {
            tried++;
            const why = check(outcome, e);
            if (why !== null && first === 0) first = tried;
            return why;
          },
        });
        if (result.ok) throw new Error(`not found within ${FIND_WITHIN} schedules, seed ${seed}`);
        found = Math.max(found, first);
        over = Math.max(over, result.failure.delays - entry.delays);
        for (let i = 0; i < 2; i++) {
          const errors: unknown[] = [];
          const worker = new (cw.Worker as unknown as typeof import("../src/index.ts").Worker)({
            clock: new cw.VirtualClock() as unknown as import("../src/index.ts").VirtualClock,
            schedule: sim.replay(result.failure.shrunk),
            onError: (error) => errors.push(error),
          });
          const main = worker.assign(entry.bug());
          let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
          try {
            worker.work();
            outcome =
              main.state === "done" && errors.length === 0
                ? { ok: true, value: main.result }
                : { ok: false, error: main.error ?? errors[0] };
          } catch (error) {
            outcome = { ok: false, error };
          }
          if (check(outcome, {} as never) === null)
            throw new Error(`seed ${seed}: the shrunk token passes`);
        }
      }
      const runs = env.quick ? TWIN_RUNS / 10 : TWIN_RUNS;
      const started = performance.now();
      const twin = sim.explore(entry.fixed, { ...entry.options, runs });
      const ms = performance.now() - started;
      if (!twin.ok) throw new Error(`the fixed twin failed: ${twin.failure.why}`);
      return { found, over, twin: rate(runs, ms), limit: limitRate(cw, entry, runs) };
    },
  };
}

export const suite: Suite = {
  name: "sim",
  description: "schedules a second explored by explore() (clockwork-microthreads/sim)",
  tables(env) {
    const { runs, peerRuns } = params(env);
    return [
      {
        title: "sim: schedules explored a second",
        params: `${fmtCount(runs)} schedules a run (fast-check: ${fmtCount(peerRuns)}); lost update 16 steps, torn read 18, transfers 33 (round-robin); the goal is on programs as written, routines made in the program`,
        goal: `>= ${fmtCount(GOAL)} schedules/s on each`,
        baseline: "limit (plain worker per run)",
        metrics,
        cases,
        verdict(get) {
          const rates = judged.map((name) => get("clockwork explore()", name));
          if (rates.some((r) => r === undefined)) {
            return { status: "n/a", detail: "explore() has no figure" };
          }
          const slowest = Math.min(...(rates as number[]));
          return {
            status: slowest >= GOAL ? "met" : "not met",
            detail: `explore() runs ${fmtNumber(slowest)} schedules/s on the slowest program (goal >= ${fmtCount(GOAL)})`,
          };
        },
      },
      corpusTable(env),
    ];
  },
};

/** The corpus goals table: one row a bug, its names known before the build is loaded. */
function corpusTable(env: Env): Table {
  // The names only: the programs the rows run are made from the build.
  const names = corpusNames({} as CorpusApi).map((e) => e.name);
  return {
    title: "sim: the corpus goals",
    params: `${env.quick ? 2 : CORPUS_SEEDS} master seeds, ${fmtCount(FIND_WITHIN)} schedules each; twins ${fmtCount(env.quick ? TWIN_RUNS / 10 : TWIN_RUNS)} schedules`,
    goal: `every bug found within ${fmtCount(FIND_WITHIN)} schedules, shrunk within 1 delay of its fewest, its token failing 2 of 2; every twin passes`,
    baseline: names[0] as string,
    metrics: corpusMetrics,
    cases: names.map(corpusCase),
    verdict(get) {
      const missing = names.filter((n) => get(n, "twin") === undefined);
      if (missing.length > 0) return { status: "not met", detail: `failed: ${missing.join(", ")}` };
      const late = names.filter((n) => (get(n, "found") as number) > FIND_WITHIN);
      const wide = names.filter((n) => (get(n, "over") as number) > 1);
      if (late.length + wide.length > 0) {
        return {
          status: "not met",
          detail: `late: ${late.join(", ")}; shrunk too little: ${wide.join(", ")}`,
        };
      }
      return {
        status: "met",
        detail: `all ${names.length} bugs found and shrunk; every twin passed`,
      };
    },
  };
}
