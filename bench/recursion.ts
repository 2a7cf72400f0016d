// recursion: the cost of ONE resume at the bottom of a deep call chain. A
// routine calls itself `depth` times; at the bottom it gives up control K
// times and times just that loop. Native `yield*` re-enters every level on
// each resume (O(depth)); a trampoline resumes only the top (O(1)). Then a
// chain 1,000,000 deep must complete on the default stack.

import co from "co";
import { run as effectionRun, type Operation } from "effection";
import csp from "js-csp";
import { call } from "redux-saga/effects";
import { asyncRec } from "./async-rec.ts";
import type { CwRoutine } from "./clockwork.ts";
import {
  type Case,
  type Env,
  fail,
  fmtCount,
  fmtNumber,
  fmtRatio,
  type Metric,
  message,
  type Suite,
  timeRun,
  timing,
  type Value,
  type Values,
} from "./harness.ts";
import { startQuietSaga, takePromise, yieldNow } from "./peers.ts";

interface Params {
  /** A middle depth, where native delegation still fits on the stack. */
  mid: number;
  /** The deep case measured against depth 1. */
  deep: number;
  /** The depth that must complete. */
  huge: number;
  /** Bottom-level steps timed, the same at every depth (so garbage per run is the same). */
  k: number;
}

export function params(env: Env): Params {
  return env.quick
    ? { mid: 1_000, deep: 10_000, huge: 1_000_000, k: 5_000 }
    : { mid: 1_000, deep: 10_000, huge: 1_000_000, k: 20_000 };
}

function metrics(p: Params): Metric[] {
  return [
    { key: "d1", label: "depth 1", unit: "ns/resume", better: "lower" },
    { key: "mid", label: `depth ${fmtCount(p.mid)}`, unit: "ns/resume", better: "lower" },
    { key: "deep", label: `depth ${fmtCount(p.deep)}`, unit: "ns/resume", better: "lower" },
    { key: "huge", label: `depth ${fmtCount(p.huge)}`, unit: "s to complete", better: "lower" },
  ];
}

/**
 * One run at `depth` with `k` bottom steps; resolves with the milliseconds the
 * bottom loop took (the descent and the return are not counted).
 */
type RunOnce = (depth: number, k: number) => Promise<number> | number;

function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError || /call stack/i.test(message(e));
}

/** Checks the bottom's result came back up through every level. */
function check(result: unknown, k: number): void {
  if (result !== k) throw new Error(`the chain returned ${String(result)}, expected ${k}`);
}

/** Times depth 1 and the deep case, then runs the huge chain once. */
async function profile(env: Env, once: RunOnce): Promise<Values> {
  const p = params(env);
  const out: Record<string, Value> = {};
  let overflowed = false;
  for (const [key, depth, k] of [
    ["d1", 1, p.k],
    ["mid", p.mid, p.k],
    ["deep", p.deep, p.k],
  ] as const) {
    try {
      const ms = await timeRun(() => once(depth, k), timing(env));
      out[key] = (ms * 1e6) / k;
    } catch (e) {
      if (!isStackOverflow(e)) throw e;
      out[key] = fail("stack overflow");
      overflowed = true;
    }
  }
  return { ...out, huge: overflowed ? fail("not tried") : await completes(p.huge, once) };
}

/** Seconds a chain `depth` deep takes to run to its end, or why it did not. */
async function completes(depth: number, once: RunOnce): Promise<Value> {
  const start = performance.now();
  try {
    await once(depth, 1);
    return (performance.now() - start) / 1000;
  } catch (e) {
    if (!isStackOverflow(e)) throw e;
    return fail("stack overflow");
  }
}

/**
 * What a run tells its routines (k, the bottom steps) and they tell it back
 * (ms, the bottom loop's time). The routines are made once per case, not per
 * run: a fresh closure per run is optimised erratically after the forced gc
 * that precedes each run (measured: 40 to 600 ns per step for the same code).
 */
