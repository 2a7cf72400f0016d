// sleepers: many tasks sleeping on the real clock. First N tasks each sleep
// 0.1 s: wall time for all of them, and lateness (when a task actually resumed
// minus when it asked to, median and p99). Then M tasks parked on a long
// sleep: the CPU the process uses while they wait, and the time to cancel
// them all and let the scheduler finish.

import co from "co";
import {
  run as effectionRun,
  sleep as effectionSleep,
  spawn as effectionSpawn,
  suspend,
  type Task,
} from "effection";
import csp, { type Channel } from "js-csp";
import { delay, fork } from "redux-saga/effects";
import type { ClockworkApi, CwRoutine } from "./clockwork.ts";
import {
  type Case,
  cpuMsDuring,
  delayMs,
  type Env,
  fmtCount,
  fmtNumber,
  gc,
  type Lookup,
  type Metric,
  macrotask,
  median,
  percentile,
  type Suite,
  type Values,
  type Verdict,
} from "./harness.ts";
import { runSagaToEnd, startSaga, takeEach } from "./peers.ts";

export function params(env: Env): {
  sleepers: number;
  sleepMs: number;
  repeats: number;
  parked: number;
  parkMs: number;
  idleMs: number;
} {
  return env.quick
    ? { sleepers: 1_000, sleepMs: 100, repeats: 2, parked: 10_000, parkMs: 10_000, idleMs: 300 }
    : {
        sleepers: 10_000,
        sleepMs: 100,
        repeats: 3,
        parked: 100_000,
        parkMs: 10_000,
        idleMs: 1_000,
      };
}

// ---------------------------------------------------------------------------
// Part 1: N short sleepers

const wakeMetrics: Metric[] = [
  { key: "wall", label: "wall", unit: "ms", better: "lower" },
  { key: "p50", label: "lateness p50", unit: "ms", better: "lower" },
  { key: "p99", label: "lateness p99", unit: "ms", better: "lower" },
];

/**
 * One round: `start(n, ms, late)` starts n sleepers of `ms` each and resolves
 * when all have woken; every sleeper pushes its lateness (performance.now()
 * when it resumed minus when it asked for, plus ms) onto `late`.
 */
type SleepRound = (n: number, ms: number, late: number[]) => Promise<void>;

async function wakeUp(env: Env, round: SleepRound): Promise<Values> {
  const { sleepers, sleepMs, repeats } = params(env);
  const walls: number[] = [];
  const p50s: number[] = [];
  const p99s: number[] = [];
  for (let r = 0; r < repeats; r++) {
    gc();
    await macrotask();
    const late: number[] = [];
    const start = performance.now();
    await round(sleepers, sleepMs, late);
    walls.push(performance.now() - start);
    if (late.length !== sleepers) {
      throw new Error(`${late.length} of ${sleepers} sleepers reported waking`);
    }
    p50s.push(percentile(late, 50));
    p99s.push(percentile(late, 99));
  }
  return { wall: median(walls), p50: median(p50s), p99: median(p99s) };
}

