/**
 * Adversarial cases: programs written to break a printed guarantee, kept
 * here once the guarantee holds for them.
 *
 * An operation (`receive()`, `send(v)`, `acquire()`, `future.wait()`,
 * `ticker.receive()`) and a `select` are one task's wait (design.md, rule
 * 2): a second task that reaches one while the first waits in it gets an
 * error naming both, never a lost wake or a value meant for the other.
 * Once served it has ended, as a finished generator has: reached again
 * (by its task, or by another before its task has run with what woke it)
 * it gives `undefined` at once, and never waits, takes or gives again.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  all,
  Broadcast,
  Channel,
  ChannelClosedError,
  each,
  Future,
  type Provide,
  race,
  resource,
  routine,
  Semaphore,
  select,
  shield,
  sleep,
  spawn,
  suspend,
  Ticker,
  TimeoutError,
  timeout,
  type Worker,
} from "../src/index.ts";
import { collectingWorker } from "./support.ts";

/** A shared wait, and what ends the first task's wait (a send, a resolve, a release...). */
interface Shared {
  shared: Generator<unknown, unknown, unknown>;
  end: () => void;
  /** After the run: what is left behind to check (a channel's next value, the permits...). */
  after?: () => string;
}

/**
 * Task "first" parks on the shared wait (by yield*); `end()` wakes it;
 * before "first" has run again, task "second" reaches the same wait (by
 * yield* or by yield). Says what each got.
 */
function reachWhileWoken(
  how: "yield*" | "yield",
  make: (worker: Worker) => Shared,
): { trace: string[]; errors: unknown[]; after: string } {
  const { worker, errors } = collectingWorker();
  const { shared, end, after } = make(worker);
  const trace: string[] = [];
  const reach = routine(function* reach(name: string, by: "yield*" | "yield") {
    if (name === "second") yield; // lets "first" park first
    try {
      const value = by === "yield*" ? yield* shared : yield shared;
      trace.push(`${name} got ${JSON.stringify(value)}`);
    } catch (error) {
      trace.push(`${name}: ${(error as Error).message}`);
    }
  });
  worker.assign(reach("first", "yield*"), { name: "first" });
  worker.assign(reach("second", how), { name: "second" });
  worker.tick(); // "first" parks on the wait
  worker.tick(); // "second" gives up control once
  end(); // "first" is woken, and queued behind "second"
  try {
    worker.work();
  } catch (error) {
    trace.push(`work(): ${(error as Error).name}`);
  }
  return { trace, errors, after: after?.() ?? "" };
}

describe("an operation served, reached by a second task before the first has run", () => {
  const cases: [string, (worker: Worker) => Shared, string, string][] = [
    [
      "a receive",
      () => {
        const channel = new Channel<number>(1);
        return {
          shared: channel.receive(),
          end: () => {
            channel.trySend(1);
            channel.trySend(2);
          },
          after: () => `left: ${JSON.stringify(channel.tryReceive())}`,
        };
      },
      "first got 1",
      'left: {"ok":true,"value":2}',
    ],
    [
      "a send",
      () => {
        const channel = new Channel<string>();
        const got: string[] = [];
        return {
          shared: channel.send("sent once"),
          end: () => {
            const r = channel.tryReceive();
            if (r.ok) got.push(r.value);
          },
          after: () => `received: ${got.join()}, then ${JSON.stringify(channel.tryReceive())}`,
        };
      },
      "first got undefined",
      'received: sent once, then {"ok":false,"closed":false}',
    ],
    [
      "a future's wait",
      () => {
        const future = new Future<string>();
        return { shared: future.wait(), end: () => future.resolve("ready") };
      },
      'first got "ready"',
      "",
    ],
    [
      "an acquire",
      () => {
        const semaphore = new Semaphore(1);
        semaphore.tryAcquire();
        return {
          shared: semaphore.acquire(),
          end: () => semaphore.release(),
          after: () => `available: ${semaphore.available}`,
        };
      },
      "first got undefined",
      "available: 0",
    ],
  ];
  for (const [name, make, firstGot, left] of cases) {
    for (const how of ["yield*", "yield"] as const) {
      it(`${name}, reached by ${how}: the second gets undefined (it has ended), the first what woke it`, () => {
        // By yield, the second task took the operation over: the first then threw, and a value it
        // was handed was lost; the second waited in it for ever.
        const { trace, errors, after } = reachWhileWoken(how, make);
        assert.deepEqual(trace.sort(), [firstGot, "second got undefined"].sort());
        assert.equal(after, left);
        assert.deepEqual(errors, []);
      });
    }
  }
});