interface Bottom {
  k: number;
  ms: number;
}

function bottom(): Bottom {
  return { k: 0, ms: 0 };
}

export const cases: Case[] = [
  {
    name: "limit (hand trampoline)",
    kind: "limit",
    how: "bare generators on an explicit stack: a yielded generator is pushed, a finished one popped, only the top is resumed",
    async run(env) {
      const b = bottom();
      function* rec(n: number): Generator<unknown, unknown, unknown> {
        if (n > 0) return yield rec(n - 1);
        const t0 = performance.now();
        for (let i = 0; i < b.k; i++) yield;
        b.ms = performance.now() - t0;
        return b.k;
      }
      return profile(env, (depth, k) => {
        b.k = k;
        const stack: Generator<unknown, unknown, unknown>[] = [rec(depth)];
        let value: unknown;
        let result: unknown;
        while (stack.length > 0) {
          const top = stack[stack.length - 1] as Generator<unknown, unknown, unknown>;
          const r = top.next(value);
          value = undefined;
          if (r.done) {
            stack.pop();
            value = r.value;
            result = r.value;
          } else if (isGenerator(r.value)) {
            stack.push(r.value);
          }
        }
        check(result, k);
        return b.ms;
      });
    },
  },
  {
    name: "bare yield*",
    kind: "peer",
    how: "native delegation `return yield* rec(n - 1)`, bottom does plain `yield`, driven by a next() loop",
    async run(env) {
      const b = bottom();
      function* rec(n: number): Generator<undefined, number, unknown> {
        if (n > 0) return yield* rec(n - 1);
        const t0 = performance.now();
        for (let i = 0; i < b.k; i++) yield;
        b.ms = performance.now() - t0;
        return b.k;
      }
      return profile(env, (depth, k) => {
        b.k = k;
        const g = rec(depth);
        let r = g.next();
        while (!r.done) r = g.next();
        check(r.value, k);
        return b.ms;
      });
    },
  },
  {
    name: "async/await",
    kind: "peer",
    how: "`return await rec(n - 1)`, bottom does `await null`",
    async run(env) {
      const b = bottom();
      const rec = asyncRec(b);
      return profile(env, async (depth, k) => {
        b.k = k;
        check(await rec(depth), k);
        return b.ms;
      });
    },
  },
  {
    name: "co",
    kind: "peer",
    how: "`return yield rec(n - 1)` (co runs a yielded generator as a nested co), bottom yields a resolved promise",
    async run(env) {
      const b = bottom();
      const resolved = Promise.resolve();
      function* rec(n: number): Generator<unknown, unknown, unknown> {
        if (n > 0) return yield rec(n - 1);
        const t0 = performance.now();
        for (let i = 0; i < b.k; i++) yield resolved;
        b.ms = performance.now() - t0;
        return b.k;
      }
      return profile(env, async (depth, k) => {
        b.k = k;
        check(await co(rec, depth), k);
        return b.ms;
      });
    },
  },
  {
    name: "redux-saga",
    kind: "peer",
    how: "`return yield call(rec, n - 1)`, bottom does `yield call(() => resolvedPromise)` (as in switch)",
    async run(env) {
      const b = bottom();
      const resolved = Promise.resolve();
      const tick = () => resolved;
      function* rec(n: number): Generator<unknown, unknown, unknown> {
        if (n > 0) return yield call(rec, n - 1);
        const t0 = performance.now();
        for (let i = 0; i < b.k; i++) yield call(tick);
        b.ms = performance.now() - t0;
        return b.k;
      }
      return profile(env, async (depth, k) => {
        b.k = k;
        check(await startQuietSaga(rec, depth).toPromise(), k);
        return b.ms;
      });
    },
  },
  {
    name: "js-csp",
    kind: "peer",
    how: "each level a go block: `return yield go(rec, [n - 1])` (take its result channel), bottom does `yield null`",
    async run(env) {
      const b = bottom();
      function* rec(n: number): Generator<unknown, unknown, unknown> {
        if (n > 0) return yield csp.go(rec, [n - 1]);
        const t0 = performance.now();
        for (let i = 0; i < b.k; i++) yield null;
        b.ms = performance.now() - t0;
        return b.k;
      }
      return profile(env, async (depth, k) => {
        b.k = k;
        check(await takePromise(csp.go(rec, [depth])), k);
        return b.ms;
      });
    },
  },
  {
    name: "Effection 4",
    kind: "peer",
    how: "native delegation `return yield* rec(n - 1)` (Effection's way to call an operation), bottom does yieldNow() (as in switch)",
    async run(env) {
      const b = bottom();
      function* rec(n: number): Operation<number> {
        if (n > 0) return yield* rec(n - 1);
        const t0 = performance.now();
        for (let i = 0; i < b.k; i++) yield* yieldNow();
        b.ms = performance.now() - t0;
        return b.k;
      }
      return profile(env, async (depth, k) => {
        b.k = k;
        check(await effectionRun(() => rec(depth)), k);
        return b.ms;
      });
    },
  },
  {
    name: "clockwork",
    kind: "clockwork",
    how: "`return yield rec(n - 1)` (trampolined on the task's own stack), bottom does plain `yield`; assign() + work()",
    async run(cw, env) {
      const b = bottom();
      function* rec(n: number): CwRoutine<unknown> {
        if (n > 0) return yield rec(n - 1);
        const t0 = performance.now();
        for (let i = 0; i < b.k; i++) yield;
        b.ms = performance.now() - t0;
        return b.k;
      }
      return profile(env, (depth, k) => {
        b.k = k;
        const w = new cw.Worker();
        const task = w.assign(rec(depth));
        w.work();
        check(task.result, k);
        return b.ms;
      });
    },
  },
];

