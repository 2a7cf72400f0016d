// select: choosing among channel operations. Part 1, the cost of choosing:
// one task takes N values from two buffered channels that were filled
// before the clock started, so every choice finds both ready and nothing
// else happens while it is timed: `yield* select([a.receive(),
// b.receive()])` against `yield* a.receive()` alone. Part 2, fan-in: 8
// producer tasks each send M values on their own channel (unbuffered, then
// buffered) and one consumer takes all 8 x M with a select over the 8
// channels, against 8 async functions feeding one shared async queue.
// Every run checks what the consumer got: each value exactly once, each
// source's values in the order they were sent.

import {
  createChannel,
  type Task as EffectionTask,
  run as effectionRun,
  spawn as effectionSpawn,
  type Operation,
} from "effection";
import csp, { type AltResult, type Channel as CspChannel } from "js-csp";
import { buffers, type Channel as SagaChannel, channel as sagaChannel } from "redux-saga";
import { call, fork, put, race, take } from "redux-saga/effects";
import type { ClockworkApi, CwChannel, CwRoutine, CwSelected, CwWorker } from "./clockwork.ts";
import {
  type Case,
  type Env,
  fail,
  fmtCount,
  fmtRatio,
  type Lookup,
  type Metric,
  type Suite,
  type TimingOptions,
  timeRun,
  timing,
  type Value,
  type Values,
  type Verdict,
} from "./harness.ts";
import { runSagaToEnd, takePromise } from "./peers.ts";

export function params(env: Env): {
  values: number;
  producers: number;
  perProducer: number;
  buffer: number;
} {
  return env.quick
    ? { values: 10_000, producers: 8, perProducer: 1_250, buffer: 16 }
    : { values: 100_000, producers: 8, perProducer: 12_500, buffer: 16 };
}

/** As in the channel suite: short runs whose first few are slow, so more runs in a smaller budget. */
function budget(env: Env, slow = false): TimingOptions {
  if (env.quick) return timing(env, slow);
  return { budgetMs: slow ? 3000 : 2000, minRuns: 3, maxRuns: 40 };
}

/** Resolved promise returned by sends that did not have to wait. */
const resolved: Promise<void> = Promise.resolve();

/** ns per value from the median ms of one run. */
function nsPer(ms: number, values: number): number {
  return (ms * 1e6) / values;
}

/** Times `body` alone (set-up and checks before and after it are not counted); ms. */
function timed(body: () => void): number {
  const start = performance.now();
  body();
  return performance.now() - start;
}

async function timedAsync(body: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await body();
  return performance.now() - start;
}

/**
 * What a consumer got, checked as it goes: source `s` sends s * per, s *
 * per + 1, ... s * per + per - 1 in that order, so each value must be the
 * next one of the source it came through (which also catches a value
 * reported under the wrong case). A miss is counted, not thrown, so that
 * a broken case fails its run with the first miss described.
 */
class Tally {
  readonly per: number;
  /** The next value expected from each source, as an offset from s * per. */
  readonly next: number[];
  bad = 0;
  first = "";

  constructor(sources: number, per: number) {
    this.per = per;
    this.next = new Array<number>(sources).fill(0);
  }

  take(source: number, value: number): void {
    const next = this.next[source];
    if (next !== undefined && next < this.per && value === source * this.per + next) {
      this.next[source] = next + 1;
    } else if (this.bad++ === 0) {
      this.first = `got ${String(value)} from source ${source}, expected ${
        next === undefined || next >= this.per ? "nothing" : source * this.per + next
      }`;
    }
  }

  /** Part 1: exactly `total` values came, each source's a prefix of what it holds, in order. */
  checkTotal(total: number): void {
    const got = this.next.reduce((a, b) => a + b, 0);
    if (this.bad > 0 || got !== total) {
      throw new Error(
        `${got} of ${total} values in order, ${this.bad} wrong (first: ${this.first})`,
      );
    }
  }

  /** Part 2: every value of every source came, once, in order. */
  checkAll(): void {
    const short = this.next.findIndex((n) => n !== this.per);
    if (this.bad > 0 || short >= 0) {
      throw new Error(
        `per source ${this.next.join(", ")} of ${this.per} in order, ${this.bad} wrong (first: ${this.first || "none"})`,
      );
    }
  }
}

/** The tally's source of a value when the receive does not say: s * per + k came from s. */
function sourceOf(value: number, per: number): number {
  return Math.floor(value / per);
}

/** xorshift32, as clockwork's worker uses for its random first case. */
function xorshift(x: number): number {
  let y = x ^ (x << 13);
  y ^= y >>> 17;
  y ^= y << 5;
  return y;
}

/** A first-in first-out queue: an array and a head index (no O(n) shift). */
class Fifo<T> {
  items: (T | undefined)[] = [];
  head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    }
    return item;
  }
}

// ---------------------------------------------------------------------------
// The async/await peers

/**
 * The lean async/await channel: a buffer of `capacity` values (0: a send
 * waits until a receiver has the value), a FIFO of waiting receivers
 * (their resolve functions) and one of waiting senders. A receive that
 * frees a slot moves the oldest waiting sender's value in, so values come
 * out in the order they were sent.
 */
