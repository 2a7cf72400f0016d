// lifetimes: what cleanup guarantees cost. Part 1: a routine whose cleanup
// waits once, called N times, plain (try/finally) against wrapped in
// shield(), which a cancel cannot cut. Part 2: N child tasks, each using a
// value it opens and closes in a try/finally, against each opening it with
// resource() (a child task of its own that provides the value and closes it
// when the user's routine is done).

import type { ClockworkApi, CwRoutine } from "./clockwork.ts";
import {
  type Case,
  type Env,
  fail,
  fmtCount,
  fmtRatio,
  type Metric,
  type Suite,
  timeRun,
  timing,
  type Verdict,
} from "./harness.ts";

export function params(env: Env): { calls: number; uses: number } {
  return env.quick ? { calls: 10_000, uses: 2_000 } : { calls: 100_000, uses: 20_000 };
}

const callMetric: Metric = { key: "call", label: "per call", unit: "ns/call", better: "lower" };
const useMetric: Metric = { key: "use", label: "per use", unit: "ns/use", better: "lower" };

/** Counts opens and closes, so that a case that skips its cleanup fails instead of posting a time. */
class Ledger {
  opened = 0;
  closed = 0;
  check(n: number): void {
    if (this.opened !== n || this.closed !== n) {
      throw new Error(`${this.opened} opened and ${this.closed} closed, expected ${n} of each`);
    }
  }
}

// ---------------------------------------------------------------- part 1

/** The routine of part 1: opens, yields once, closes in its finally (which also yields once). */
function* guarded(ledger: Ledger): Generator<unknown, void, unknown> {
  ledger.opened++;
  try {
    yield;
  } finally {
    yield;
    ledger.closed++;
  }
}

function* callPlain(n: number, ledger: Ledger): CwRoutine<void> {
  for (let i = 0; i < n; i++) yield* guarded(ledger);
}

function* callShielded(cw: ClockworkApi, n: number, ledger: Ledger): CwRoutine<void> {
  const shield = cw.shield as NonNullable<ClockworkApi["shield"]>;
  for (let i = 0; i < n; i++) yield* shield(guarded(ledger));
}

const shieldCases: Case[] = [
  {
    name: "async/await",
    kind: "peer",
    how: "an async function with `await null` in its body and in its finally, awaited N times (nothing can cancel it)",
    async run(env) {
      const n = params(env).calls;
      const once = async (ledger: Ledger) => {
        ledger.opened++;
        try {
          await null;
        } finally {
          await null;
          ledger.closed++;
        }
      };
      const ms = await timeRun(async () => {
        const ledger = new Ledger();
        for (let i = 0; i < n; i++) await once(ledger);
        ledger.check(n);
        return undefined;
      }, timing(env));
      return { call: (ms * 1e6) / n };
    },
  },
  {
    name: "clockwork try/finally",
    kind: "clockwork",
    how: "one task doing `yield* guarded()` N times: a routine that yields in its body and in its finally",
    async run(cw, env) {
      const n = params(env).calls;
      const ms = await timeRun(() => {
        const ledger = new Ledger();
        const worker = new cw.Worker();
        worker.assign(callPlain(n, ledger));
        worker.work();
        ledger.check(n);
        return undefined;
      }, timing(env));
      return { call: (ms * 1e6) / n };
    },
  },
  {
    name: "clockwork shield",
    kind: "clockwork",
    how: "the same with `yield* shield(guarded())`: a cancel that came meanwhile would wait until it ends",
    async run(cw, env) {
      if (cw.shield === undefined) return { call: fail("no shield in this build") };
      const n = params(env).calls;
      const ms = await timeRun(() => {
        const ledger = new Ledger();
        const worker = new cw.Worker();
        worker.assign(callShielded(cw, n, ledger));
        worker.work();
        ledger.check(n);
        return undefined;
      }, timing(env));
      return { call: (ms * 1e6) / n };
    },
  },
];

// ---------------------------------------------------------------- part 2

/** Part 2, plain: each child opens the value, uses it, closes it in a finally. */
function* usePlain(ledger: Ledger, i: number): CwRoutine<number> {
  ledger.opened++;
  try {
    yield;
    return i;
  } finally {
    ledger.closed++;
  }
}

/** The ledger the resource rows count in (their body is made once, so it cannot close over one). */
let shared = new Ledger();

/** A resource routine made once: opens, provides, closes. */
function* openShared(provide: (value: number) => CwRoutine<void>): CwRoutine<void> {
  shared.opened++;
  try {
    yield* provide(1);
  } finally {
    shared.closed++;
  }
}

/** Part 2 with resource(): each child gets the value from a resource, closed once the child is done. */
function* useResource(cw: ClockworkApi, i: number): CwRoutine<number> {
  const resource = cw.resource as NonNullable<ClockworkApi["resource"]>;
  const value = yield* resource<number>(openShared);
  yield;
  return value * i;
}