function isGenerator(x: unknown): x is Generator<unknown, unknown, unknown> {
  return (
    typeof x === "object" &&
    x !== null &&
    typeof (x as { next?: unknown }).next === "function" &&
    typeof (x as { throw?: unknown }).throw === "function"
  );
}

export const suite: Suite = {
  name: "recursion",
  description: "cost of one resume at the bottom of a deep call chain",
  tables(env) {
    const p = params(env);
    return [
      {
        title: "recursion: one resume at the bottom of a call chain",
        params: `${fmtCount(p.k)} bottom steps timed at depths 1, ${fmtCount(p.mid)} and ${fmtCount(p.deep)}; depth ${fmtCount(p.huge)} run once (not tried after an overflow)`,
        goal: `depth ${fmtCount(p.deep)} within 1.5x of depth 1; depth ${fmtCount(p.huge)} completes on the default stack`,
        baseline: "limit (hand trampoline)",
        metrics: metrics(p),
        cases,
        verdict(get) {
          const d1 = get("clockwork", "d1");
          const deep = get("clockwork", "deep");
          const huge = get("clockwork", "huge");
          if (d1 === undefined && deep === undefined && huge === undefined) {
            return { status: "n/a", detail: "clockwork has no figure" };
          }
          if (d1 === undefined || deep === undefined) {
            return { status: "not met", detail: "clockwork failed at depth 1 or the deep case" };
          }
          const r = deep / d1;
          const flat = r <= 1.5;
          const completes = huge !== undefined;
          const hugeText = completes
            ? `depth ${fmtCount(p.huge)} completed in ${fmtNumber(huge)} s`
            : `depth ${fmtCount(p.huge)} did not complete`;
          return {
            status: flat && completes ? "met" : "not met",
            detail: `clockwork depth ${fmtCount(p.deep)} is ${fmtRatio(r)} its depth 1 (goal <= 1.50x); ${hugeText}`,
          };
        },
      },
    ];
  },
};