class AsyncQueue<T> {
  readonly capacity: number;
  readonly values = new Fifo<T>();
  readonly receivers = new Fifo<(value: T) => void>();
  readonly senders = new Fifo<{ value: T; resolve: () => void }>();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  send(value: T): Promise<void> {
    const receive = this.receivers.shift();
    if (receive !== undefined) {
      receive(value);
      return resolved;
    }
    if (this.values.size < this.capacity) {
      this.values.push(value);
      return resolved;
    }
    return new Promise((resolve) => this.senders.push({ value, resolve }));
  }

  receive(): Promise<T> {
    if (this.values.size > 0) {
      const value = this.values.shift() as T;
      const send = this.senders.shift();
      if (send !== undefined) {
        this.values.push(send.value);
        send.resolve();
      }
      return Promise.resolve(value);
    }
    const send = this.senders.shift();
    if (send !== undefined) {
      send.resolve();
      return Promise.resolve(send.value);
    }
    return new Promise((resolve) => this.receivers.push(resolve));
  }
}

/** One call of selectAsync() while it waits: parked in several queues, served by the first. */
interface Chooser<T> {
  done: boolean;
  resolve(selected: CwSelected<T>): void;
}

/** A chooser's place in one queue's receivers, with the index of that queue among its cases. */
interface Seat<T> {
  readonly chooser: Chooser<T>;
  readonly index: number;
}

/** Nothing to take now. */
const EMPTY: unique symbol = Symbol("empty");

/**
 * The async/await channel a select can wait on: the same as AsyncQueue,
 * but a waiting receiver is a seat of a chooser that may sit in several
 * queues; the first send to reach a live seat marks the chooser done, and
 * its seats in the other queues are skipped when reached (so no value is
 * ever handed to a select that has already been served, and none is lost).
 */
class SelectableQueue<T> {
  readonly capacity: number;
  readonly values = new Fifo<T>();
  readonly receivers = new Fifo<Seat<T>>();
  readonly senders = new Fifo<{ value: T; resolve: () => void }>();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  send(value: T): Promise<void> {
    for (let seat = this.receivers.shift(); seat !== undefined; seat = this.receivers.shift()) {
      if (!seat.chooser.done) {
        seat.chooser.done = true;
        seat.chooser.resolve({ index: seat.index, value });
        return resolved;
      }
    }
    if (this.values.size < this.capacity) {
      this.values.push(value);
      return resolved;
    }
    return new Promise((resolve) => this.senders.push({ value, resolve }));
  }

  /** The oldest value now (a waiting sender's send then completes), or EMPTY. */
  take(): T | typeof EMPTY {
    if (this.values.size > 0) {
      const value = this.values.shift() as T;
      const send = this.senders.shift();
      if (send !== undefined) {
        this.values.push(send.value);
        send.resolve();
      }
      return value;
    }
    const send = this.senders.shift();
    if (send !== undefined) {
      send.resolve();
      return send.value;
    }
    return EMPTY;
  }
}

let asyncSeed = 0x2545f491;

/**
 * A select over async queues, written as lean as it can be without losing
 * values: takes from the first ready queue starting at a random one;
 * otherwise waits in every queue at once and is served by the first send.
 */
function selectAsync<T>(queues: readonly SelectableQueue<T>[]): Promise<CwSelected<T>> {
  const n = queues.length;
  asyncSeed = xorshift(asyncSeed);
  const start = (asyncSeed >>> 0) % n;
  for (let k = 0; k < n; k++) {
    const index = (start + k) % n;
    const value = (queues[index] as SelectableQueue<T>).take();
    if (value !== EMPTY) return Promise.resolve({ index, value });
  }
  return new Promise((resolve) => {
    const chooser: Chooser<T> = { done: false, resolve };
    for (let index = 0; index < n; index++) {
      (queues[index] as SelectableQueue<T>).receivers.push({ chooser, index });
    }
  });
}

// ---------------------------------------------------------------------------
// Part 1: the cost of choosing

const valueMetric: Metric = { key: "value", label: "per value", unit: "ns/value", better: "lower" };

/** The ns per received value of the median run. */
function perValue(ms: number, env: Env): { value: number } {
  return { value: nsPer(ms, params(env).values) };
}

/** Fills a channel with source `s`'s n values through `send` (which must not refuse one). */
function fill(source: number, n: number, send: (value: number) => boolean): void {
  for (let i = 0; i < n; i++) {
    if (!send(source * n + i)) throw new Error(`channel ${source} refused its value ${i}`);
  }
}

// The limit: a bare generator consumer resumed by a loop with a value from
// one of two pre-filled arrays, picked at random: the choice with no
// scheduler and no channel.

function* limitConsumer(n: number, tally: Tally): Generator<void, void, number> {
  for (let i = 0; i < n; i++) {
    const value = yield;
    tally.take(sourceOf(value, n), value);
  }
}

