// sim: schedules explored a second by `explore()` (clockwork-microthreads/sim)
// on two fixed twins of the corpus (test/sim-corpus.ts): the lost update
// under a lock (3 tasks) and the torn read under a lock (a writer and a
// reader). Each explored schedule is a fresh Worker on a VirtualClock, its
// choices drawn by the portfolio and recorded, the outcome checked.
//
// The limit is the same program run to its end on a fresh plain Worker per
// run (no schedule, no choices, no check): what a schedule cannot beat. The
// peer is fast-check's fc.scheduler(), the anchor of issue 15: the same
// programs written with async functions and a promise lock, each scheduled
// promise released in a random order, runs/s of fc.assert.

import fc from "fast-check";
import { type CorpusApi, type CorpusEntry, corpus } from "../test/sim-corpus.ts";
import type { ClockworkApi } from "./clockwork.ts";
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

const metrics: Metric[] = programs.map((name) => ({
  key: name,
  label: `${name}, fixed`,
  unit: "schedules/s",
  better: "higher",
}));

/** The clockwork side: the built core and sim (dist/), and the corpus made with them. */
interface Built {
  sim: typeof import("../src/sim.ts");
  entries: Map<ProgramName, CorpusEntry>;
}

async function built(cw: ClockworkApi): Promise<Built> {
  const sim = (await import(new URL("../dist/sim.js", import.meta.url).href)) as Built["sim"];
  // dist/index.js is the build of src/index.ts: the corpus takes it as its api.
  const all = corpus({ ...(cw as unknown as CorpusApi), sim: sim.sim });
  const entries = new Map<ProgramName, CorpusEntry>();
  for (const name of programs) {
    const entry = all.find((e) => e.name === name);
    if (entry === undefined) throw new Error(`the corpus has no "${name}"`);
    entries.set(name, entry);
  }
  return { sim, entries };
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
      const { entries } = await built(cw);
      const out: Record<string, number> = {};
      for (const name of programs) {
        const program = (entries.get(name) as CorpusEntry).fixed;
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
      const { sim, entries } = await built(cw);
      const out: Record<string, number> = {};
      for (const name of programs) {
        const { fixed, options } = entries.get(name) as CorpusEntry;
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
        params: `${fmtCount(runs)} schedules a run (fast-check: ${fmtCount(peerRuns)}); lost update 12 steps, torn read 18 (round-robin)`,
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