function timerPromise(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function wakeCases(): Case[] {
  return [
    {
      name: "setTimeout",
      kind: "baseline",
      how: "async functions awaiting `new Promise(r => setTimeout(r, 100))`, then Promise.all",
      run: (env) =>
        wakeUp(env, async (n, ms, late) => {
          const one = async () => {
            const due = performance.now() + ms;
            await timerPromise(ms);
            late.push(performance.now() - due);
          };
          const all: Promise<void>[] = [];
          for (let i = 0; i < n; i++) all.push(one());
          await Promise.all(all);
        }),
    },
    {
      name: "co",
      kind: "peer",
      how: "co routines yielding a setTimeout promise (co has no timer of its own)",
      run: (env) =>
        wakeUp(env, async (n, ms, late) => {
          const one = function* (): Generator<Promise<void>, void, unknown> {
            const due = performance.now() + ms;
            yield timerPromise(ms);
            late.push(performance.now() - due);
          };
          const all: Promise<void>[] = [];
          for (let i = 0; i < n; i++) all.push(co(one));
          await Promise.all(all);
        }),
    },
    {
      name: "redux-saga",
      kind: "peer",
      how: "one root saga forks N children doing `yield delay(100)`",
      run: (env) =>
        wakeUp(env, async (n, ms, late) => {
          const one = function* () {
            const due = performance.now() + ms;
            yield delay(ms);
            late.push(performance.now() - due);
          };
          await runSagaToEnd(function* () {
            for (let i = 0; i < n; i++) yield fork(one);
          });
        }),
    },
    {
      name: "js-csp",
      kind: "peer",
      how: "go blocks doing `yield timeout(100)` (take from a channel that closes after 100 ms)",
      run: (env) =>
        wakeUp(env, async (n, ms, late) => {
          const one = function* () {
            const due = performance.now() + ms;
            yield csp.timeout(ms);
            late.push(performance.now() - due);
          };
          const all: Channel[] = [];
          for (let i = 0; i < n; i++) all.push(csp.go(one));
          await takeEach(all);
        }),
    },
    {
      name: "Effection 4",
      kind: "peer",
      how: "one run() spawns N children doing `yield* sleep(100)`, then joins them",
      run: (env) =>
        wakeUp(env, async (n, ms, late) => {
          await effectionRun(function* () {
            const all: Task<void>[] = [];
            for (let i = 0; i < n; i++) {
              all.push(
                yield* effectionSpawn(function* () {
                  const due = performance.now() + ms;
                  yield* effectionSleep(ms);
                  late.push(performance.now() - due);
                }),
              );
            }
            for (const t of all) yield* t;
          });
        }),
    },
    {
      name: "clockwork",
      kind: "clockwork",
      how: "one Worker on the real clock, N tasks assign()ed doing `yield sleep(0.1)`; `await worker.run()`",
      run: (cw, env) =>
        wakeUp(env, async (n, ms, late) => {
          const w = new cw.Worker();
          const one = function* (): CwRoutine {
            const due = performance.now() + ms;
            yield cw.sleep(ms / 1000);
            late.push(performance.now() - due);
          };
          for (let i = 0; i < n; i++) w.assign(one());
          await w.run();
        }),
    },
  ];
}

function wakeVerdict(get: Lookup): Verdict {
  const keys = ["wall", "p50", "p99"] as const;
  const missing = keys.some(
    (k) => get("clockwork", k) === undefined || get("setTimeout", k) === undefined,
  );
  if (missing) return { status: "n/a", detail: "clockwork or setTimeout has no figure" };
  // Within 10% or 1 ms of setTimeout counts as "no worse": both are timer noise.
  const parts = keys.map((k) => {
    const c = get("clockwork", k) ?? 0;
    const b = get("setTimeout", k) ?? 0;
    return { k, c, b, ok: c <= b * 1.1 || c - b <= 1 };
  });
  const detail = parts
    .map((p) => `${p.k} ${fmtNumber(p.c)} vs ${fmtNumber(p.b)} ms${p.ok ? "" : " (worse)"}`)
    .join(", ");
  return {
    status: parts.every((p) => p.ok) ? "met" : "not met",
    detail: `clockwork vs setTimeout: ${detail} (no worse = within 10% or 1 ms)`,
  };
}

// ---------------------------------------------------------------------------
// Part 2: M long sleepers, idle

const idleMetrics: Metric[] = [
  { key: "cpu", label: "CPU while parked", unit: "ms", better: "lower" },
  { key: "cancel", label: "cancel all + finish", unit: "ms", better: "lower" },
];

/**
 * `park(n, ms, counter)` starts n sleepers of `ms` (each calls `counter()` as
 * it goes to sleep) and returns a function that cancels them all and resolves
 * once the scheduler has finished.
 */
type Park = (n: number, ms: number, counter: () => void) => Promise<() => Promise<void>>;

async function idle(env: Env, park: Park): Promise<Values> {
  const { parked, parkMs, idleMs } = params(env);
  let count = 0;
  const cancel = await park(parked, parkMs, () => {
    count++;
  });
  for (let i = 0; i < 100_000 && count < parked; i++) await macrotask();
  if (count !== parked) {
    await cancel();
    throw new Error(`only ${count} of ${parked} sleepers went to sleep`);
  }
  // Let the scheduler go idle and collect the set-up garbage; give the
  // collector's background threads (sweeping) time to finish, then watch.
  await delayMs(50);
  gc();
  await delayMs(250);
  const cpu = await cpuMsDuring(() => delayMs(idleMs));
  const start = performance.now();
  await cancel();
  return { cpu, cancel: performance.now() - start };
}

function idleCases(): Case[] {
  return [
    {
      name: "setTimeout",
      kind: "baseline",
      how: "M pending setTimeout timers; clearTimeout each",
      run: (env) =>
        idle(env, async (n, ms, counter) => {
          const timers: ReturnType<typeof setTimeout>[] = [];
          for (let i = 0; i < n; i++) {
            timers.push(setTimeout(() => {}, ms));
            counter();
          }
          return async () => {
            for (const t of timers) clearTimeout(t);
          };
        }),
    },
    {
      name: "redux-saga",
      kind: "peer",
      how: "root saga forks M children at `yield delay(10000)`; root.cancel()",
      run: (env) =>
        idle(env, async (n, ms, counter) => {
          const one = function* () {
            counter();
            yield delay(ms);
          };
          const root = startSaga(function* () {
            for (let i = 0; i < n; i++) yield fork(one);
          });
          return async () => {
            root.cancel();
            await root.toPromise();
          };
        }),
    },
    {
      name: "Effection 4",
      kind: "peer",
      how: "one run() spawns M children at `yield* sleep(10000)`; halt()",
      run: (env) =>
        idle(env, async (n, ms, counter) => {
          const root = effectionRun(function* () {
            for (let i = 0; i < n; i++) {
              yield* effectionSpawn(function* () {
                counter();
                yield* effectionSleep(ms);
              });
            }
            yield* suspend();
          });
          return async () => {
            await root.halt();
          };
        }),
    },
    {
      name: "clockwork",
      kind: "clockwork",
      how: "one Worker, M tasks at `yield sleep(10)` under `worker.run()`; cancelAll(), then run() resolves",
      run: (cw, env) => idle(env, async (n, ms, counter) => parkClockwork(cw, n, ms, counter)),
    },
  ];
}

async function parkClockwork(
  cw: ClockworkApi,
  n: number,
  ms: number,
  counter: () => void,
): Promise<() => Promise<void>> {
  const w = new cw.Worker();
  const one = function* (): CwRoutine {
    counter();
    yield cw.sleep(ms / 1000);
  };
  for (let i = 0; i < n; i++) w.assign(one());
  const running = w.run();
  // A failure of run() is reported by the cancel step, not left unhandled.
  running.catch(() => {});
  return async () => {
    w.cancelAll();
    await running;
  };
}

function idleVerdict(get: Lookup, idleMs: number): Verdict {
  const cpu = get("clockwork", "cpu");
  if (cpu === undefined) return { status: "n/a", detail: "clockwork has no figure" };
  const limit = idleMs * 0.02;
  return {
    status: cpu <= limit ? "met" : "not met",
    detail: `clockwork used ${fmtNumber(cpu)} ms CPU in ${fmtNumber(idleMs)} ms parked (goal ~0: <= 2%, ${fmtNumber(limit)} ms)`,
  };
}

// ---------------------------------------------------------------------------

export const cases: Case[] = [...wakeCases(), ...idleCases()];

export const suite: Suite = {
  name: "sleepers",
  description: "many tasks sleeping on the real clock: lateness, idle CPU",
  tables(env) {
    const p = params(env);
    return [
      {
        title: `sleepers: ${fmtCount(p.sleepers)} tasks each sleep ${p.sleepMs / 1000} s`,
        params: `${fmtCount(p.sleepers)} sleepers of ${p.sleepMs} ms, median of ${p.repeats} rounds; lateness = resumed at - (asked at + ${p.sleepMs} ms)`,
        goal: "wall and lateness no worse than setTimeout",
        baseline: "setTimeout",
        metrics: wakeMetrics,
        cases: wakeCases(),
        verdict: wakeVerdict,
      },
      {
        title: `sleepers: ${fmtCount(p.parked)} tasks parked on a ${p.parkMs / 1000} s sleep`,
        params: `${fmtCount(p.parked)} sleepers, CPU (user+system) over ${fmtCount(p.idleMs)} ms idle, then all cancelled (co and js-csp cannot cancel a pending timer from outside: not measured)`,
        goal: "~no CPU while parked",
        baseline: "setTimeout",
        metrics: idleMetrics,
        cases: idleCases(),
        verdict: (get) => idleVerdict(get, p.idleMs),
      },
    ];
  },
};
