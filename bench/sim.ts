// sim: schedules explored a second by `explore()` (clockwork-microthreads/sim)
// on two fixed twins of the corpus (test/sim-corpus.ts): the lost update
// under a lock (3 tasks) and the torn read under a lock (a writer and a
// reader), and the torn read again with its routines made once outside the
// program (a run that makes new generator functions pays for new hidden
// classes; this row shows how much). Each explored schedule is a fresh Worker on a VirtualClock, its
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
import type { CorpusApi, CorpusEntry, corpus as corpusOf } from "../test/sim-corpus.ts";
import type { ClockworkApi, CwSemaphore } from "./clockwork.ts";
import {
  type Case,
  type Env,
  fmtCount,
  fmtNumber,
  type Metric,
  type Suite,
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

const metrics: Metric[] = [
  ...programs.map((name) => ({ key: name, label: `${name}, fixed` })),
  { key: HOISTED, label: HOISTED },
].map((m) => ({ ...m, unit: "schedules/s", better: "higher" }) as Metric);

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
    [HOISTED, hoistedTorn(cw), hoisted.options],
  ];
  return { sim, entries, runs };
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

const asyncTwins: Record<ProgramName, { run: (s: Scheduler) => Promise<unknown>; want: unknown }> =
  {
    "lost update": { run: lostUpdateAsync, want: 3 },
    "torn read": { run: tornReadAsync, want: "consistent" },
  };

// ---------------------------------------------------------------------------

export const cases: Case[] = [
  {
    name: "limit (plain worker per run)",
    kind: "clockwork",
    how: "new Worker({ clock: new VirtualClock() }); assign(program()); work(): no schedule, no check",
    async run(cw, env) {
      const { runs } = params(env);
      const out: Record<string, number> = {};
      for (const [name, program] of (await built(cw)).runs) {
        const ms = await timeRun(() => {
          for (let i = 0; i < runs; i++) {
            const worker = new cw.Worker({ clock: new cw.VirtualClock() });
            worker.assign(program());
            worker.work();
          }
          return undefined;
        }, timing(env));
        out[name] = rate(runs, ms);
      }
      return out;
    },
  },
  {
    name: "clockwork explore()",
    kind: "clockwork",
    how: "explore(fixed, { runs, check }): portfolio of random and PCT 1-3, every choice recorded",
    async run(cw, env) {
      const { runs } = params(env);
      const { sim, runs: programRuns } = await built(cw);
      const out: Record<string, number> = {};
      for (const [name, fixed, options] of programRuns) {
        const ms = await timeRun(() => {
          const result = sim.explore(fixed, { ...options, runs });
          if (!result.ok) throw new Error(`${name}, fixed, failed: ${result.failure.why}`);
          return undefined;
        }, timing(env));
        out[name] = rate(runs, ms);
      }
      return out;
    },
  },
  {
    name: "fast-check fc.scheduler()",
    kind: "peer",
    how: "fc.assert(fc.asyncProperty(fc.scheduler(), ...)): async twins, a promise lock, s.schedule() at each pause",
    async run(env) {
      const { peerRuns } = params(env);
      const out: Record<string, number> = {};
      for (const name of programs) {
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

export const suite: Suite = {
  name: "sim",
  description: "schedules a second explored by explore() (clockwork-microthreads/sim)",
  tables(env) {
    const { runs, peerRuns } = params(env);
    return [
      {
        title: "sim: schedules explored a second",
        params: `${fmtCount(runs)} schedules a run (fast-check: ${fmtCount(peerRuns)}); lost update 12 steps, torn read 18 (round-robin); the goal is on the corpus programs as written`,
        goal: `>= ${fmtCount(GOAL)} schedules/s on each`,
        baseline: "limit (plain worker per run)",
        metrics,
        cases,
        verdict(get) {
          const rates = programs.map((name) => get("clockwork explore()", name));
          if (rates.some((r) => r === undefined)) {
            return { status: "n/a", detail: "explore() has no figure" };
          }
          const slowest = Math.min(...(rates as number[]));
          return {
            status: slowest >= GOAL ? "met" : "not met",
            detail: `explore() runs ${fmtNumber(slowest)} schedules/s on the slower program (goal >= ${fmtCount(GOAL)})`,
          };
        },
      },
    ];
  },
};
