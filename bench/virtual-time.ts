// virtual-time: a simulated hour. N tasks each loop `sleep(1)` until the
// virtual clock reads 3,600 s, under a VirtualClock (idle time is skipped).
// Figure: simulated seconds per real second. No JS peer offers virtual time,
// so the reference is a hand-written discrete-event loop (a binary heap of
// {time, generator}) doing the same work.

import type { ClockworkApi, CwRoutine, CwVirtualClock } from "./clockwork.ts";
import {
  type Case,
  type Env,
  fmtCount,
  fmtNumber,
  fmtRatio,
  type Metric,
  type Suite,
  timeRun,
  timing,
} from "./harness.ts";

export function params(env: Env): { tasks: number; simSeconds: number } {
  return env.quick ? { tasks: 1_000, simSeconds: 360 } : { tasks: 1_000, simSeconds: 3_600 };
}

const metric: Metric = { key: "rate", label: "speed", unit: "sim s / real s", better: "higher" };

function rate(ms: number, env: Env): { rate: number } {
  return { rate: params(env).simSeconds / (ms / 1000) };
}

// ---------------------------------------------------------------------------
// The reference: a discrete-event loop over bare generators.

interface Event {
  time: number;
  seq: number;
  gen: Generator<number, void, unknown>;
}

/** A binary min-heap on (time, seq): equal times wake in the order they were set. */
class EventHeap {
  private readonly items: Event[] = [];

  get size(): number {
    return this.items.length;
  }

  push(e: Event): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent] as Event;
      if (!before(e, p)) break;
      a[i] = p;
      i = parent;
    }
    a[i] = e;
  }

  pop(): Event | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    let i = 0;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && before(a[r] as Event, a[l] as Event)) c = r;
      const child = a[c] as Event;
      if (!before(child, last)) break;
      a[i] = child;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

function before(x: Event, y: Event): boolean {
  return x.time < y.time || (x.time === y.time && x.seq < y.seq);
}

/** Runs `tasks` generators that each yield a delay of 1 until `end`; returns the wakes. */
function discreteEvents(tasks: number, end: number): number {
  let now = 0;
  let seq = 0;
  let wakes = 0;
  function* ticker(): Generator<number, void, unknown> {
    while (now < end) {
      yield 1;
      wakes++;
    }
  }
  const heap = new EventHeap();
  for (let i = 0; i < tasks; i++) heap.push({ time: 0, seq: seq++, gen: ticker() });
  for (let e = heap.pop(); e !== undefined; e = heap.pop()) {
    now = e.time;
    const r = e.gen.next();
    if (!r.done) {
      e.time = now + r.value;
      e.seq = seq++;
      heap.push(e);
    }
  }
  return wakes;
}

function checkWakes(wakes: number, env: Env): void {
  const { tasks, simSeconds } = params(env);
  if (wakes !== tasks * simSeconds) {
    throw new Error(`${fmtCount(wakes)} wakes, expected ${fmtCount(tasks * simSeconds)}`);
  }
}

export /** A worker on a VirtualClock with `tasks` tickers, for the clockwork rows. */
function tickers(cw: ClockworkApi, tasks: number, simSeconds: number) {
  const clock = new cw.VirtualClock();
  const w = new cw.Worker({ clock });
  const counter = { wakes: 0 };
  for (let i = 0; i < tasks; i++) w.assign(ticker(cw.sleep, clock, simSeconds, counter));
  return { w, counter };
}

const cases: Case[] = [
  {
    name: "reference (event loop)",
    kind: "limit",
    how: "hand-written discrete-event loop: binary heap of {time, generator}, each generator yields its delay (1)",
    async run(env) {
      const { tasks, simSeconds } = params(env);
      const ms = await timeRun(() => {
        checkWakes(discreteEvents(tasks, simSeconds), env);
        return undefined;
      }, timing(env));
      return rate(ms, env);
    },
  },
  {
    name: "clockwork work()",
    kind: "clockwork",
    how: "Worker on a VirtualClock, tasks loop `while (clock.now() < 3600) yield sleep(1)`; work() jumps the clock",
    async run(cw, env) {
      const { tasks, simSeconds } = params(env);
      const ms = await timeRun(() => {
        const { w, counter } = tickers(cw, tasks, simSeconds);
        w.work();
        checkWakes(counter.wakes, env);
        return undefined;
      }, timing(env));
      return rate(ms, env);
    },
  },
  {
    name: "clockwork run()",
    kind: "clockwork",
    how: "the same under `await worker.run()` (idle time skipped, event loop not blocked)",
    async run(cw, env) {
      const { tasks, simSeconds } = params(env);
      const ms = await timeRun(async () => {
        const { w, counter } = tickers(cw, tasks, simSeconds);
        await w.run();
        checkWakes(counter.wakes, env);
        return undefined;
      }, timing(env));
      return rate(ms, env);
    },
  },
];

function* ticker(
  sleep: (seconds: number) => CwRoutine,
  clock: CwVirtualClock,
  end: number,
  counter: { wakes: number },
): CwRoutine {
  while (clock.now() < end) {
    yield sleep(1);
    counter.wakes++;
  }
}

export const suite: Suite = {
  name: "virtual-time",
  description: "a simulated hour of 1 s tickers under a VirtualClock",
  tables(env) {
    const { tasks, simSeconds } = params(env);
    return [
      {
        title: "virtual-time: a simulated hour, fast",
        params: `${fmtCount(tasks)} tasks x sleep(1) until ${fmtCount(simSeconds)} simulated s = ${fmtCount(tasks * simSeconds)} wakes`,
        goal: "none set (no JS peer has virtual time); the reference is a bare event loop",
        baseline: "reference (event loop)",
        metrics: [metric],
        cases,
        verdict(get) {
          const work = get("clockwork work()", "rate");
          const ref = get("reference (event loop)", "rate");
          if (work === undefined || ref === undefined) {
            return { status: "n/a", detail: "clockwork or the reference has no figure" };
          }
          return {
            status: "n/a",
            detail: `clockwork work() simulates ${fmtNumber(work)} s per real s, ${fmtRatio(work / ref)} the bare event loop`,
          };
        },
      },
    ];
  },
};