/** The same with the resource routine written inline: a new generator function per use. */
function* useResourceInline(cw: ClockworkApi, i: number): CwRoutine<number> {
  const resource = cw.resource as NonNullable<ClockworkApi["resource"]>;
  const value = yield* resource<number>(function* open(provide) {
    shared.opened++;
    try {
      yield* provide(i);
    } finally {
      shared.closed++;
    }
  });
  yield;
  return value;
}

function* parent(
  cw: ClockworkApi,
  n: number,
  child: (i: number) => CwRoutine<number>,
): CwRoutine<number> {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += yield* cw.spawn(child(i)).join();
  return sum;
}

const resourceCases: Case[] = [
  {
    name: "async/await",
    kind: "peer",
    how: "an async function that opens the value, awaits once, returns it and closes it in a finally, awaited N times",
    async run(env) {
      const n = params(env).uses;
      const use = async (ledger: Ledger, i: number) => {
        ledger.opened++;
        try {
          await null;
          return i;
        } finally {
          ledger.closed++;
        }
      };
      const ms = await timeRun(async () => {
        const ledger = new Ledger();
        for (let i = 0; i < n; i++) await use(ledger, i);
        ledger.check(n);
        return undefined;
      }, timing(env));
      return { use: (ms * 1e6) / n };
    },
  },
  {
    name: "clockwork try/finally",
    kind: "clockwork",
    how: "a parent spawning and joining N children one at a time; each opens the value, yields once, closes it in a finally",
    async run(cw, env) {
      const n = params(env).uses;
      const ms = await timeRun(() => {
        const ledger = new Ledger();
        const worker = new cw.Worker();
        worker.assign(parent(cw, n, (i) => usePlain(ledger, i)));
        worker.work();
        ledger.check(n);
        return undefined;
      }, timing(env));
      return { use: (ms * 1e6) / n };
    },
  },
  {
    name: "clockwork resource()",
    kind: "clockwork",
    how: "the same children, each getting the value from `yield* resource(openShared)`: a task of its own that provides it and closes it in its finally once the child is done (the resource routine made once)",
    run: (cw, env) => resourceRow(cw, env, (i) => useResource(cw, i)),
  },
  {
    name: "clockwork resource() inline",
    kind: "clockwork",
    how: "the same with the resource routine written inline, `resource(function* (provide) {...})`: a new generator function per use, so a new prototype for its generators (V8 makes one per function object), which makes every call site that resumes them see a new shape",
    run: (cw, env) => resourceRow(cw, env, (i) => useResourceInline(cw, i)),
  },
];

async function resourceRow(
  cw: ClockworkApi,
  env: Env,
  child: (i: number) => CwRoutine<number>,
): Promise<{ use: number | { readonly error: string } }> {
  if (cw.resource === undefined) return { use: fail("no resource in this build") };
  const n = params(env).uses;
  const ms = await timeRun(() => {
    shared = new Ledger();
    const worker = new cw.Worker();
    worker.assign(parent(cw, n, child));
    worker.work();
    shared.check(n);
    return undefined;
  }, timing(env));
  return { use: (ms * 1e6) / n };
}

function ratioVerdict(
  figure: number | undefined,
  base: number | undefined,
  what: string,
  goal: number,
): Verdict {
  if (figure === undefined || base === undefined) {
    return { status: "n/a", detail: `${what}: a figure is missing` };
  }
  const ratio = figure / base;
  return {
    status: ratio <= goal ? "met" : "not met",
    detail: `${what} is ${fmtRatio(ratio)} the plain try/finally, ${(figure - base).toFixed(0)} ns more (goal <= ${goal}x)`,
  };
}

export const suite: Suite = {
  name: "lifetimes",
  description: "what shield() and resource() cost against a plain try/finally",
  tables(env) {
    const { calls, uses } = params(env);
    return [
      {
        title: "lifetimes: a shielded cleanup",
        params: `${fmtCount(calls)} calls of a routine that yields once in its body and once in its finally`,
        goal: "shield() at most 1.5x a plain call (ns/call)",
        baseline: "clockwork try/finally",
        metrics: [callMetric],
        cases: shieldCases,
        verdict: (get) =>
          ratioVerdict(
            get("clockwork shield", "call"),
            get("clockwork try/finally", "call"),
            "shield()",
            1.5,
          ),
      },
      {
        title: "lifetimes: a value opened and closed per use",
        params: `${fmtCount(uses)} child tasks, spawned and joined one at a time, each using one value`,
        goal: "resource() at most 3x a child that opens and closes the value itself (ns/use)",
        baseline: "clockwork try/finally",
        metrics: [useMetric],
        cases: resourceCases,
        verdict: (get) =>
          ratioVerdict(
            get("clockwork resource()", "use"),
            get("clockwork try/finally", "use"),
            "resource()",
            3,
          ),
      },
    ];
  },
};