describe("a select is one task's wait", () => {
  for (const how of ["yield*", "yield"] as const) {
    it(`a second task that reaches it by ${how} while the first waits is refused`, () => {
      const { worker, errors } = collectingWorker();
      const channel = new Channel<number>();
      const shared = select([channel.receive()]);
      const trace: string[] = [];
      const reach = routine(function* reach(name: string, by: "yield*" | "yield") {
        try {
          const got = by === "yield*" ? yield* shared : yield shared;
          trace.push(`${name} got ${JSON.stringify(got)}`);
        } catch (error) {
          trace.push(`${name}: ${(error as Error).message}`);
        }
      });
      worker.assign(reach("first", "yield*"), { name: "first" });
      worker.assign(reach("second", how), { name: "second" });
      worker.tick(); // "first" parks on the select
      worker.tick(); // "second" reaches it
      channel.trySend(7);
      worker.work();
      assert.deepEqual(trace, [
        'second: task "second" reached a select() that task "first" is waiting in: a select() is ' +
          "one task's wait; make one in each task",
        'first got {"index":0,"value":7}',
      ]);
      assert.deepEqual(errors, []);
    });
  }

  it("an operation already parked on elsewhere is refused as a case when the select parks", () => {
    const { worker, errors } = collectingWorker();
    const channel = new Channel<number>();
    const other = new Channel<number>();
    const receive = channel.receive();
    const trace: string[] = [];
    const direct = routine(function* direct() {
      trace.push(`direct got ${yield* receive}`);
    });
    const both = select([receive, other.receive()]); // made while the receive is still fresh
    const selecting = routine(function* selecting() {
      try {
        const got = yield* both;
        trace.push(`select got ${JSON.stringify(got)}`);
      } catch (error) {
        trace.push(`select: ${(error as Error).message}`);
      }
    });
    worker.assign(direct(), { name: "direct" });
    worker.assign(selecting(), { name: "selecting" });
    worker.tick(); // "direct" parks on the receive
    worker.tick(); // the select parks: its case 0 is already another task's wait
    channel.trySend(1);
    other.trySend(2);
    worker.work();
    assert.deepEqual(trace, [
      "select: select(): case 0 (receive from a channel (0/0 buffered)) was already used; " +
        "each case must be a fresh operation",
      "direct got 1",
    ]);
    assert.deepEqual(errors, []);
  });
});

/**
 * A subscription ends with the task that made it (broadcast.test.ts: "closes
 * a subscription whose task returned without closing it, in the step the
 * task ends: a send waiting for room goes on"), also one made in a cleanup
 * that a cancel started.
 */
describe("a subscription made while its task is being cancelled", () => {
  it("ends with the task: a send waiting for room in it goes on", () => {
    const { worker, errors } = collectingWorker();
    const news = new Broadcast<number>();
    const trace: string[] = [];
    const listener = routine(function* listener() {
      try {
        yield suspend();
      } finally {
        const late = news.subscribe(); // buffer 1, back-pressure
        yield* sleep(1); // the sender fills it meanwhile
        trace.push(`cleanup ends, holding ${late.size}`);
      }
    });
    const sender = routine(function* sender() {
      yield* sleep(0.5);
      yield* news.send(1);
      trace.push("sent 1");
      yield* news.send(2); // waits for room in the listener's subscription, until it ends
      trace.push("sent 2");
    });
    const task = worker.assign(listener());
    worker.tick();
    task.cancel();
    worker.assign(sender());
    worker.work();
    assert.deepEqual(trace, ["sent 1", "cleanup ends, holding 1", "sent 2"]);
    assert.equal(news.subscribers, 0);
    assert.deepEqual(errors, []);
  });
});

/**
 * `withPermit(body)` gives a routine object, one task's as a generator is
 * (spawn.test.ts: "a routine object is one task's"). A second task that
 * reaches it while the first waits for its permit is refused: it must not
 * run the body without a permit, nor end the first task's wait.
 */