function limitChoice(n: number, tally: Tally, a: number[], b: number[]): void {
  const consumer = limitConsumer(n, tally);
  consumer.next();
  let seed = 0x2545f491;
  let headA = 0;
  let headB = 0;
  for (let i = 0; i < n; i++) {
    seed = xorshift(seed);
    const value = (seed & 1) === 0 ? a[headA++] : b[headB++];
    consumer.next(value as number);
  }
}

async function asyncReceiver(q: AsyncQueue<number>, n: number, tally: Tally): Promise<void> {
  for (let i = 0; i < n; i++) tally.take(0, await q.receive());
}

async function asyncChooser(
  qs: readonly SelectableQueue<number>[],
  n: number,
  tally: Tally,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    const got = await selectAsync(qs);
    tally.take(got.index, got.value);
  }
}

function* sagaReceiver(
  a: SagaChannel<number>,
  n: number,
  tally: Tally,
): Generator<unknown, void, unknown> {
  for (let i = 0; i < n; i++) tally.take(0, (yield take(a)) as number);
}

/** The index of the one case a redux-saga race over an array gives a value for. */
function winnerOf(won: readonly unknown[]): number {
  let k = 0;
  while (k < won.length && won[k] === undefined) k++;
  return k;
}

function* sagaChooser(
  a: SagaChannel<number>,
  b: SagaChannel<number>,
  n: number,
  tally: Tally,
): Generator<unknown, void, unknown> {
  for (let i = 0; i < n; i++) {
    const won = (yield race([take(a), take(b)])) as (number | undefined)[];
    const k = winnerOf(won);
    tally.take(k, won[k] as number);
  }
}

function* cspReceiver(a: CspChannel, n: number, tally: Tally): Generator<unknown, number, unknown> {
  for (let i = 0; i < n; i++) tally.take(0, (yield csp.take(a)) as number);
  return 0; // a go block's result is put on its channel: not undefined
}

function* cspChooser(
  a: CspChannel,
  b: CspChannel,
  n: number,
  tally: Tally,
): Generator<unknown, number, unknown> {
  const both = [a, b];
  for (let i = 0; i < n; i++) {
    const got = (yield csp.alts(both)) as AltResult;
    tally.take(got.channel === a ? 0 : 1, got.value as number);
  }
  return 0;
}

function* cwReceiver(a: CwChannel<number>, n: number, tally: Tally): CwRoutine {
  for (let i = 0; i < n; i++) tally.take(0, yield* a.receive());
}

type Select = NonNullable<ClockworkApi["select"]>;
type TrySelect = NonNullable<ClockworkApi["trySelect"]>;
type Race = NonNullable<ClockworkApi["race"]>;

function* cwChooser(
  select: Select,
  a: CwChannel<number>,
  b: CwChannel<number>,
  n: number,
  tally: Tally,
): CwRoutine {
  for (let i = 0; i < n; i++) {
    const got = yield* select([a.receive(), b.receive()]);
    tally.take(got.index, got.value);
  }
}

function* cwRacer(
  raceOf: Race,
  a: CwChannel<number>,
  b: CwChannel<number>,
  n: number,
  tally: Tally,
): CwRoutine {
  for (let i = 0; i < n; i++) {
    const value = yield* raceOf([a.receive(), b.receive()]);
    tally.take(sourceOf(value, n), value);
  }
}

function* cwTryChooser(
  trySelect: TrySelect,
  select: Select,
  a: CwChannel<number>,
  b: CwChannel<number>,
  n: number,
  tally: Tally,
): CwRoutine {
  for (let i = 0; i < n; i++) {
    const got =
      trySelect([a.receive(), b.receive()]) ?? (yield* select([a.receive(), b.receive()]));
    tally.take(got.index, got.value);
  }
}

/** The exported function `name` of the build, or a failure that says it is missing. */
function need<K extends "select" | "trySelect" | "race">(
  cw: ClockworkApi,
  name: K,
): NonNullable<ClockworkApi[K]> {
  const f = cw[name];
  if (typeof f !== "function") throw new Error(`dist/index.js does not export ${name}`);
  return f as NonNullable<ClockworkApi[K]>;
}

/**
 * Times one clockwork consumer taking n values from two channels of
 * capacity n, each filled with its n values before the clock starts; only
 * work() is timed (the consumer never waits, so it is one step).
 */
async function timeCwChoice(
  cw: ClockworkApi,
  env: Env,
  consumer: (a: CwChannel<number>, b: CwChannel<number>, n: number, t: Tally) => CwRoutine,
): Promise<Values> {
  const n = params(env).values;
  const ms = await timeRun(() => {
    const a = new cw.Channel<number>(n);
    const b = new cw.Channel<number>(n);
    fill(0, n, (v) => a.trySend(v));
    fill(1, n, (v) => b.trySend(v));
    const tally = new Tally(2, n);
    const worker = new cw.Worker();
    worker.assign(consumer(a, b, n, tally));
    const ms = timed(() => worker.work());
    tally.checkTotal(n);
    return ms;
  }, budget(env));
  return perValue(ms, env);
}

