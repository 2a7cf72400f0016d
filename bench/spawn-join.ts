// spawn-join: the cost of starting a task and waiting for its result. One
// parent starts N children (each returns a number at once), then joins each.

import co from "co";
import { run as effectionRun, spawn as effectionSpawn, type Task } from "effection";
import csp, { type Channel } from "js-csp";
import type { Task as SagaTask } from "redux-saga";
import { fork, join } from "redux-saga/effects";
import type { ClockworkApi, CwRoutine, CwTask } from "./clockwork.ts";
import {
  type Case,
  type Env,
  fmtCount,
  fmtRatio,
  type Metric,
  type Suite,
  timeRun,
  timing,
} from "./harness.ts";
import { runSagaToEnd, takePromise } from "./peers.ts";

export function params(env: Env): { tasks: number } {
  return env.quick ? { tasks: 10_000 } : { tasks: 100_000 };
}

const metric: Metric = { key: "task", label: "per task", unit: "ns/task", better: "lower" };

function perTask(ms: number, env: Env): { task: number } {
  return { task: (ms * 1e6) / params(env).tasks };
}

/** Checks the children's results arrived: the sum of 0..n-1. */
function check(sum: number, n: number): void {
  const want = (n * (n - 1)) / 2;
  if (sum !== want) throw new Error(`joined results add up to ${sum}, expected ${want}`);
}

/** The clockwork main of both rows: spawn n children, then join each. */
function* spawnThenJoin(cw: ClockworkApi, n: number): CwRoutine<number> {
  const all: CwTask<number>[] = [];
  for (let i = 0; i < n; i++) all.push(cw.spawn(child(i)));
  let s = 0;
  for (const t of all) s += yield* t.join();
  return s;
}

function* child(i: number): Generator<never, number, unknown> {
  return i;
}

export const cases: Case[] = [
  {
    name: "limit (bare generators)",
    kind: "limit",
    how: "create all generators, then next() each until done, adding up the results",
    async run(env) {
      const n = params(env).tasks;
      const ms = await timeRun(() => {
        const all: Generator<never, number, unknown>[] = [];
        for (let i = 0; i < n; i++) all.push(child(i));
        let sum = 0;
        for (const g of all) {
          let r = g.next();
          while (!r.done) r = g.next();
          sum += r.value;
        }
        check(sum, n);
        return undefined;
      }, timing(env));
      return perTask(ms, env);
    },
  },
  {
    name: "async/await",
    kind: "baseline",
    how: "async child functions, all started, then `await Promise.all(...)`",
    async run(env) {
      const n = params(env).tasks;
      const asyncChild = async (i: number) => i;
      const ms = await timeRun(async () => {
        const all: Promise<number>[] = [];
        for (let i = 0; i < n; i++) all.push(asyncChild(i));
        const values = await Promise.all(all);
        let sum = 0;
        for (const v of values) sum += v;
        check(sum, n);
        return undefined;
      }, timing(env));
      return perTask(ms, env);
    },
  },
  {
    name: "co",
    kind: "peer",
    how: "`co(child, i)` for each child, then `yield` the array of their promises (co's join: Promise.all)",
    async run(env) {
      const n = params(env).tasks;
      const ms = await timeRun(async () => {
        const sum = await co(function* (): Generator<unknown, number, number[]> {
          const all: Promise<number>[] = [];
          for (let i = 0; i < n; i++) all.push(co(child, i));
          const values = yield all;
          let s = 0;
          for (const v of values) s += v;
          return s;
        });
        check(sum, n);
        return undefined;
      }, timing(env));
      return perTask(ms, env);
    },
  },
  {
    name: "redux-saga",
    kind: "peer",
    how: "`yield fork(child, i)` for each child, then `yield join(task)` for each",
    async run(env) {
      const n = params(env).tasks;
      const ms = await timeRun(async () => {
        const sum = await runSagaToEnd(function* () {
          const all: SagaTask[] = [];
          for (let i = 0; i < n; i++) all.push((yield fork(child, i)) as SagaTask);
          let s = 0;
          for (const t of all) s += (yield join(t)) as number;
          return s;
        });
        check(sum as number, n);
        return undefined;
      }, timing(env));
      return perTask(ms, env);
    },
  },
  {
    name: "js-csp",
    kind: "peer",
    how: "`go(child, [i])` for each child, then take (`yield ch`) from each result channel",
    async run(env) {
      const n = params(env).tasks;
      const ms = await timeRun(async () => {
        const result = csp.go(function* () {
          const all: Channel[] = [];
          for (let i = 0; i < n; i++) all.push(csp.go(child, [i]));
          let s = 0;
          for (const ch of all) s += (yield ch) as number;
          return s;
        });
        check((await takePromise(result)) as number, n);
        return undefined;
      }, timing(env));
      return perTask(ms, env);
    },
  },
  {
    name: "Effection 4",
    kind: "peer",
    how: "`yield* spawn(() => child(i))` for each child, then `yield* task` for each",
    async run(env) {
      const n = params(env).tasks;
      const ms = await timeRun(
        async () => {
          const sum = await effectionRun(function* () {
            const all: Task<number>[] = [];
            for (let i = 0; i < n; i++) all.push(yield* effectionSpawn(() => child(i)));
            let s = 0;
            for (const t of all) s += yield* t;
            return s;
          });
          check(sum, n);
          return undefined;
        },
        timing(env, true),
      );
      return perTask(ms, env);
    },
  },
  {
    name: "clockwork wrap()",
    kind: "clockwork",
    how: "`wrap(main())`: main does `spawn(child(i))` for each child, then `yield* t.join()` for each",
    async run(cw, env) {
      const n = params(env).tasks;
      const ms = await timeRun(() => {
        check(cw.wrap(spawnThenJoin(cw, n)), n);
        return undefined;
      }, timing(env));
      return perTask(ms, env);
    },
  },
  {
    name: "clockwork run()",
    kind: "clockwork",
    how: "the same main under `await run(main())`",
    async run(cw, env) {
      const n = params(env).tasks;
      const ms = await timeRun(async () => {
        check(await cw.run(spawnThenJoin(cw, n)), n);
        return undefined;
      }, timing(env));
      return perTask(ms, env);
    },
  },
];

export const suite: Suite = {
  name: "spawn-join",
  description: "cost of starting a task and joining it",
  tables(env) {
    return [
      {
        title: "spawn-join: start a task, wait for its result",
        params: `${fmtCount(params(env).tasks)} children started by one parent, then joined one by one`,
        goal: "faster than async/await + Promise.all (ns/task)",
        baseline: "limit (bare generators)",
        metrics: [metric],
        cases,
        verdict(get) {
          const asyncTask = get("async/await", "task");
          const figures = ["clockwork wrap()", "clockwork run()"]
            .map((name) => ({ name, value: get(name, "task") }))
            .filter((f): f is { name: string; value: number } => f.value !== undefined);
          if (asyncTask === undefined || figures.length === 0) {
            return { status: "n/a", detail: "clockwork or async/await has no figure" };
          }
          const worst = figures.reduce((a, b) => (b.value > a.value ? b : a));
          const detail = figures
            .map((f) => `${f.name} is ${fmtRatio(f.value / asyncTask)} async/await`)
            .join(", ");
          return {
            status: worst.value < asyncTask ? "met" : "not met",
            detail: `${detail} (goal < 1x)`,
          };
        },
      },
    ];
  },
};