describe("a withPermit routine waiting for its permit", () => {
  it("refuses a second task; the first runs the body holding the permit", () => {
    const { worker, errors } = collectingWorker();
    const pool = new Semaphore(1);
    const trace: string[] = [];
    const shared = pool.withPermit(
      (function* body() {
        trace.push(`body runs, ${pool.available} permits free`);
        yield;
        return "done";
      })(),
    );
    const reach = routine(function* reach(name: string) {
      try {
        trace.push(`${name} got ${yield* shared}`);
      } catch (error) {
        trace.push(`${name}: ${(error as Error).message}`);
      }
    });
    assert.ok(pool.tryAcquire()); // held elsewhere, for now
    worker.assign(reach("first"), { name: "first" });
    worker.assign(reach("second"), { name: "second" });
    worker.tick(); // "first" waits for the permit
    worker.tick(); // "second" reaches the same routine object
    pool.release(); // the permit passes to "first"
    worker.work();
    assert.deepEqual(trace, [
      'second: task "second" reached a withPermit routine that task "first" is waiting in: a ' +
        "routine object is one task's, as a generator is; make one in each task",
      "body runs, 0 permits free",
      "first got done",
    ]);
    assert.equal(pool.available, 1);
    assert.deepEqual(errors, []);
  });
});

/**
 * An operation is done once. Reached again by the task that did it, it
 * gives undefined, as a finished generator does (and as `join()`, `call()`
 * and `park()` routines do), by `yield` as by `yield*`: it never waits
 * again, takes nothing more and gives nothing more.
 */
describe("an operation that has ended, reached again by its task", () => {
  const cases: [string, () => { op: Generator<unknown, unknown, unknown>; left: () => string }][] =
    [
      [
        "a future's wait",
        () => {
          const future = new Future<number>();
          future.resolve(3);
          return { op: future.wait(), left: () => "" };
        },
      ],
      [
        "a receive",
        () => {
          const channel = new Channel<number>(2);
          channel.trySend(3);
          channel.trySend(4);
          return { op: channel.receive(), left: () => `${channel.size} left` };
        },
      ],
      [
        "an acquire",
        () => {
          const semaphore = new Semaphore(2);
          return { op: semaphore.acquire(), left: () => `${semaphore.available} free` };
        },
      ],
      [
        "a send",
        () => {
          const channel = new Channel<number>(2);
          return { op: channel.send(3), left: () => `${channel.size} sent` };
        },
      ],
    ];
  for (const [name, make] of cases) {
    for (const [first, again] of [
      ["yield", "yield"],
      ["yield*", "yield"],
      ["yield", "yield*"],
    ] as const) {
      it(`${name}: done by ${first}, reached again by ${again}, gives undefined at once`, () => {
        const { worker, errors } = collectingWorker();
        const { op, left } = make();
        const trace: string[] = [];
        worker.assign(
          (function* twice() {
            const once = first === "yield" ? yield op : yield* op;
            trace.push(`once: ${once}`);
            const twice = again === "yield" ? yield op : yield* op;
            trace.push(`again: ${twice}`);
          })(),
        );
        worker.work(); // threw WouldBlockError: the second `yield` waited again, for ever
        const expected = {
          "a future's wait": ["once: 3", "again: undefined", ""],
          "a receive": ["once: 3", "again: undefined", "1 left"],
          "an acquire": ["once: undefined", "again: undefined", "1 free"],
          "a send": ["once: undefined", "again: undefined", "1 sent"],
        }[name];
        assert.deepEqual([...trace, left()], expected);
        assert.deepEqual(errors, []);
      });
    }
  }
});