export const choiceCases: Case[] = [
  {
    name: "limit (bare generators)",
    kind: "limit",
    how: "a bare generator consumer; a loop resumes it with the next value of one of two pre-filled arrays, picked by xorshift: the choice with no scheduler and no channel",
    async run(env) {
      const n = params(env).values;
      const ms = await timeRun(() => {
        const a = Array.from({ length: n }, (_, i) => i);
        const b = Array.from({ length: n }, (_, i) => n + i);
        const tally = new Tally(2, n);
        const ms = timed(() => limitChoice(n, tally, a, b));
        tally.checkTotal(n);
        return ms;
      }, budget(env));
      return perValue(ms, env);
    },
  },
  {
    name: "async/await receive",
    kind: "baseline",
    how: "one hand-written async queue (a buffer, and FIFOs of waiting receivers and senders like the channel suite's) filled first; an async function doing `await q.receive()` on it: the plain receive in async/await",
    async run(env) {
      const n = params(env).values;
      const ms = await timeRun(async () => {
        const q = new AsyncQueue<number>(n);
        fill(0, n, (v) => {
          q.values.push(v);
          return true;
        });
        const tally = new Tally(2, n);
        const ms = await timedAsync(() => asyncReceiver(q, n, tally));
        tally.checkTotal(n);
        return ms;
      }, budget(env));
      return perValue(ms, env);
    },
  },
  {
    name: "async/await select",
    kind: "peer",
    how: "two hand-written async queues filled first; `await selectAsync([a, b])`, a select on promises that loses nothing: it takes from the first ready queue starting at a random one, else waits in both and the first send serves it (the other seat is skipped). Promise.race over two receives would lose the loser's value",
    async run(env) {
      const n = params(env).values;
      const ms = await timeRun(async () => {
        const a = new SelectableQueue<number>(n);
        const b = new SelectableQueue<number>(n);
        fill(0, n, (v) => {
          a.values.push(v);
          return true;
        });
        fill(1, n, (v) => {
          b.values.push(v);
          return true;
        });
        const tally = new Tally(2, n);
        const ms = await timedAsync(() => asyncChooser([a, b], n, tally));
        tally.checkTotal(n);
        return ms;
      }, budget(env));
      return perValue(ms, env);
    },
  },
  {
    name: "redux-saga take",
    kind: "peer",
    how: "one channel(buffers.fixed(N)) filled first with put(); a saga doing `yield take(a)`",
    async run(env) {
      const n = params(env).values;
      const ms = await timeRun(
        async () => {
          const a = sagaChannel<number>(buffers.fixed<number>(n));
          fill(0, n, (v) => {
            a.put(v);
            return true;
          });
          const tally = new Tally(2, n);
          const ms = await timedAsync(() => runSagaToEnd(sagaReceiver, a, n, tally));
          tally.checkTotal(n);
          return ms;
        },
        budget(env, true),
      );
      return perValue(ms, env);
    },
  },
  {
    name: "redux-saga race",
    kind: "peer",
    how: "two channel(buffers.fixed(N)) filled first; `yield race([take(a), take(b)])` (it loses nothing: once a take is served the race stops starting the others). Not a random choice: the first ready case in order wins, so every value here comes from a",
    async run(env) {
      const n = params(env).values;
      const ms = await timeRun(
        async () => {
          const a = sagaChannel<number>(buffers.fixed<number>(n));
          const b = sagaChannel<number>(buffers.fixed<number>(n));
          fill(0, n, (v) => {
            a.put(v);
            return true;
          });
          fill(1, n, (v) => {
            b.put(v);
            return true;
          });
          const tally = new Tally(2, n);
          const ms = await timedAsync(() => runSagaToEnd(sagaChooser, a, b, n, tally));
          tally.checkTotal(n);
          return ms;
        },
        budget(env, true),
      );
      return perValue(ms, env);
    },
  },
  {
    name: "js-csp take",
    kind: "peer",
    how: "one chan(N) filled first with offer(); a go block doing `yield take(a)` (js-csp resumes a go block through setImmediate, even when the value was there)",
    async run(env) {
      const n = params(env).values;
      const ms = await timeRun(
        async () => {
          const a = csp.chan(n);
          fill(0, n, (v) => csp.offer(a, v));
          const tally = new Tally(2, n);
          const ms = await timedAsync(() => takePromise(csp.go(cspReceiver, [a, n, tally])));
          tally.checkTotal(n);
          return ms;
        },
        budget(env, true),
      );
      return perValue(ms, env);
    },
  },
  {
    name: "js-csp alts",
    kind: "peer",
    how: "two chan(N) filled first; `yield alts([a, b])` (tries the channels in a random order, shuffled per call)",
    async run(env) {
      const n = params(env).values;
      const ms = await timeRun(
        async () => {
          const a = csp.chan(n);
          const b = csp.chan(n);
          fill(0, n, (v) => csp.offer(a, v));
          fill(1, n, (v) => csp.offer(b, v));
          const tally = new Tally(2, n);
          const ms = await timedAsync(() => takePromise(csp.go(cspChooser, [a, b, n, tally])));
          tally.checkTotal(n);
          return ms;
        },
        budget(env, true),
      );
      return perValue(ms, env);
    },
  },
  {
    name: "Effection 4",
    kind: "peer",
    how: "skipped: Effection 4 has no select, and `race([subA.next(), subB.next()])` loses values: it starts both next()s, and when both subscriptions hold a message both take one and the loser's is dropped (checked: 5 races over two subscriptions holding 5 messages each got 5 and lost the other 5)",
    async run() {
      return { value: fail("loses values") };
    },
  },
  {
    name: "clockwork receive",
    kind: "clockwork",
    how: "new Worker(); two `new Channel(N)` filled first with trySend(); one task doing `yield* a.receive()`; work() timed alone",
    async run(cw, env) {
      return timeCwChoice(cw, env, (a, _b, n, tally) => cwReceiver(a, n, tally));
    },
  },
  {
    name: "clockwork select",
    kind: "clockwork",
    how: "the same task doing `const got = yield* select([a.receive(), b.receive()])` (a random first case among the ready ones: about half the values come from each)",
    async run(cw, env) {
      const select = need(cw, "select");
      return timeCwChoice(cw, env, (a, b, n, tally) => cwChooser(select, a, b, n, tally));
    },
  },
  {
    name: "clockwork race",
    kind: "clockwork",
    how: "`yield* race([a.receive(), b.receive()])`: over operations alone a race is a select giving only the value (the source is read off the value)",
    async run(cw, env) {
      const raceOf = need(cw, "race");
      return timeCwChoice(cw, env, (a, b, n, tally) => cwRacer(raceOf, a, b, n, tally));
    },
  },
  {
    name: "clockwork trySelect",
    kind: "clockwork",
    how: "`trySelect([a.receive(), b.receive()]) ?? (yield* select([...]))`: the select that never waits, with the waiting one as fallback (never taken here)",
    async run(cw, env) {
      const trySelect = need(cw, "trySelect");
      const select = need(cw, "select");
      return timeCwChoice(cw, env, (a, b, n, tally) =>
        cwTryChooser(trySelect, select, a, b, n, tally),
      );
    },
  },
];

