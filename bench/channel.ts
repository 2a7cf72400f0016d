// channel: coordination between tasks. Part 1: two tasks ping-pong over a
// pair of unbuffered channels (A sends i on ch1 and waits for the reply on
// ch2; B receives on ch1 and sends the value back on ch2): the cost of one
// message, a send and its receive, each of which hands control to the other
// task. Part 2: N tasks pass through a semaphore of 8 permits, each holding
// its permit across one switch: the cost of one acquire/release pair.

import {
  createChannel,
  run as effectionRun,
  spawn as effectionSpawn,
  type Operation,
} from "effection";
import csp, { type Channel as CspChannel } from "js-csp";
import { buffers, type Channel as SagaChannel, channel as sagaChannel } from "redux-saga";
import { call, fork, put, take } from "redux-saga/effects";
import type { ClockworkApi, CwChannel, CwRoutine, CwSemaphore } from "./clockwork.ts";
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
  type Verdict,
} from "./harness.ts";
import { runSagaToEnd, takePromise } from "./peers.ts";

export function params(env: Env): { messages: number; tasks: number; permits: number } {
  return env.quick
    ? { messages: 10_000, tasks: 1_000, permits: 8 }
    : { messages: 100_000, tasks: 10_000, permits: 8 };
}

/** Round trips in the ping-pong: each is two messages (i there, i back). */
function roundsOf(env: Env): number {
  return params(env).messages / 2;
}

/**
 * The timing per case. A clockwork or async/await run here takes only 3 to
 * 30 ms and its first few runs are much slower (JIT warm-up, and the 10,000
 * tasks of the semaphore table make the gc vary from run to run), so the
 * full mode allows more runs than the default 15 for a steadier median,
 * within a smaller time budget (each table has 6 or 7 rows).
 */
function budget(env: Env, slow = false): TimingOptions {
  if (env.quick) return timing(env, slow);
  return { budgetMs: slow ? 3000 : 2000, minRuns: 3, maxRuns: 40 };
}

/** Resolved promise shared by the async/await helpers and the saga "yield once". */
const resolved: Promise<void> = Promise.resolve();
const tick = (): Promise<void> => resolved;

/** A first-in first-out queue: an array and a head index (no O(n) shift). */
class Fifo<T> {
  items: (T | undefined)[] = [];
  head = 0;

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
// Part 1: ping-pong

const messageMetric: Metric = {
  key: "message",
  label: "per message",
  unit: "ns/msg",
  better: "lower",
};

/** ns per message from the median ms of one whole exchange. */
function perMessage(ms: number, env: Env): { message: number } {
  return { message: (ms * 1e6) / params(env).messages };
}

/** Every reply must be the value sent: A counts the ones that were. */
function checkReplies(ok: unknown, rounds: number): void {
  if (ok !== rounds) {
    throw new Error(`${String(ok)} of ${rounds} replies came back as sent`);
  }
}

// The limit: A yields each value it sends and is resumed with the reply; B is
// resumed with each value and yields it back. A loop hands each value over.

function* limitPinger(rounds: number): Generator<number, number, number> {
  let ok = 0;
  for (let i = 0; i < rounds; i++) {
    const reply = yield i;
    if (reply === i) ok++;
  }
  return ok;
}

function* limitPonger(): Generator<number, void, number> {
  let value = yield 0;
  for (;;) value = yield value;
}

function handoff(rounds: number): number {
  const a = limitPinger(rounds);
  const b = limitPonger();
  b.next(); // B waits for its first message
  let sent = a.next();
  while (sent.done !== true) {
    const reply = b.next(sent.value).value as number;
    sent = a.next(reply);
  }
  return sent.value;
}

/** The async/await peer: an unbuffered channel on promises (a queue of resolvers per side). */
class AsyncChannel<T> {
  readonly receivers = new Fifo<(value: T) => void>();
  readonly senders = new Fifo<{ value: T; resolve: () => void }>();