describe("a select that has ended, reached again by its task", () => {
  for (const ready of [true, false]) {
    for (const [first, again] of [
      ["yield", "yield"],
      ["yield*", "yield"],
      ["yield", "yield*"],
    ] as const) {
      it(`${ready ? "done at once" : "done after it waited"} by ${first}, reached again by ${again}: undefined, no second case`, () => {
        const { worker, errors } = collectingWorker();
        const channel = new Channel<number>(3);
        const trace: string[] = [];
        const fill = () => {
          channel.trySend(1);
          channel.trySend(2);
        };
        if (ready) fill();
        const once = select([channel.receive()]);
        worker.assign(
          (function* twice() {
            trace.push(JSON.stringify(first === "yield" ? yield once : yield* once));
            trace.push(String(again === "yield" ? yield once : yield* once));
          })(),
        );
        if (!ready) {
          worker.tick(); // it waits
          fill();
        }
        // It waited again for ever (WouldBlockError), or refused its own case as a duplicate.
        worker.work();
        assert.deepEqual(trace, ['{"index":0,"value":1}', "undefined"]);
        assert.equal(channel.size, 1, "the second value is still there");
        assert.deepEqual(errors, []);
      });
    }
  }
});

// ------------------------------------------------------------ cancel storms

/**
 * Cancel at any step a routine that goes, stage after stage, through the
 * combinators and operations cleanup-properties.test.ts does not write:
 * select over ready and waiting cases (a channel, a subscription, a ticker,
 * a future, a sleep), race over a subscription, withPermit around a select,
 * all over a race, a send and a tick, race of ended tasks, timeout(0), a
 * resource, each() under a timeout (over a channel and over a
 * subscription), all of nothing. Each stage is reached by `yield*` through
 * two routine() frames, and the inner one's `finally` waits: a sleep, a
 * send a sink task takes, a select or race over that send, a permit, a
 * shielded or timed send. A stage may throw after its combinator (caught
 * by the routine). The cancel comes after `cancelAt` steps (the clock moves
 * a quarter second whenever nothing can run), and again a few steps later.
 *
 * Whatever the program: the routine ends; if the cancel landed outside a
 * cleanup, nothing after a `yield*` runs and every cleanup it started
 * ends; no task, timer, permit, receiver or subscription is left; each
 * cleanup and each resource's close runs at most once; no value reaches
 * the sink twice; nothing is reported. (A cleanup already running when the
 * cancel lands is cut at its next yield, or, shielded, lets the routine run
 * on to its next yield with the cancel begun: its subscription is closed by
 * then, so a receive there may throw ChannelClosedError. Both documented.)
 */