/** The goal for part 1: choosing between two ready channels costs at most this many receives. */
const choiceGoal = 3;

function choiceVerdict(get: Lookup): Verdict {
  const receive = get("clockwork receive", "value");
  const chosen = get("clockwork select", "value");
  if (receive === undefined || chosen === undefined) {
    return { status: "n/a", detail: "clockwork receive or select has no figure" };
  }
  const r = chosen / receive;
  const own = (name: string, choose: string, plain: string): string => {
    const c = get(choose, "value");
    const p = get(plain, "value");
    return c === undefined || p === undefined ? `${name} n/a` : `${name} ${fmtRatio(c / p)}`;
  };
  const peers = [
    own("async/await", "async/await select", "async/await receive"),
    own("js-csp", "js-csp alts", "js-csp take"),
    own("redux-saga", "redux-saga race", "redux-saga take"),
  ].join(", ");
  const onPromises = get("async/await select", "value");
  const against =
    onPromises === undefined ? "" : `; ${fmtRatio(chosen / onPromises)} the async/await select`;
  return {
    status: r <= choiceGoal ? "met" : "not met",
    detail: `select costs ${fmtRatio(r)} a receive, ${(chosen - receive).toFixed(0)} ns more a value (goal <= ${choiceGoal}x)${against}; the same ratio in the peers (choice / their plain receive): ${peers}`,
  };
}

// ---------------------------------------------------------------------------
// Part 2: fan-in of 8 producers

const unbufferedMetric: Metric = {
  key: "unbuffered",
  label: "unbuffered",
  unit: "ns/value",
  better: "lower",
};

function bufferedMetric(env: Env): Metric {
  return {
    key: "buffered",
    label: `buffered ${params(env).buffer}`,
    unit: "ns/value",
    better: "lower",
  };
}

/** The two columns of one fan-in: `measure(capacity)` is ms, for capacity 0 and `buffer` per producer. */
async function bothColumns(
  env: Env,
  measure: (capacity: number) => Promise<number>,
): Promise<Values> {
  const { producers, perProducer, buffer } = params(env);
  const total = producers * perProducer;
  return {
    unbuffered: nsPer(await measure(0), total),
    buffered: nsPer(await measure(buffer), total),
  };
}

// The limit: 8 bare generator producers and a bare generator consumer; a
// loop takes the next value from a producer picked at random among those
// not done and resumes the consumer with it.

function* limitProducer(p: number, m: number): Generator<number, void, unknown> {
  for (let i = 0; i < m; i++) yield p * m + i;
}

function* limitFanInConsumer(m: number, tally: Tally): Generator<void, void, number> {
  for (;;) {
    const value = yield;
    tally.take(sourceOf(value, m), value);
  }
}

function limitFanIn(producers: number, m: number, tally: Tally): void {
  const live: Generator<number, void, unknown>[] = [];
  for (let p = 0; p < producers; p++) live.push(limitProducer(p, m));
  const consumer = limitFanInConsumer(m, tally);
  consumer.next();
  let seed = 0x2545f491;
  while (live.length > 0) {
    seed = xorshift(seed);
    const k = (seed >>> 0) % live.length;
    const producer = live[k] as Generator<number, void, unknown>;
    const r = producer.next();
    if (r.done === true) {
      live[k] = live[live.length - 1] as Generator<number, void, unknown>;
      live.pop();
    } else {
      consumer.next(r.value);
    }
  }
}

