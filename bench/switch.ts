// switch: the cost of one task switch. N tasks each give up control K times
// (N x K steps); every library runs all N at once and interleaves them.

import co from "co";
import { run as effectionRun, spawn as effectionSpawn, type Task } from "effection";
import csp from "js-csp";
import { call } from "redux-saga/effects";
import type { CwRoutine } from "./clockwork.ts";
import {
  type Case,
  type Env,
  fmtCount,
  fmtRatio,
  type Metric,
  noop,
  type Suite,
  timeRun,
  timing,
} from "./harness.ts";
import { runSagaToEnd, takeEach, yieldNow } from "./peers.ts";

export function params(env: Env): { tasks: number; yields: number } {
  return env.quick ? { tasks: 1000, yields: 100 } : { tasks: 1000, yields: 1000 };
}

const metric: Metric = { key: "step", label: "per step", unit: "ns/step", better: "lower" };

/** ns per step from the median ms of one whole run. */
function perStep(ms: number, env: Env): { step: number } {
  const { tasks, yields } = params(env);
  return { step: (ms * 1e6) / (tasks * yields) };
}

function* bareTask(yields: number): Generator<undefined, void, unknown> {
  for (let i = 0; i < yields; i++) yield;
}

/** The limit: a hand-written round-robin loop over bare generators. */
function roundRobin(tasks: number, yields: number): void {
  const live: Generator<undefined, void, unknown>[] = [];
  for (let i = 0; i < tasks; i++) live.push(bareTask(yields));
  while (live.length > 0) {
    let kept = 0;
    for (let i = 0; i < live.length; i++) {
      const g = live[i] as Generator<undefined, void, unknown>;
      if (!g.next().done) live[kept++] = g;
    }
    live.length = kept;
  }
}

export const cases: Case[] = [
  {
    name: "limit (bare generators)",
    kind: "limit",
    how: "array of bare generators, next() on each in turn, finished ones dropped",
    async run(env) {
      const { tasks, yields } = params(env);
      return perStep(await timeRun(() => void roundRobin(tasks, yields), timing(env)), env);
    },
  },
  {
    name: "async/await",
    kind: "peer",
    how: "async functions doing `await null`, all started, then Promise.all",
    async run(env) {
      const { tasks, yields } = params(env);
      const one = async () => {
        for (let i = 0; i < yields; i++) await null;
      };
      const ms = await timeRun(async () => {
        const all: Promise<void>[] = [];
        for (let t = 0; t < tasks; t++) all.push(one());
        await Promise.all(all);
        return undefined;
      }, timing(env));
      return perStep(ms, env);
    },
  },
  {
    name: "co",
    kind: "peer",
    how: "`yield p` of one shared resolved promise (co refuses null; a promise is its cheapest yieldable)",
    async run(env) {
      const { tasks, yields } = params(env);
      const resolved = Promise.resolve();
      const one = function* (): Generator<Promise<void>, void, unknown> {
        for (let i = 0; i < yields; i++) yield resolved;
      };
      const ms = await timeRun(async () => {
        const all: Promise<void>[] = [];
        for (let t = 0; t < tasks; t++) all.push(co(one));
        await Promise.all(all);
        return undefined;
      }, timing(env));
      return perStep(ms, env);
    },
  },
  {
    name: "redux-saga",
    kind: "peer",
    how: "runSaga per task, `yield call(() => resolvedPromise)`: the cheapest effect that interleaves sagas",
    async run(env) {
      const { tasks, yields } = params(env);
      const resolved = Promise.resolve();
      const tick = () => resolved;
      const saga = function* () {
        for (let i = 0; i < yields; i++) yield call(tick);
      };
      const ms = await timeRun(async () => {
        const all: Promise<unknown>[] = [];
        for (let t = 0; t < tasks; t++) all.push(runSagaToEnd(saga));
        await Promise.all(all);
        return undefined;
      }, timing(env));
      return perStep(ms, env);
    },
  },
  {
    name: "redux-saga (sync call)",
    kind: "peer",
    how: "`yield call(noop)`: resolved synchronously, so each saga runs to its end before the next starts (no switch at all)",
    async run(env) {
      const { tasks, yields } = params(env);
      const saga = function* () {
        for (let i = 0; i < yields; i++) yield call(noop);
      };
      const ms = await timeRun(async () => {
        const all: Promise<unknown>[] = [];
        for (let t = 0; t < tasks; t++) all.push(runSagaToEnd(saga));
        await Promise.all(all);
        return undefined;
      }, timing(env));
      return perStep(ms, env);
    },
  },
  {
    name: "js-csp",
    kind: "peer",
    how: "go blocks doing `yield null` (reschedules the process through setImmediate; timeout(0) would add a channel and a timer)",
    async run(env) {
      const { tasks, yields } = params(env);
      const one = function* () {
        for (let i = 0; i < yields; i++) yield null;
      };
      const ms = await timeRun(async () => {
        const done = [];
        for (let t = 0; t < tasks; t++) done.push(csp.go(one));
        await takeEach(done);
        return undefined;
      }, timing(env));
      return perStep(ms, env);
    },
  },
  {
    name: "Effection 4",
    kind: "peer",
    how: "spawned operations doing `yield* action(r => (r(), noop))` (a synchronously resolved action: requeued on the reducer, cheaper than sleep(0))",
    async run(env) {
      const { tasks, yields } = params(env);
      const ms = await timeRun(
        async () => {
          await effectionRun(function* () {
            const all: Task<void>[] = [];
            for (let t = 0; t < tasks; t++) {
              all.push(
                yield* effectionSpawn(function* () {
                  for (let i = 0; i < yields; i++) yield* yieldNow();
                }),
              );
            }
            for (const task of all) yield* task;
          });
          return undefined;
        },
        timing(env, true),
      );
      return perStep(ms, env);
    },
  },
  {
    name: "clockwork",
    kind: "clockwork",
    how: "new Worker(); assign() each task doing plain `yield`; work()",
    async run(cw, env) {
      const { tasks, yields } = params(env);
      const task = function* (): CwRoutine {
        for (let i = 0; i < yields; i++) yield;
      };
      const ms = await timeRun(() => {
        const w = new cw.Worker();
        for (let t = 0; t < tasks; t++) w.assign(task());
        w.work();
        return undefined;
      }, timing(env));
      return perStep(ms, env);
    },
  },
];

export const suite: Suite = {
  name: "switch",
  description: "cost of one task switch (a plain yield among many tasks)",
  tables(env) {
    const { tasks, yields } = params(env);
    return [
      {
        title: "switch: one task switch",
        params: `${fmtCount(tasks)} tasks x ${fmtCount(yields)} yields = ${fmtCount(tasks * yields)} steps`,
        goal: "<= 1.5x the limit (ns/step)",
        baseline: "limit (bare generators)",
        metrics: [metric],
        cases,
        verdict(get) {
          const cwStep = get("clockwork", "step");
          const limit = get("limit (bare generators)", "step");
          if (cwStep === undefined || limit === undefined) {
            return { status: "n/a", detail: "clockwork or the limit has no figure" };
          }
          const r = cwStep / limit;
          return {
            status: r <= 1.5 ? "met" : "not met",
            detail: `clockwork is ${fmtRatio(r)} the limit (goal <= 1.50x)`,
          };
        },
      },
    ];
  },
};