  /** Resolves once a receiver has the value. */
  send(value: T): Promise<void> {
    const receive = this.receivers.shift();
    if (receive !== undefined) {
      receive(value);
      return resolved;
    }
    return new Promise((resolve) => this.senders.push({ value, resolve }));
  }

  receive(): Promise<T> {
    const send = this.senders.shift();
    if (send !== undefined) {
      send.resolve();
      return Promise.resolve(send.value);
    }
    return new Promise((resolve) => this.receivers.push(resolve));
  }
}

/**
 * The leanest async/await queue a good engineer would write for this: a
 * push hands the value to a waiting resolver or appends it; a pop returns
 * a resolved promise of a queued value, or a new one. Unlike AsyncChannel
 * a push never waits (no promise per send), so a ping-pong over two of
 * them costs one promise per message.
 */
class LeanQueue<T> {
  readonly values = new Fifo<T>();
  readonly takers = new Fifo<(value: T) => void>();

  push(value: T): void {
    const take = this.takers.shift();
    if (take !== undefined) take(value);
    else this.values.push(value);
  }

  pop(): Promise<T> {
    if (this.values.head !== this.values.items.length) {
      return Promise.resolve(this.values.shift() as T);
    }
    return new Promise((resolve) => this.takers.push(resolve));
  }
}

async function leanPinger(q1: LeanQueue<number>, q2: LeanQueue<number>, rounds: number) {
  let ok = 0;
  for (let i = 0; i < rounds; i++) {
    q1.push(i);
    if ((await q2.pop()) === i) ok++;
  }
  return ok;
}

async function leanPonger(q1: LeanQueue<number>, q2: LeanQueue<number>, rounds: number) {
  for (let i = 0; i < rounds; i++) q2.push(await q1.pop());
}

async function asyncPinger(
  ch1: AsyncChannel<number>,
  ch2: AsyncChannel<number>,
  rounds: number,
): Promise<number> {
  let ok = 0;
  for (let i = 0; i < rounds; i++) {
    await ch1.send(i);
    if ((await ch2.receive()) === i) ok++;
  }
  return ok;
}

async function asyncPonger(
  ch1: AsyncChannel<number>,
  ch2: AsyncChannel<number>,
  rounds: number,
): Promise<void> {
  for (let i = 0; i < rounds; i++) await ch2.send(await ch1.receive());
}

function* sagaPinger(
  ch1: SagaChannel<number>,
  ch2: SagaChannel<number>,
  rounds: number,
): Generator<unknown, number, unknown> {
  let ok = 0;
  for (let i = 0; i < rounds; i++) {
    yield put(ch1, i);
    if ((yield take(ch2)) === i) ok++;
  }
  return ok;
}

function* sagaPonger(
  ch1: SagaChannel<number>,
  ch2: SagaChannel<number>,
  rounds: number,
): Generator<unknown, void, unknown> {
  for (let i = 0; i < rounds; i++) {
    const value = (yield take(ch1)) as number;
    yield put(ch2, value);
  }
}

function* sagaPingPong(rounds: number): Generator<unknown, number, unknown> {
  const ch1 = sagaChannel<number>();
  const ch2 = sagaChannel<number>();
  yield fork(sagaPonger, ch1, ch2, rounds);
  return (yield call(sagaPinger, ch1, ch2, rounds)) as number;
}

function* cspPinger(
  ch1: CspChannel,
  ch2: CspChannel,
  rounds: number,
): Generator<unknown, number, unknown> {
  let ok = 0;
  for (let i = 0; i < rounds; i++) {
    yield csp.put(ch1, i);
    if ((yield csp.take(ch2)) === i) ok++;
  }
  return ok;
}

function* cspPonger(
  ch1: CspChannel,
  ch2: CspChannel,
  rounds: number,
): Generator<unknown, number, unknown> {
  for (let i = 0; i < rounds; i++) {
    const value = yield csp.take(ch1);
    yield csp.put(ch2, value);
  }
  return 0;
}

function* effectionPingPong(rounds: number): Operation<number> {
  const ch1 = createChannel<number>();
  const ch2 = createChannel<number>();
  // A message sent while nobody is subscribed is dropped: subscribe both first.
  const sub1 = yield* ch1;
  const sub2 = yield* ch2;
  const ponger = yield* effectionSpawn(function* () {
    for (let i = 0; i < rounds; i++) {
      const next = yield* sub1.next();
      if (next.done === true) return;
      yield* ch2.send(next.value);
    }
  });
  let ok = 0;
  for (let i = 0; i < rounds; i++) {
    yield* ch1.send(i);
    const reply = yield* sub2.next();
    if (reply.done !== true && reply.value === i) ok++;
  }
  yield* ponger;
  return ok;
}

function* cwPinger(
  ch1: CwChannel<number>,
  ch2: CwChannel<number>,
  rounds: number,
): CwRoutine<number> {
  let ok = 0;
  for (let i = 0; i < rounds; i++) {
    yield* ch1.send(i);
    if ((yield* ch2.receive()) === i) ok++;
  }
  return ok;
}

function* cwPonger(ch1: CwChannel<number>, ch2: CwChannel<number>, rounds: number): CwRoutine {
  for (let i = 0; i < rounds; i++) yield* ch2.send(yield* ch1.receive());
}

/** A fresh worker with the two ping-pong tasks assigned; `result()` is A's count once it ends. */
function cwPingPong(cw: ClockworkApi, rounds: number) {
  const worker = new cw.Worker();
  const ch1 = new cw.Channel<number>();
  const ch2 = new cw.Channel<number>();
  const a = worker.assign(cwPinger(ch1, ch2, rounds), { name: "ping" });
  worker.assign(cwPonger(ch1, ch2, rounds), { name: "pong" });
  return { worker, result: () => a.result };
}

export const pingPongCases: Case[] = [
  {
    name: "limit (bare generators)",
    kind: "limit",
    how: "two bare generators; a loop resumes B with A's value, then A with B's reply (one next() per message)",
    async run(env) {
      const rounds = roundsOf(env);
      const ms = await timeRun(() => {
        checkReplies(handoff(rounds), rounds);
        return undefined;
      }, budget(env));
      return perMessage(ms, env);
    },
  },
  {
    name: "async/await queue",
    kind: "peer",
    how: "a hand-written unbuffered channel on promises (a FIFO of waiting receivers and one of waiting senders); two async functions, `await ch.send(v)` / `await ch.receive()`",
    async run(env) {
      const rounds = roundsOf(env);
      const ms = await timeRun(async () => {
        const ch1 = new AsyncChannel<number>();
        const ch2 = new AsyncChannel<number>();
        const pong = asyncPonger(ch1, ch2, rounds);
        checkReplies(await asyncPinger(ch1, ch2, rounds), rounds);
        await pong;
        return undefined;
      }, budget(env));
      return perMessage(ms, env);
    },
  },
  {
    name: "async/await lean queue",
    kind: "peer",
    how: "the leanest queue on promises: push hands the value to a waiting resolver or appends it (a push never waits), pop returns a resolved promise or a new one; two async functions, `q1.push(i); await q2.pop()` / `q2.push(await q1.pop())`",
    async run(env) {
      const rounds = roundsOf(env);
      const ms = await timeRun(async () => {
        const q1 = new LeanQueue<number>();
        const q2 = new LeanQueue<number>();
        const pong = leanPonger(q1, q2, rounds);
        checkReplies(await leanPinger(q1, q2, rounds), rounds);
        await pong;
        return undefined;
      }, budget(env));
      return perMessage(ms, env);
    },
  },
  {
    name: "redux-saga",
    kind: "peer",
    how: "two channel()s (redux-saga has no unbuffered channel; the default expanding buffer never holds more than the one message in flight); a forked saga and a called one, `yield put(ch, v)` / `yield take(ch)`",
    async run(env) {
      const rounds = roundsOf(env);
      const ms = await timeRun(
        async () => {
          checkReplies(await runSagaToEnd(sagaPingPong, rounds), rounds);
          return undefined;
        },
        budget(env, true),
      );
      return perMessage(ms, env);
    },
  },
  {
    name: "Effection 4",
    kind: "peer",
    how: "two createChannel()s, both subscribed by the parent before the exchange (`yield* ch`); `yield* ch.send(v)` / `yield* sub.next()` in the parent and one spawned task. Effection 4 has no unbuffered channel: createChannel is its documented way for operations to talk (createSignal is for callbacks outside operations, createQueue is the single-subscriber queue underneath)",
    async run(env) {
      const rounds = roundsOf(env);
      const ms = await timeRun(
        async () => {
          checkReplies(await effectionRun(() => effectionPingPong(rounds)), rounds);
          return undefined;
        },
        budget(env, true),
      );
      return perMessage(ms, env);
    },
  },
  {
    name: "js-csp",
    kind: "peer",
    how: "two unbuffered chan()s; two go blocks, `yield put(ch, v)` / `yield take(ch)`",
    async run(env) {
      const rounds = roundsOf(env);
      const ms = await timeRun(
        async () => {
          const ch1 = csp.chan();
          const ch2 = csp.chan();
          const pong = csp.go(cspPonger, [ch1, ch2, rounds]);
          const ping = csp.go(cspPinger, [ch1, ch2, rounds]);
          checkReplies(await takePromise(ping), rounds);
          await takePromise(pong);
          return undefined;
        },
        budget(env, true),
      );
      return perMessage(ms, env);
    },
  },
  {
    name: "clockwork work()",
    kind: "clockwork",
    how: "new Worker(); two unbuffered `new Channel()`s; assign() the two tasks, `yield* ch.send(v)` / `yield* ch.receive()`; work()",
    async run(cw, env) {
      const rounds = roundsOf(env);
      const ms = await timeRun(() => {
        const { worker, result } = cwPingPong(cw, rounds);
        worker.work();
        checkReplies(result(), rounds);
        return undefined;
      }, budget(env));
      return perMessage(ms, env);
    },
  },
  {
    name: "clockwork run()",
    kind: "clockwork",
    how: "the same driven by `await worker.run()` (steps in ~1 ms slices, letting the event loop in between)",
    async run(cw, env) {
      const rounds = roundsOf(env);
      const ms = await timeRun(async () => {
        const { worker, result } = cwPingPong(cw, rounds);
        await worker.run();
        checkReplies(result(), rounds);
        return undefined;
      }, budget(env));
      return perMessage(ms, env);
    },
  },
];

const clockworkPingPongRows = ["clockwork work()", "clockwork run()"];

function pingPongVerdict(get: Lookup): Verdict {
  // The goal is the stronger of the two async/await peers (the lean queue awaits only on receive).
  const queues = [
    get("async/await queue", "message"),
    get("async/await lean queue", "message"),
  ].filter((v): v is number => v !== undefined);
  const queue = queues.length === 0 ? undefined : Math.min(...queues);
  const limit = get("limit (bare generators)", "message");
  const figures = clockworkPingPongRows
    .map((name) => ({ name, value: get(name, "message") }))
    .filter((f): f is { name: string; value: number } => f.value !== undefined);
  if (queue === undefined || figures.length === 0) {
    return { status: "n/a", detail: "clockwork or the async/await queue has no figure" };
  }
  const worst = figures.reduce((a, b) => (b.value > a.value ? b : a));
  const detail = figures
    .map((f) => `${f.name} is ${fmtRatio(f.value / queue)} the faster async/await queue`)
    .join(", ");
  let stretch = "";
  if (limit !== undefined) {
    const r = worst.value / limit;
    stretch = `; stretch (<= 2x the limit) ${r <= 2 ? "met" : "not met"}: ${fmtRatio(r)}`;
  }
  return {
    status: worst.value < queue ? "met" : "not met",
    detail: `${detail} (goal < 1x)${stretch}`,
  };
}

// ---------------------------------------------------------------------------
// Part 2: semaphore

const pairMetric: Metric = {
  key: "pair",
  label: "per acquire/release",
  unit: "ns/pair",
  better: "lower",
};

/** ns per acquire/release pair from the median ms of one whole run (one pair per task). */
function perPair(ms: number, env: Env): { pair: number } {
  return { pair: (ms * 1e6) / params(env).tasks };
}

/** Tracks permits held: every task must pass, never more than `permits` at once. */
interface Gauge {
  held: number;
  most: number;
  done: number;
}

function gauge(): Gauge {
  return { held: 0, most: 0, done: 0 };
}

function enter(g: Gauge): void {
  g.held++;
  if (g.held > g.most) g.most = g.held;
}

function leave(g: Gauge): void {
  g.held--;
  g.done++;
}

function checkGauge(g: Gauge, env: Env): void {
  const { tasks, permits } = params(env);
  if (g.done !== tasks || g.held !== 0 || g.most !== permits) {
    throw new Error(
      `${g.done} of ${tasks} tasks passed, ${g.held} still hold a permit, at most ${g.most} held at once (expected ${permits})`,
    );
  }
}

/** The async/await peer: a FIFO semaphore on promises (a released permit goes to the oldest waiter). */
class AsyncSemaphore {
  available: number;
  readonly waiters = new Fifo<() => void>();