async function asyncProducer(
  q: { send(value: number): Promise<void> },
  p: number,
  m: number,
): Promise<void> {
  for (let i = 0; i < m; i++) await q.send(p * m + i);
}

async function asyncSharedFanIn(env: Env, capacity: number): Promise<number> {
  const { producers, perProducer: m } = params(env);
  const q = new AsyncQueue<number>(capacity * producers);
  const tally = new Tally(producers, m);
  const ms = await timedAsync(async () => {
    const all: Promise<void>[] = [];
    for (let p = 0; p < producers; p++) all.push(asyncProducer(q, p, m));
    for (let n = producers * m; n > 0; n--) {
      const value = await q.receive();
      tally.take(sourceOf(value, m), value);
    }
    await Promise.all(all);
  });
  tally.checkAll();
  return ms;
}

async function asyncSelectFanIn(env: Env, capacity: number): Promise<number> {
  const { producers, perProducer: m } = params(env);
  const qs: SelectableQueue<number>[] = [];
  for (let p = 0; p < producers; p++) qs.push(new SelectableQueue<number>(capacity));
  const tally = new Tally(producers, m);
  const ms = await timedAsync(async () => {
    const all: Promise<void>[] = [];
    for (let p = 0; p < producers; p++)
      all.push(asyncProducer(qs[p] as SelectableQueue<number>, p, m));
    for (let n = producers * m; n > 0; n--) {
      const got = await selectAsync(qs);
      tally.take(got.index, got.value);
    }
    await Promise.all(all);
  });
  tally.checkAll();
  return ms;
}

function* sagaProducer(
  ch: SagaChannel<number>,
  p: number,
  m: number,
): Generator<unknown, void, unknown> {
  for (let i = 0; i < m; i++) yield put(ch, p * m + i);
}

function* sagaRaceConsumer(
  chans: readonly SagaChannel<number>[],
  m: number,
  tally: Tally,
): Generator<unknown, void, unknown> {
  for (let n = chans.length * m; n > 0; n--) {
    const won = (yield race(chans.map((ch) => take(ch)))) as (number | undefined)[];
    const k = winnerOf(won);
    tally.take(k, won[k] as number);
  }
}

/** A redux-saga fan-in, timed and checked: only the buffered column (redux-saga has no unbuffered channel). */
async function sagaFanIn(
  env: Env,
  saga: typeof sagaRaceFanIn,
): Promise<{ unbuffered: Value; buffered: Value }> {
  const { producers, perProducer: m, buffer } = params(env);
  const ms = await timeRun(
    async () => {
      const tally = new Tally(producers, m);
      const ms = await timedAsync(() => runSagaToEnd(saga, producers, m, buffer, tally));
      tally.checkAll();
      return ms;
    },
    budget(env, true),
  );
  return { unbuffered: fail("no unbuffered channel"), buffered: nsPer(ms, producers * m) };
}

function* sagaRaceFanIn(
  producers: number,
  m: number,
  buffer: number,
  tally: Tally,
): Generator<unknown, void, unknown> {
  const chans: SagaChannel<number>[] = [];
  for (let p = 0; p < producers; p++) chans.push(sagaChannel(buffers.expanding<number>(buffer)));
  for (let p = 0; p < producers; p++)
    yield fork(sagaProducer, chans[p] as SagaChannel<number>, p, m);
  yield call(sagaRaceConsumer, chans, m, tally);
}

function* sagaSharedFanIn(
  producers: number,
  m: number,
  buffer: number,
  tally: Tally,
): Generator<unknown, void, unknown> {
  const ch = sagaChannel(buffers.expanding<number>(buffer * producers));
  for (let p = 0; p < producers; p++) yield fork(sagaProducer, ch, p, m);
  for (let n = producers * m; n > 0; n--) {
    const value = (yield take(ch)) as number;
    tally.take(sourceOf(value, m), value);
  }
}

function* cspProducer(ch: CspChannel, p: number, m: number): Generator<unknown, number, unknown> {
  for (let i = 0; i < m; i++) yield csp.put(ch, p * m + i);
  return 0;
}

function* cspAltsConsumer(
  chans: readonly CspChannel[],
  m: number,
  tally: Tally,
): Generator<unknown, number, unknown> {
  for (let n = chans.length * m; n > 0; n--) {
    const got = (yield csp.alts(chans)) as AltResult;
    tally.take(chans.indexOf(got.channel), got.value as number);
  }
  return 0;
}

async function cspFanIn(env: Env, capacity: number): Promise<number> {
  const { producers, perProducer: m } = params(env);
  const chans: CspChannel[] = [];
  for (let p = 0; p < producers; p++) chans.push(capacity === 0 ? csp.chan() : csp.chan(capacity));
  const tally = new Tally(producers, m);
  const ms = await timedAsync(async () => {
    const done = chans.map((ch, p) => takePromise(csp.go(cspProducer, [ch, p, m])));
    await takePromise(csp.go(cspAltsConsumer, [chans, m, tally]));
    await Promise.all(done);
  });
  tally.checkAll();
  return ms;
}