const STAGES = [
  "select",
  "raceSub",
  "readySelect",
  "permitSelect",
  "allMixed",
  "raceEnded",
  "timeout0",
  "resource",
  "each",
  "futureRace",
  "subEach",
  "tickerTimeout",
  "allNone",
  "nestedPermit",
] as const;
const CLEANUPS = [
  "none",
  "sleep",
  "send",
  "selectSend",
  "raceSend",
  "permitSleep",
  "shieldSend",
  "timeoutSend",
] as const;
interface Stage {
  kind: (typeof STAGES)[number];
  cleanup: (typeof CLEANUPS)[number];
  throws: boolean;
}
interface Storm {
  stages: Stage[];
  cancelAt: number;
  feedPeriod: number;
  secondCancel: number;
}
const stormArb: fc.Arbitrary<Storm> = fc.record({
  stages: fc.array(
    fc.record({
      kind: fc.constantFrom(...STAGES),
      cleanup: fc.constantFrom(...CLEANUPS),
      throws: fc.boolean(),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  cancelAt: fc.nat(150),
  feedPeriod: fc.constantFrom(0.25, 0.5, 1),
  secondCancel: fc.nat(6),
});

/** Programs; PROPERTY_RUNS=50000 searches longer. */
const { PROPERTY_RUNS } = process.env;
const RUNS = Number(PROPERTY_RUNS ?? 1000);

class StageError extends Error {}

/** Runs one storm; gives what went wrong (empty when nothing did). */
function storm(p: Storm): string[] {
  const trace: string[] = [];
  const { clock, worker, errors } = collectingWorker();
  const sink = new Channel<string>();
  const jobs = new Channel<number>();
  const news = new Broadcast<number>();
  const pool = new Semaphore(1);
  const future = new Future<string>();
  const mark = (line: string) => trace.push(line);
  const cleanup = routine(function* cleanup(kind: Stage["cleanup"], name: string) {
    const bye = `${name} bye`;
    if (kind === "sleep") yield* sleep(0.25);
    else if (kind === "send") yield* sink.send(bye);
    else if (kind === "selectSend") yield* select([sink.send(bye), sleep(1)]);
    else if (kind === "raceSend") yield* race([sink.send(bye), sleep(0.5)]);
    else if (kind === "permitSleep") yield* pool.withPermit(sleep(0.25));
    else if (kind === "shieldSend") yield* shield(timeout(1, sink.send(bye)));
    else if (kind === "timeoutSend") {
      try {
        yield* timeout(
          0.5,
          (function* sendThenSleep() {
            yield* sink.send(bye);
            yield* sleep(0.25);
          })(),
        );
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error;
      }
    }
  });
  const stage = routine(function* stage(name: string, s: Stage, body: Generator) {
    mark(`${name}: start`);
    try {
      const value = yield* body;
      mark(`${name} gave`);
      if (s.throws) throw new StageError(name);
      return value;
    } finally {
      mark(`${name}: cleanup`);
      yield* cleanup(s.cleanup, name);
      mark(`${name}: cleanup ends`);
    }
  });
  const outer = routine(function* outer(name: string, s: Stage, body: Generator) {
    return yield* stage(name, s, body);
  });
  const orTimeout = routine(function* orTimeout(body: Generator) {
    try {
      return yield* body;
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      return "timed out";
    }
  });
  const main = routine(function* main() {
    const ticker = new Ticker(0.75);
    const sub = news.subscribe({ buffer: 2 });
    const ended = spawn((function* endsAtOnce() {})());
    const endsSoon = spawn(
      (function* endsSoon() {
        yield;
      })(),
    );
    yield;
    for (const [i, s] of p.stages.entries()) {
      const name = `${s.kind}#${i}`;
      const body: Generator = {
        select: () => select({ job: jobs.receive(), tick: ticker.receive(), idle: sleep(1.5) }),
        raceSub: () => race([sub.receive(), sleep(1)]),
        readySelect: () => select([jobs.receive(), sub.receive(), ticker.receive(), future.wait()]),
        permitSelect: () => pool.withPermit(select([jobs.receive(), sleep(1)])),
        allMixed: () =>
          all([
            race([future.wait(), sleep(2)]),
            (function* member() {
              try {
                yield* sink.send("member");
              } finally {
                yield* sleep(0.25);
              }
            })(),
            ticker.receive(),
          ]),
        raceEnded: () => race([ended.join(), endsSoon.join()]),
        timeout0: () => orTimeout(timeout(0, jobs.receive())),
        resource: () =>
          (function* useResource() {
            const value = yield* resource(function* opened(provide: Provide<string>) {
              try {
                yield* provide("open");
              } finally {
                yield* sleep(0.25);
                mark(`${name} resource closed`);
              }
            });
            yield* sleep(0.5);
            return value;
          })(),
        each: () =>
          orTimeout(
            timeout(
              1,
              each(jobs, () => sleep(0.25)),
            ),
          ),
        futureRace: () =>
          race([
            future.wait(),
            (function* loser() {
              try {
                yield* sleep(1);
              } finally {
                yield* sink.send("loser");
              }
            })(),
          ]),
        subEach: () =>
          orTimeout(
            timeout(
              1,
              each(sub, () => sleep(0.1)),
            ),
          ),
        tickerTimeout: () => orTimeout(timeout(0.5, ticker.receive())),
        allNone: () => all([]),
        nestedPermit: () =>
          pool.withPermit(
            (function* holding() {
              yield* select([sink.send("holding"), sleep(0.5)]);
              return yield* race([jobs.receive(), sleep(0.5)]);
            })(),
          ),
      }[s.kind]();
      try {
        yield* outer(name, s, body);
        mark(`after ${name}`);
      } catch (error) {
        if (!(error instanceof StageError)) throw error;
        mark(`caught ${name}`);
      }
    }
  });
  const sinkTask = worker.assign(
    (function* sinkLoop() {
      for (;;) mark(`sink got ${yield* sink.receive()}`);
    })(),
  );
  const feeder = worker.assign(
    (function* feeder() {
      for (let i = 0; ; i++) {
        yield* sleep(p.feedPeriod);
        if (i === 3) future.resolve("ready");
        if (i % 2 === 0) jobs.trySend(i);
        else yield* news.send(i);
      }
    })(),
  );
  const task = worker.assign(main());
  const tick = () => {
    if (!worker.tick()) clock.advance(0.25);
  };
  for (let steps = 0, n = 0; n < 5000 && steps < p.cancelAt && !task.isDone(); n++) {
    if (worker.tick()) steps++;
    else clock.advance(0.25);
  }
  const wasDone = task.isDone();
  const before = trace.length;
  const count = (lines: string[], end: string) => lines.filter((l) => l.endsWith(end)).length;
  const openCleanups = count(trace, ": cleanup") - count(trace, ": cleanup ends");
  task.cancel();
  for (let n = 0; n < p.secondCancel; n++) tick();
  task.cancel();
  for (let n = 0; n < 5000 && !task.isDone(); n++) tick();
  const problems: string[] = [];
  if (!task.isDone()) problems.push(`it did not end after the cancel:\n${worker.dump()}`);
  feeder.cancel();
  sinkTask.cancel();
  worker.work();
  if (!wasDone && openCleanups === 0) {
    const after = trace.slice(before);
    for (const line of after)
      if (/^after |gave$|^caught /.test(line)) problems.push(`ran after the cancel: ${line}`);
    const started = count(after, ": cleanup");
    const ended = count(after, ": cleanup ends");
    if (started !== ended) problems.push(`the cancel started ${started} cleanups; ${ended} ended`);
    if (task.state !== "cancelled") problems.push(`it ended ${task.state}`);
  }
  const reported = errors.filter((e) => !(openCleanups > 0 && e instanceof ChannelClosedError));
  if (reported.length > 0) problems.push(`reported: ${reported.map(String).join("; ")}`);
  if (!/ 0 runnable, 0 sleeping;/.test(worker.dump()) || worker.tasks.length > 0)
    problems.push(`left behind:\n${worker.dump()}`);
  if (pool.available !== 1) problems.push(`${1 - pool.available} permit(s) never came back`);
  if (jobs.trySend(99)) problems.push("a receiver was left waiting on jobs");
  if (news.subscribers !== 0) problems.push(`${news.subscribers} subscription(s) left open`);
  // A value handed to the sink just before it was cancelled stays in the channel (channel 5).
  const leftInSink: string[] = [];
  for (let r = sink.tryReceive(); r.ok; r = sink.tryReceive()) leftInSink.push(r.value);
  if (leftInSink.length > 1) problems.push(`values left in the sink: ${leftInSink.join(", ")}`);
  const once = new Map<string, number>();
  for (const line of [...trace, ...leftInSink.map((v) => `sink got ${v}`)])
    if (/: cleanup$| resource closed$| bye$/.test(line)) once.set(line, (once.get(line) ?? 0) + 1);
  for (const [line, n] of once) if (n > 1) problems.push(`${n} times: ${line}`);
  if (problems.length > 0) problems.push(`trace: ${trace.join(" | ")}`);
  return problems;
}

describe("cancel storms through select, broadcast, ticker, each, withPermit and resource", () => {
  it("end every routine, run each cleanup once and leave nothing behind, wherever the cancel lands", () => {
    fc.assert(
      fc.property(stormArb, (p) => {
        const problems = storm(p);
        assert.deepEqual(problems, []);
      }),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  });
});

/**
 * A child's error that nobody joins is thrown into its parent at its
 * current yield (design.md, rule 7), wherever that yield is: in a routine
 * reached by `yield*` whose `finally` waits, in a `shield`, in a
 * `timeout`, in the parent's own cleanup (a sleep, a shielded sleep, a race
 * whose member's cleanup waits). With the child failing at each quarter
 * second and the parent cancelled after each number of steps (or never):
 * the error is caught by the parent, or fails it and is reported, exactly
 * once; never lost, except when a cancel cut a cleanup the error was
 * passing through (a `finally` entered by the throw: JavaScript's rule,
 * docs/guide-cancellation.md); the parent's cleanup runs once and no task
 * is left. (Found nothing.)
 */
describe("a child's error reaching its parent in a cleanup, a shield or a yield*", () => {
  const shapes = ["sleep", "shieldedCleanup", "shieldBody", "raceInCleanup", "timeoutBody"];
  it("is caught, or fails the parent and is reported, exactly once, at every moment", () => {
    let runs = 0;
    for (const shape of shapes)
      for (const catches of [false, true])
        for (let failAt = 0; failAt <= 12; failAt++)
          for (let cancelAt = -1; cancelAt <= 12; cancelAt++) {
            runs++;
            const { clock, worker, errors } = collectingWorker();
            const trace: string[] = [];
            const boom = new Error(`the child fails at ${failAt / 4} s`);
            let thrown = false;
            const helper = routine(function* helper() {
              try {
                yield* sleep(1);
              } finally {
                trace.push("helper cleanup");
                yield* sleep(0.5);
                trace.push("helper cleanup ends");
              }
            });
            const parent = routine(function* parent() {
              spawn(
                (function* child() {
                  yield* sleep(failAt / 4);
                  thrown = true;
                  throw boom;
                })(),
              );
              try {
                try {
                  if (shape === "shieldBody") yield* shield(helper());
                  else if (shape === "timeoutBody") yield* timeout(0.75, helper());
                  else yield* helper();
                  yield* sleep(1);
                } finally {
                  trace.push("parent cleanup");
                  if (shape === "shieldedCleanup") yield* shield(sleep(1));
                  else if (shape === "raceInCleanup") yield* race([sleep(1), helper()]);
                  else yield* sleep(1);
                  trace.push("parent cleanup ends");
                }
              } catch (error) {
                if (!catches) throw error;
                trace.push(error === boom ? "caught" : "caught another");
              }
            });
            const task = worker.assign(parent());
            for (let steps = 0, n = 0; n < 1000 && !task.isDone(); n++) {
              if (steps === cancelAt) task.cancel();
              if (worker.tick()) steps++;
              else clock.advance(0.25);
            }
            worker.work();
            const at = `${shape}, ${catches ? "catching" : "not catching"}, child fails at ${failAt / 4} s, cancel after ${cancelAt} steps: ${trace.join(", ")}`;
            const seen =
              trace.filter((l) => l === "caught").length + errors.filter((e) => e === boom).length;
            const cut = ["helper cleanup", "parent cleanup"].some(
              (c) =>
                trace.filter((l) => l === c).length > trace.filter((l) => l === `${c} ends`).length,
            );
            assert.ok(seen <= 1, `seen ${seen} times: ${at}`);
            if (thrown && !cut) assert.equal(seen, 1, `lost: ${at}`);
            if (!thrown) assert.equal(seen, 0, at);
            // The timeout's own TimeoutError is the program's, uncaught when it does not catch.
            const others = errors.filter((e) => e !== boom && !(e instanceof TimeoutError));
            assert.deepEqual(others, [], at);
            assert.ok(trace.filter((l) => l === "parent cleanup").length <= 1, at);
            assert.equal(worker.tasks.length, 0, at);
          }
    assert.equal(runs, 1820);
  });
});

/**
 * The case a select did is spent, whether the select had to wait or not:
 * reached again by `yield*` it gives undefined (it has ended), and another
 * select refuses it. (After a select that did not wait, it stayed fresh:
 * the same program did the operation a second time, or was refused, only
 * depending on whether the first select had waited.)
 */
describe("the case a select did", () => {
  for (const waited of [false, true]) {
    it(`is spent ${waited ? "after the select waited" : "when the select did not wait"}`, () => {
      const { worker, errors } = collectingWorker();
      const jobs = new Channel<number>(2);
      const other = new Channel<number>(1);
      const trace: string[] = [];
      worker.assign(
        (function* twice() {
          const job = jobs.receive();
          trace.push(`first: ${JSON.stringify(yield* select([job, other.receive()]))}`);
          trace.push(`again: ${yield* job}`);
          try {
            yield* select([job, other.receive()]);
          } catch (error) {
            trace.push((error as Error).message);
          }
        })(),
      );
      if (waited) worker.tick(); // the select waits
      jobs.trySend(1);
      jobs.trySend(2);
      worker.work();
      assert.deepEqual(trace, [
        'first: {"index":0,"value":1}',
        "again: undefined",
        "select(): case 0 (receive from a channel (1/2 buffered)) was already used; each case " +
          "must be a fresh operation",
      ]);
      assert.equal(jobs.size, 1, "the second job is still there");
      assert.deepEqual(errors, []);
    });
  }
});