  constructor(permits: number) {
    this.available = permits;
  }

  acquire(): Promise<void> {
    if (this.available > 0) {
      this.available--;
      return resolved;
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next !== undefined) next();
    else this.available++;
  }
}

async function asyncHolder(sem: AsyncSemaphore, g: Gauge): Promise<void> {
  await sem.acquire();
  enter(g);
  await null;
  leave(g);
  sem.release();
}

function* sagaHolder(tokens: SagaChannel<number>, g: Gauge): Generator<unknown, void, unknown> {
  const token = (yield take(tokens)) as number;
  enter(g);
  yield call(tick);
  leave(g);
  yield put(tokens, token);
}

function* sagaPool(tasks: number, permits: number, g: Gauge): Generator<unknown, void, unknown> {
  const tokens = sagaChannel<number>(buffers.fixed(permits));
  for (let k = 0; k < permits; k++) tokens.put(k + 1);
  // Forks are attached: the root saga ends when every holder has.
  for (let t = 0; t < tasks; t++) yield fork(sagaHolder, tokens, g);
}

function* cwHolder(sem: CwSemaphore, g: Gauge): CwRoutine {
  yield* sem.acquire();
  enter(g);
  yield;
  leave(g);
  sem.release();
}

function* cwBody(g: Gauge): CwRoutine {
  enter(g);
  yield;
  leave(g);
}

function* cwPermitHolder(sem: CwSemaphore, g: Gauge): CwRoutine {
  yield* sem.withPermit(cwBody(g));
}

/** Runs `holder` as `tasks` clockwork tasks sharing one semaphore, with work(). */
function cwPool(
  cw: ClockworkApi,
  env: Env,
  holder: (sem: CwSemaphore, g: Gauge) => CwRoutine,
): void {
  const { tasks, permits } = params(env);
  const worker = new cw.Worker();
  const sem = new cw.Semaphore(permits);
  const g = gauge();
  for (let t = 0; t < tasks; t++) worker.assign(holder(sem, g));
  worker.work();
  checkGauge(g, env);
  if (sem.available !== permits) {
    throw new Error(`${sem.available} of ${permits} permits are free at the end`);
  }
}

export const semaphoreCases: Case[] = [
  {
    name: "async/await semaphore",
    kind: "baseline",
    how: "a hand-written FIFO semaphore on promises (a count and a queue of resolvers); each async function does `await sem.acquire(); await null; sem.release()`; all started, then Promise.all",
    async run(env) {
      const { tasks, permits } = params(env);
      const ms = await timeRun(async () => {
        const sem = new AsyncSemaphore(permits);
        const g = gauge();
        const all: Promise<void>[] = [];
        for (let t = 0; t < tasks; t++) all.push(asyncHolder(sem, g));
        await Promise.all(all);
        checkGauge(g, env);
        return undefined;
      }, budget(env));
      return perPair(ms, env);
    },
  },
  {
    name: "redux-saga",
    kind: "peer",
    how: "no semaphore in redux-saga: a channel(buffers.fixed(8)) holding 8 tokens (take = acquire, put back = release; takers are served in order); each forked saga does `take`, `yield call(() => resolvedPromise)`, `put`",
    async run(env) {
      const { tasks, permits } = params(env);
      const ms = await timeRun(
        async () => {
          const g = gauge();
          await runSagaToEnd(sagaPool, tasks, permits, g);
          checkGauge(g, env);
          return undefined;
        },
        budget(env, true),
      );
      return perPair(ms, env);
    },
  },
  {
    name: "Effection 4",
    kind: "peer",
    how: "skipped: Effection 4 has no semaphore and no bounded or multi-consumer queue to build one from (createChannel broadcasts every message to every subscriber; createQueue serves a single subscriber)",
    async run() {
      return { pair: fail("no equivalent") };
    },
  },
  {
    name: "js-csp",
    kind: "peer",
    how: "skipped: js-csp has no semaphore, and its idiom (a chan(8) holding 8 tokens) cannot queue the waiting tasks: a js-csp channel refuses more than 1,024 pending takes",
    async run() {
      return { pair: fail("1,024-taker cap") };
    },
  },
  {
    name: "clockwork",
    kind: "clockwork",
    how: "new Worker(); `new Semaphore(8)`; assign() each task doing `yield* sem.acquire(); yield; sem.release()`; work()",
    async run(cw, env) {
      const ms = await timeRun(() => {
        cwPool(cw, env, cwHolder);
        return undefined;
      }, budget(env));
      return perPair(ms, env);
    },
  },
  {
    name: "clockwork withPermit",
    kind: "clockwork",
    how: "the same with `yield* sem.withPermit(body())`, body doing one `yield`",
    async run(cw, env) {
      const ms = await timeRun(() => {
        cwPool(cw, env, cwPermitHolder);
        return undefined;
      }, budget(env));
      return perPair(ms, env);
    },
  },
];

const clockworkSemaphoreRows = ["clockwork", "clockwork withPermit"];

function semaphoreVerdict(get: Lookup): Verdict {
  const base = get("async/await semaphore", "pair");
  const figures = clockworkSemaphoreRows
    .map((name) => ({ name, value: get(name, "pair") }))
    .filter((f): f is { name: string; value: number } => f.value !== undefined);
  if (base === undefined || figures.length === 0) {
    return { status: "n/a", detail: "clockwork or the async/await semaphore has no figure" };
  }
  const worst = figures.reduce((a, b) => (b.value > a.value ? b : a));
  const detail = figures
    .map((f) => `${f.name} is ${fmtRatio(f.value / base)} the async/await semaphore`)
    .join(", ");
  return { status: worst.value < base ? "met" : "not met", detail: `${detail} (goal < 1x)` };
}

export const suite: Suite = {
  name: "channel",
  description: "coordination: channel ping-pong and a semaphore",
  tables(env) {
    const { messages, tasks, permits } = params(env);
    return [
      {
        title: "channel: ping-pong over two unbuffered channels",
        params: `2 tasks, ${fmtCount(roundsOf(env))} round trips = ${fmtCount(messages)} messages (a message = one send and its receive)`,
        goal: "faster than the faster async/await queue (ns/msg); stretch: <= 2x the limit",
        baseline: "limit (bare generators)",
        metrics: [messageMetric],
        cases: pingPongCases,
        verdict: pingPongVerdict,
      },
      {
        title: "channel: tasks through a semaphore",
        params: `${fmtCount(tasks)} tasks through ${permits} permits, each holding one across one switch`,
        goal: "faster than the async/await semaphore (ns/pair)",
        baseline: "async/await semaphore",
        metrics: [pairMetric],
        cases: semaphoreCases,
        verdict: semaphoreVerdict,
      },
    ];
  },
};