function* effectionSharedFanIn(producers: number, m: number, tally: Tally): Operation<void> {
  const ch = createChannel<number>();
  // A message sent while nobody is subscribed is dropped: subscribe first.
  const sub = yield* ch;
  const tasks: EffectionTask<void>[] = [];
  for (let p = 0; p < producers; p++) {
    tasks.push(
      yield* effectionSpawn(function* () {
        for (let i = 0; i < m; i++) yield* ch.send(p * m + i);
      }),
    );
  }
  for (let n = producers * m; n > 0; n--) {
    const next = yield* sub.next();
    if (next.done === true) throw new Error("the channel closed early");
    tally.take(sourceOf(next.value, m), next.value);
  }
  for (const t of tasks) yield* t;
}

function* cwProducer(ch: CwChannel<number>, p: number, m: number): CwRoutine {
  for (let i = 0; i < m; i++) yield* ch.send(p * m + i);
}

function* cwSelectConsumer(
  select: Select,
  chans: readonly CwChannel<number>[],
  m: number,
  tally: Tally,
): CwRoutine {
  for (let n = chans.length * m; n > 0; n--) {
    const got = yield* select(chans.map((ch) => ch.receive()));
    tally.take(got.index, got.value);
  }
}

function* cwSharedConsumer(
  ch: CwChannel<number>,
  total: number,
  m: number,
  tally: Tally,
): CwRoutine {
  for (let n = total; n > 0; n--) {
    const value = yield* ch.receive();
    tally.take(sourceOf(value, m), value);
  }
}

/** A fresh worker with the consumer and the 8 producers assigned, each on its own channel. */
function cwSelectFanIn(cw: ClockworkApi, env: Env, capacity: number) {
  const select = need(cw, "select");
  const { producers, perProducer: m } = params(env);
  const worker = new cw.Worker();
  const chans: CwChannel<number>[] = [];
  for (let p = 0; p < producers; p++) chans.push(new cw.Channel<number>(capacity));
  const tally = new Tally(producers, m);
  worker.assign(cwSelectConsumer(select, chans, m, tally), { name: "consumer" });
  for (let p = 0; p < producers; p++) {
    worker.assign(cwProducer(chans[p] as CwChannel<number>, p, m), { name: `producer ${p}` });
  }
  return { worker, tally };
}

/** Times work() (or run()) of a fan-in; checks it afterwards. */
async function timeCwFanIn(
  make: () => { worker: CwWorker; tally: Tally },
  drive: "work" | "run",
): Promise<number> {
  const { worker, tally } = make();
  const ms = drive === "work" ? timed(() => worker.work()) : await timedAsync(() => worker.run());
  tally.checkAll();
  return ms;
}

