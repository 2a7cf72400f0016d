// parked: the memory a task costs while it waits forever. N tasks are parked
// and kept reachable; heapUsed is read after a full gc before and after, and
// the difference is divided by N (median of several repeats). The array that
// holds the references is allocated before the first reading, so it is not
// counted.

import co from "co";
import { run as effectionRun, spawn as effectionSpawn, suspend } from "effection";
import csp from "js-csp";
import { fork, take } from "redux-saga/effects";
import type { CwRoutine } from "./clockwork.ts";
import {
  type Build,
  bytesPerObject,
  type Case,
  type Env,
  fmtCount,
  fmtNumber,
  type Metric,
  macrotask,
  type Suite,
} from "./harness.ts";
import { startSaga } from "./peers.ts";

export function params(env: Env): { tasks: number; repeats: number } {
  return env.quick ? { tasks: 10_000, repeats: 3 } : { tasks: 100_000, repeats: 3 };
}

const metric: Metric = { key: "bytes", label: "per task", unit: "B/task", better: "lower" };

/** Bytes per parked task; `park` parks n tasks, keeping them reachable through `keep`. */
async function measure(env: Env, park: Build): Promise<{ bytes: number }> {
  const { tasks, repeats } = params(env);
  return { bytes: await bytesPerObject(tasks, repeats, park) };
}

/** Waits (a macrotask at a time, at most ~10 s) until `ready()` holds. */
async function until(ready: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000 && !ready(); i++) await macrotask();
  if (!ready()) throw new Error(`${what} never became ready`);
}

export const cases: Case[] = [
  {
    name: "limit (bare generator)",
    kind: "limit",
    how: "a bare generator suspended at its first `yield`",
    async run(env) {
      function* parked(): Generator<undefined, void, unknown> {
        yield;
      }
      return measure(env, (n, keep) => {
        for (let i = 0; i < n; i++) {
          const g = parked();
          g.next();
          keep[i] = g;
        }
        return () => {};
      });
    },
  },
  {
    name: "async/await",
    kind: "peer",
    how: "an async function at `await never` (one shared never-settling promise, which keeps every frame alive)",
    async run(env) {
      return measure(env, (n, keep) => {
        const never = new Promise<void>(() => {});
        const parked = async () => {
          await never;
        };
        for (let i = 0; i < n; i++) keep[i] = parked();
        // The frames hang off `never`, not off the promises kept: keep it alive.
        return async () => {
          void never;
        };
      });
    },
  },
  {
    name: "co",
    kind: "peer",
    how: "co(function*(){ yield never }) with one shared never-settling promise",
    async run(env) {
      return measure(env, (n, keep) => {
        const never = new Promise<void>(() => {});
        const parked = function* (): Generator<Promise<void>, void, unknown> {
          yield never;
        };
        for (let i = 0; i < n; i++) keep[i] = co(parked);
        return async () => {
          void never;
        };
      });
    },
  },
  {
    name: "redux-saga",
    kind: "peer",
    how: 'one root saga forks N children, each blocked on `yield take("NEVER")`; cancelled afterwards',
    async run(env) {
      return measure(env, async (n, keep) => {
        const parked = function* () {
          yield take("NEVER");
        };
        let forked = 0;
        const root = startSaga(function* () {
          for (let i = 0; i < n; i++) {
            keep[i] = yield fork(parked);
            forked++;
          }
        });
        await until(() => forked === n, "redux-saga forks");
        return async () => {
          root.cancel();
          await root.toPromise();
        };
      });
    },
  },
  {
    name: "js-csp",
    kind: "peer",
    how: "a go block at `yield take(ch)`, one channel per task nobody writes (js-csp allows at most 1,024 pending takes per channel)",
    async run(env) {
      return measure(env, (n, keep) => {
        const parked = function* (ch: ReturnType<typeof csp.chan>) {
          yield csp.take(ch);
        };
        for (let i = 0; i < n; i++) {
          const ch = csp.chan();
          csp.go(parked, [ch]);
          keep[i] = ch;
        }
        return () => {};
      });
    },
  },
  {
    name: "Effection 4",
    kind: "peer",
    how: "N children spawned under one run(), each at `yield* suspend()`; halted afterwards",
    async run(env) {
      return measure(env, async (n, keep) => {
        let started = 0;
        const root = effectionRun(function* () {
          for (let i = 0; i < n; i++) {
            keep[i] = yield* effectionSpawn(function* () {
              started++;
              yield* suspend();
            });
          }
          yield* suspend();
        });
        await until(() => started === n, "Effection children");
        return async () => {
          await root.halt();
        };
      });
    },
  },
  {
    name: "clockwork",
    kind: "clockwork",
    how: "one Worker; each task at `yield suspend()` (parked until cancelled), tick() until false; cancelAll() afterwards",
    async run(cw, env) {
      return measure(env, (n, keep) => {
        const w = new cw.Worker();
        const parked = function* (): CwRoutine {
          yield cw.suspend();
        };
        for (let i = 0; i < n; i++) keep[i] = w.assign(parked());
        while (w.tick()) {
          // step every task until it is parked
        }
        return async () => {
          w.cancelAll();
          while (w.tick()) {
            // let the cancellations unwind
          }
          if (w.tasks.length !== 0)
            throw new Error(`${w.tasks.length} tasks left after cancelAll()`);
        };
      });
    },
  },
  {
    name: "clockwork, asleep",
    kind: "clockwork",
    how: "one Worker on a VirtualClock; each task at `yield* sleep(1e9)` (the goal's case: parked with a timer), tick() until false; cancelAll() afterwards",
    async run(cw, env) {
      return measure(env, (n, keep) => {
        const w = new cw.Worker({ clock: new cw.VirtualClock() });
        const parked = function* (): CwRoutine {
          yield* cw.sleep(1e9);
        };
        for (let i = 0; i < n; i++) keep[i] = w.assign(parked());
        while (w.tick()) {
          // step every task until it is parked on its timer
        }
        return async () => {
          w.cancelAll();
          while (w.tick()) {
            // let the cancellations unwind
          }
          if (w.tasks.length !== 0)
            throw new Error(`${w.tasks.length} tasks left after cancelAll()`);
        };
      });
    },
  },
];

export const suite: Suite = {
  name: "parked",
  description: "memory per task parked forever",
  tables(env) {
    const { tasks, repeats } = params(env);
    return [
      {
        title: "parked: heap bytes per waiting task",
        params: `${fmtCount(tasks)} tasks parked, heapUsed after gc, median of ${repeats}`,
        goal: "<= 300 B/task parked with a timer (clockwork, asleep)",
        baseline: "limit (bare generator)",
        metrics: [metric],
        cases,
        verdict(get) {
          const asleep = get("clockwork, asleep", "bytes");
          const parked = get("clockwork", "bytes");
          if (asleep === undefined) return { status: "n/a", detail: "clockwork has no figure" };
          return {
            status: asleep <= 300 ? "met" : "not met",
            detail:
              `clockwork uses ${fmtNumber(asleep)} B/task parked with a timer (goal <= 300)` +
              (parked === undefined ? "" : `, ${fmtNumber(parked)} B/task without one`),
          };
        },
      },
    ];
  },
};