export const fanInCases: Case[] = [
  {
    name: "limit (bare generators)",
    kind: "limit",
    how: "8 bare generator producers and a bare generator consumer; a loop resumes a producer picked by xorshift among those not done and hands its value to the consumer: no scheduler, no channel (the same code, measured for each column)",
    async run(env) {
      const { producers, perProducer: m } = params(env);
      return bothColumns(env, () =>
        timeRun(() => {
          const tally = new Tally(producers, m);
          const ms = timed(() => limitFanIn(producers, m, tally));
          tally.checkAll();
          return ms;
        }, budget(env)),
      );
    },
  },
  {
    name: "async/await queue",
    kind: "baseline",
    how: "fan-in the way it is written with promises: 8 async functions doing `await q.send(v)` into ONE shared hand-written async queue (unbuffered, or a buffer of 8 x 16), one async loop doing `await q.receive()`; all started, then Promise.all",
    async run(env) {
      return bothColumns(env, (capacity) =>
        timeRun(() => asyncSharedFanIn(env, capacity), budget(env)),
      );
    },
  },
  {
    name: "async/await select",
    kind: "peer",
    how: "the same producers each on their own async queue (unbuffered, or 16), the consumer doing `await selectAsync(queues)` (the select on promises of part 1)",
    async run(env) {
      return bothColumns(env, (capacity) =>
        timeRun(() => asyncSelectFanIn(env, capacity), budget(env)),
      );
    },
  },
  {
    name: "redux-saga race",
    kind: "peer",
    how: "8 forked sagas doing `yield put(ch, v)`, each on its own channel(buffers.expanding(16)); the consumer `yield race(chans.map((ch) => take(ch)))`. redux-saga has no unbuffered channel and a put never waits (a fixed buffer throws when full), so only the buffered column, and its buffers grow as they need",
    run: (env) => sagaFanIn(env, sagaRaceFanIn),
  },
  {
    name: "redux-saga channel",
    kind: "peer",
    how: "the same 8 sagas putting into ONE shared channel(buffers.expanding(8 x 16)), the consumer doing `yield take(ch)`: the redux-saga idiom for fan-in",
    run: (env) => sagaFanIn(env, sagaSharedFanIn),
  },
  {
    name: "js-csp alts",
    kind: "peer",
    how: "8 go blocks doing `yield put(ch, v)`, each on its own chan() (unbuffered) or chan(16); the consumer `yield alts(chans)`, the case found with chans.indexOf(result.channel)",
    async run(env) {
      return bothColumns(env, (capacity) =>
        timeRun(() => cspFanIn(env, capacity), budget(env, true)),
      );
    },
  },
  {
    name: "Effection 4",
    kind: "peer",
    how: "8 spawned operations doing `yield* ch.send(v)` into ONE createChannel() the parent subscribed to first, which loops on `yield* sub.next()`. Its sends never wait (a subscription's queue is unbounded), so only the buffered column; a select over 8 channels has no equivalent (race() over subscriptions' next() loses values, see part 1)",
    async run(env) {
      const { producers, perProducer: m } = params(env);
      const ms = await timeRun(
        async () => {
          const tally = new Tally(producers, m);
          const ms = await timedAsync(() =>
            effectionRun(() => effectionSharedFanIn(producers, m, tally)),
          );
          tally.checkAll();
          return ms;
        },
        budget(env, true),
      );
      return {
        unbuffered: fail("no unbuffered channel"),
        buffered: nsPer(ms, producers * m),
      };
    },
  },
  {
    name: "clockwork select work()",
    kind: "clockwork",
    how: "new Worker(); 8 `new Channel()` (or `new Channel(16)`); a consumer task doing `const got = yield* select(chans.map((ch) => ch.receive()))`, 8 producer tasks doing `yield* ch.send(v)`; work()",
    async run(cw, env) {
      return bothColumns(env, (capacity) =>
        timeRun(() => timeCwFanIn(() => cwSelectFanIn(cw, env, capacity), "work"), budget(env)),
      );
    },
  },
  {
    name: "clockwork select run()",
    kind: "clockwork",
    how: "the same driven by `await worker.run()` (steps in ~1 ms slices, letting the event loop in between)",
    async run(cw, env) {
      return bothColumns(env, (capacity) =>
        timeRun(() => timeCwFanIn(() => cwSelectFanIn(cw, env, capacity), "run"), budget(env)),
      );
    },
  },
  {
    name: "clockwork channel",
    kind: "clockwork",
    how: "no select, for comparison: the 8 producers send on ONE shared `new Channel()` (or `new Channel(8 x 16)`), the consumer does `yield* ch.receive()`; work()",
    async run(cw, env) {
      const { producers, perProducer: m } = params(env);
      return bothColumns(env, (capacity) =>
        timeRun(
          () =>
            timeCwFanIn(() => {
              const worker = new cw.Worker();
              const ch = new cw.Channel<number>(capacity * producers);
              const tally = new Tally(producers, m);
              worker.assign(cwSharedConsumer(ch, producers * m, m, tally), { name: "consumer" });
              for (let p = 0; p < producers; p++) worker.assign(cwProducer(ch, p, m));
              return { worker, tally };
            }, "work"),
          budget(env),
        ),
      );
    },
  },
];

const clockworkFanInRows = ["clockwork select work()", "clockwork select run()"];

function fanInVerdict(get: Lookup): Verdict {
  const figures: { what: string; value: number; base: number }[] = [];
  for (const key of ["unbuffered", "buffered"]) {
    const base = get("async/await queue", key);
    if (base === undefined) continue;
    for (const name of clockworkFanInRows) {
      const value = get(name, key);
      if (value !== undefined) figures.push({ what: `${name} ${key}`, value, base });
    }
  }
  if (figures.length === 0) {
    return { status: "n/a", detail: "clockwork or the async/await queue has no figure" };
  }
  const detail = figures.map((f) => `${f.what} ${fmtRatio(f.value / f.base)}`).join(", ");
  const met = figures.every((f) => f.value < f.base);
  return {
    status: met ? "met" : "not met",
    detail: `against the async/await queue: ${detail} (goal < 1x in each)`,
  };
}

export const suite: Suite = {
  name: "select",
  description: "choosing among channels: the cost of a select, fan-in of 8 producers",
  tables(env) {
    const { values, producers, perProducer, buffer } = params(env);
    return [
      {
        title: "select: the cost of choosing",
        params: `1 task takes ${fmtCount(values)} values from 2 channels that each hold ${fmtCount(values)}, filled before the clock starts (only the taking is timed; every choice finds both ready)`,
        goal: `select over 2 ready channels <= ${choiceGoal}x a plain receive (ns/value)`,
        baseline: "clockwork receive",
        metrics: [valueMetric],
        cases: choiceCases,
        verdict: choiceVerdict,
      },
      {
        title: "select: fan-in of 8 producers",
        params: `${producers} producers x ${fmtCount(perProducer)} values = ${fmtCount(producers * perProducer)} values to 1 consumer; each producer on its own channel, unbuffered or with a buffer of ${buffer} (shared queues: ${producers} x ${buffer})`,
        goal: "select fan-in faster than the async/await shared queue (ns/value), unbuffered and buffered",
        baseline: "async/await queue",
        metrics: [unbufferedMetric, bufferedMetric(env)],
        cases: fanInCases,
        verdict: fanInVerdict,
      },
    ];
  },
};
