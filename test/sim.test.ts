/**
 * Deterministic simulation: find a concurrency bug, replay it exactly,
 * shrink it to its essence.
 *
 * Tasks switch only at `yield`, so the worker can choose every
 * interleaving. A worker made with a `schedule` asks it which runnable
 * task steps next; `explore()` runs a program under many schedules,
 * records every choice, and turns the first failing run into a token
 * that `replay()` repeats exactly, shrunk toward plain round-robin.
 *
 * The second half of this file is a corpus of classic concurrency bugs,
 * each with a fixed twin that must never fail.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Channel,
  routine,
  type Schedule,
  Semaphore,
  sleep,
  spawn,
  VirtualClock,
  Worker,
} from "../src/index.ts";
import { explore, type Outcome, ReplayDivergedError, replay, sim } from "../src/sim.ts";

/** The check of programs that return a number that must be `expected`. */
const returns =
  (expected: unknown) =>
  (outcome: Outcome<unknown>): string | null => {
    if (!outcome.ok) return `it failed: ${String(outcome.error)}`;
    return outcome.value === expected ? null : `it returned ${String(outcome.value)}`;
  };

/** Runs `program` on a fresh scheduled worker; returns its trace (what the program logs) and its outcome. */
function runUnder(
  schedule: Schedule | undefined,
  program: (log: string[]) => Generator<unknown, unknown, any>,
): { log: string[]; error?: unknown } {
  const log: string[] = [];
  const clock = new VirtualClock();
  const worker = new Worker(schedule === undefined ? { clock } : { clock, schedule });
  worker.assign(program(log));
  try {
    worker.work();
  } catch (error) {
    return { log, error };
  }
  return { log };
}

/** A program of three chatty tasks with sleeps and a channel: many interleavings. */
function* chatty(log: string[]): Generator<unknown, void, any> {
  const channel = new Channel<string>(1);
  const talker = (name: string, n: number) =>
    spawn(
      routine(function* talk() {
        for (let i = 0; i < n; i++) {
          log.push(`${name}${i}`);
          if (i % 2 === 0) yield;
          else yield* sleep(0.5);
        }
        yield* channel.send(name);
      })(),
    );
  const tasks = [talker("a", 4), talker("b", 3), talker("c", 5)];
  for (let i = 0; i < tasks.length; i++) log.push(`got ${yield* channel.receive()}`);
  for (const task of tasks) yield task;
}

describe("the schedule option", () => {
  it("is asked which task steps only when two or more are runnable, and its index picks from the run queue", () => {
    const asked: string[][] = [];
    const schedule: Schedule = {
      pick(runnable) {
        asked.push(runnable.map((t) => t.name));
        return runnable.length - 1; // always the youngest: last in the queue
      },
      choose: () => 0,
    };
    const { log } = runUnder(schedule, function* main(log) {
      const a = spawn(
        routine(function* a() {
          log.push("a");
        })(),
      );
      const b = spawn(
        routine(function* b() {
          log.push("b");
        })(),
      );
      yield a;
      yield b;
    });
    assert.deepEqual(log, ["b", "a"]); // round-robin would say a, b
    assert.deepEqual(asked[0], ["a", "b"]);
    for (const runnable of asked) assert.ok(runnable.length >= 2);
  });

  it("with every choice 0 is the plain round-robin worker, step for step", () => {
    const zero: Schedule = { pick: () => 0, choose: () => 0 };
    assert.deepEqual(runUnder(zero, chatty).log, runUnder(undefined, chatty).log);
    assert.deepEqual(runUnder(replay("cw1:"), chatty).log, runUnder(undefined, chatty).log);
  });

  it("reports a pick out of range with what was expected, and steps the first task instead", () => {
    const schedule: Schedule = { pick: () => 7, choose: () => 0 };
    const { log, error } = runUnder(schedule, function* main(log) {
      spawn(
        routine(function* a() {
          log.push("a");
        })(),
      );
      yield; // now two are runnable: a, then main
      log.push("main");
    });
    assert.deepEqual(log, ["a"]); // the head stepped; then work() threw the report
    assert.match(String(error), /pick\(\) must return a whole number from 0 to 1 .*got number 7/);
  });

  it("refuses anything but an object with pick() and choose()", () => {
    assert.throws(
      () => new Worker({ schedule: { pick: () => 0 } as unknown as Schedule }),
      /Worker option "schedule" expects an object with pick\(\) and choose\(\), got/,
    );
  });

  it("refuses a wait on a promise under a schedule, saying why: it settles outside the simulation", () => {
    const { error } = runUnder({ pick: () => 0, choose: () => 0 }, function* main() {
      yield Promise.resolve(1);
    });
    assert.match(String(error), /waits on a promise under a schedule.*neither order nor replay it/);
  });
});

describe("sim()", () => {
  it("is null outside a routine, and under a worker without a schedule (code written for simulation runs unchanged)", () => {
    assert.equal(sim(), null);
    const { log } = runUnder(undefined, function* main(log) {
      log.push(String(sim()?.fault("disk full") ?? "no sim"));
    });
    assert.deepEqual(log, ["no sim"]);
  });

  it("draws faults and data choices from the schedule, labelled", () => {
    const asked: string[] = [];
    const schedule: Schedule = {
      pick: () => 0,
      choose(options, label) {
        asked.push(`${label}/${options}`);
        return options - 1;
      },
    };
    const { log } = runUnder(schedule, function* main(log) {
      const env = sim();
      log.push(String(env?.fault("disk full")), String(env?.choose(3, "reply")));
    });
    assert.deepEqual(log, ["true", "2"]);
    assert.deepEqual(asked, ["fault disk full/2", "reply/3"]);
  });

  it("refuses a choice among no options", () => {
    const { error } = runUnder({ pick: () => 0, choose: () => 0 }, function* main() {
      sim()?.choose(0, "nothing");
    });
    assert.match(
      String(error),
      /sim\(\)\.choose\(\) expects a whole number of options above 0, got number 0/,
    );
  });
});

describe("explore()", () => {
  /** Lost update needing one preemption: round-robin passes it. */
  function* lostUpdate(): Generator<unknown, number, any> {
    let counter = 0;
    const a = spawn(
      routine(function* readThenWrite() {
        const read = counter;
        yield; // the other task may run here
        counter = read + 1;
      })(),
    );
    const b = spawn(
      routine(function* atomic() {
        yield;
        counter += 1;
      })(),
    );
    yield a;
    yield b;
    return counter;
  }

  it("finds a lost update, gives a token that replays it, and shrinks it to one delay", () => {
    const result = explore(lostUpdate, { check: returns(2), runs: 1000 });
    assert.equal(result.ok, false);
    if (result.ok) return;
    const { failure } = result;
    assert.equal(failure.why, "it returned 1");
    assert.equal(failure.delays, 1, "one task stepping out of turn is the whole bug");
    assert.match(failure.shrunk, /^cw1:/);
    assert.equal(failure.trace.length, 1);
    assert.match(
      failure.trace[0] as string,
      /^step \d+: task "atomic" \(#3\) steps before task "readThenWrite" \(#2\)$/,
    );
    // Twice out of twice, each replay on a worker of its own fails the same way.
    for (const token of [failure.shrunk, failure.shrunk, failure.token]) {
      const worker = new Worker({ clock: new VirtualClock(), schedule: replay(token) });
      const main = worker.assign(lostUpdate());
      worker.work();
      assert.equal(main.result, 1);
    }
    // The seed alone runs the failing schedule again.
    const again = explore(lostUpdate, { check: returns(2), runs: 1, seed: failure.seed });
    assert.equal(again.ok, false);
  });

  it("explores the same schedules for the same master seed", () => {
    const tokens = (seed: number) => {
      const seen: string[] = [];
      explore(lostUpdate, {
        runs: 50,
        seed,
        shrink: false,
        check: (outcome) => {
          seen.push(String(outcome.ok && outcome.value));
          return null;
        },
      });
      return seen.join();
    };
    assert.equal(tokens(42), tokens(42));
  });

  it("says so when a replay meets other choices than it recorded (state kept between runs)", () => {
    let runs = 0; // outside the program: each run sees another value
    function* flaky(): Generator<unknown, number, any> {
      runs++;
      const tasks = [];
      for (let i = 0; i < 2 + (runs % 3); i++)
        tasks.push(
          spawn(
            routine(function* t() {
              yield;
            })(),
          ),
        );
      for (const t of tasks) yield t;
      return 0;
    }
    const result = explore(flaky, { runs: 1, shrink: false, check: () => "always fails" });
    assert.equal(result.ok, false);
    if (result.ok) return;
    const worker = new Worker({
      clock: new VirtualClock(),
      schedule: replay(result.failure.token),
    });
    worker.assign(flaky());
    assert.throws(
      () => worker.work(),
      (error) => error instanceof ReplayDivergedError && /is not deterministic/.test(error.message),
    );
  });

  it("refuses bad options and damaged tokens with what was expected", () => {
    const program = function* () {};
    assert.throws(
      () => explore(program, { runs: 0 }),
      /option "runs" expects a whole number of at least 1, got number 0/,
    );
    assert.throws(
      () => explore(program, { faults: { rate: 2 } }),
      /"faults.rate" expects a number from 0 to 1, got number 2/,
    );
    assert.throws(
      () => explore(42 as never),
      /explore\(\) expects a function that returns a routine, got number 42/,
    );
    assert.throws(() => replay("abc"), /replay\(\) expects a token made by explore\(\)/);
    assert.throws(() => replay("cw1:3/2"), /the token is damaged at "3\/2"/);
  });
});

describe("a corpus of concurrency bugs, each with a fixed twin", () => {
  /** Each bug is found within 1,000 schedules for several master seeds; each twin passes `twinRuns`. */
  const seeds = [1, 2, 3];
  const twinRuns = 2000;

  function expectFound<R>(
    name: string,
    program: () => Generator<unknown, R, any>,
    options: Parameters<typeof explore<R>>[1],
    why: RegExp,
  ): void {
    for (const seed of seeds) {
      const result = explore(program, { ...options, seed, runs: 1000 });
      assert.equal(result.ok, false, `${name}: not found with seed ${seed}`);
      if (result.ok) return;
      assert.match(result.failure.why, why, name);
      // Its seed runs it again, and its shrunk token fails again, twice out of twice.
      const again = explore(program, {
        ...options,
        runs: 1,
        shrink: false,
        seed: result.failure.seed,
      });
      assert.equal(again.ok, false, `${name}: seed ${result.failure.seed} does not fail again`);
      const check = options?.check ?? ((outcome: Outcome<R>) => (outcome.ok ? null : "failed"));
      for (let i = 0; i < 2; i++) {
        const outcome = outcomeOf(program, result.failure.shrunk);
        assert.notEqual(check(outcome, {} as never), null, `${name}: the shrunk token passes`);
      }
    }
  }

  /** The outcome of `program` on a worker replaying `token`. */
  function outcomeOf<R>(program: () => Generator<unknown, R, any>, token: string): Outcome<R> {
    const errors: unknown[] = [];
    const worker = new Worker({
      clock: new VirtualClock(),
      schedule: replay(token),
      onError: (error) => errors.push(error),
    });
    const main = worker.assign(program());
    try {
      worker.work();
    } catch (error) {
      return { ok: false, error };
    }
    if (main.state !== "done") return { ok: false, error: main.error };
    return errors.length > 0 ? { ok: false, error: errors[0] } : { ok: true, value: main.result };
  }

  function expectHolds<R>(
    name: string,
    program: () => Generator<unknown, R, any>,
    options: Parameters<typeof explore<R>>[1],
  ): void {
    const result = explore(program, { ...options, runs: twinRuns });
    assert.deepEqual(result, { ok: true, runs: twinRuns }, name);
  }

  it("lost update: read, yield, write back; fixed: the read and the write under one lock", () => {
    const counterProgram = (locked: boolean) =>
      function* counter(): Generator<unknown, number, any> {
        let value = 0;
        const lock = new Semaphore(1);
        const increment = function* increment() {
          const body = (function* readWrite() {
            const read = value;
            yield;
            value = read + 1;
          })();
          if (locked) yield* lock.withPermit(body);
          else yield* body;
        };
        const tasks = [spawn(increment()), spawn(increment()), spawn(increment())];
        for (const t of tasks) yield t;
        return value;
      };
    expectFound("lost update", counterProgram(false), { check: returns(3) }, /returned [12]/);
    expectHolds("lost update, fixed", counterProgram(true), { check: returns(3) });
  });

  it("check-then-act: two tasks both find the cache empty; fixed: the check and the act in one step", () => {
    const cacheProgram = (atomic: boolean) =>
      function* cache(): Generator<unknown, number, any> {
        const cache = new Map<string, number>();
        let loads = 0;
        const get = function* get(delay: number) {
          for (let i = 0; i < delay; i++) yield;
          if (atomic) {
            if (!cache.has("k")) {
              loads++;
              cache.set("k", 1);
            }
            return;
          }
          if (!cache.has("k")) {
            yield; // "load" it
            loads++;
            cache.set("k", 1);
          }
        };
        const a = spawn(get(0));
        const b = spawn(get(2));
        yield a;
        yield b;
        return loads;
      };
    expectFound("check-then-act", cacheProgram(false), { check: returns(1) }, /returned 2/);
    expectHolds("check-then-act, fixed", cacheProgram(true), { check: returns(1) });
  });

  it("lock-order deadlock: two locks taken in opposite orders; fixed: one order", () => {
    const locksProgram = (sameOrder: boolean) =>
      function* locks(): Generator<unknown, string, any> {
        const first = new Semaphore(1);
        const second = new Semaphore(1);
        const worker = function* worker(a: Semaphore, b: Semaphore, delay: number) {
          for (let i = 0; i < delay; i++) yield;
          yield* a.acquire();
          yield;
          yield* b.acquire();
          b.release();
          a.release();
        };
        const x = spawn(worker(first, second, 0));
        const y = spawn(sameOrder ? worker(first, second, 3) : worker(second, first, 3));
        yield x;
        yield y;
        return "done";
      };
    expectFound(
      "lock-order deadlock",
      locksProgram(false),
      {},
      /deadlocked.*WouldBlockError|deadlocked/,
    );
    expectHolds("lock order, fixed", locksProgram(true), {});
    const result = explore(locksProgram(false), { runs: 1000 });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.ok(result.failure.delays >= 1, "round-robin itself does not deadlock");
  });

  it("order violation: a reader runs before the writer initialised what it reads; fixed: it waits for a signal", () => {
    const orderProgram = (signalled: boolean) =>
      function* order(): Generator<unknown, string, any> {
        let config: string | undefined;
        const ready = new Channel<void>(1);
        const writer = spawn(
          routine(function* writer() {
            yield;
            yield;
            config = "loaded";
            yield* ready.send();
          })(),
        );
        const reader = spawn(
          routine(function* reader() {
            if (signalled) yield* ready.receive();
            else {
              yield;
              yield;
              yield;
            }
            return config ?? "undefined";
          })(),
        );
        yield writer;
        return (yield reader) as string;
      };
    expectFound(
      "order violation",
      orderProgram(false),
      { check: returns("loaded") },
      /returned undefined/,
    );
    expectHolds("order violation, fixed", orderProgram(true), { check: returns("loaded") });
  });

  it("a bug two preemptions deep: a reader sees a torn pair of fields; fixed: both fields under one lock", () => {
    const tornProgram = (locked: boolean) =>
      function* torn(): Generator<unknown, string, any> {
        const pair = { x: 0, y: 0 };
        const lock = new Semaphore(1);
        const writer = spawn(
          routine(function* writer() {
            for (let i = 1; i <= 2; i++) {
              const body = (function* write() {
                pair.x = i;
                yield;
                pair.y = i;
              })();
              if (locked) yield* lock.withPermit(body);
              else yield* body;
            }
          })(),
        );
        const reader = spawn(
          routine(function* reader() {
            let seen = "consistent";
            for (let i = 0; i < 4; i++) {
              const body = (function* read() {
                const x = pair.x;
                yield;
                const y = pair.y;
                if (x !== y) seen = `torn ${x}/${y}`;
              })();
              if (locked) yield* lock.withPermit(body);
              else yield* body;
              yield;
            }
            return seen;
          })(),
        );
        yield writer;
        return (yield reader) as string;
      };
    expectFound("torn read", tornProgram(false), { check: returns("consistent") }, /returned torn/);
    expectHolds("torn read, fixed", tornProgram(true), { check: returns("consistent") });
  });

  it("timer ties: two sleepers due at the same time run in either order; fixed: the order is made explicit", () => {
    const tiesProgram = (explicit: boolean) =>
      function* ties(): Generator<unknown, string, any> {
        const log: string[] = [];
        const early = spawn(
          routine(function* early() {
            yield* sleep(1);
            log.push("early");
          })(),
        );
        const late = spawn(
          routine(function* late() {
            yield* sleep(1);
            if (explicit) yield early;
            log.push("late");
          })(),
        );
        yield early;
        yield late;
        return log.join(",");
      };
    expectFound(
      "timer ties",
      tiesProgram(false),
      { check: returns("early,late") },
      /returned late,early/,
    );
    expectHolds("timer ties, fixed", tiesProgram(true), { check: returns("early,late") });
  });

  it("a fault that leaks a permit: an error between acquire and release; fixed: release in finally", () => {
    const leakProgram = (guarded: boolean) =>
      function* leak(): Generator<unknown, string, any> {
        const lock = new Semaphore(1);
        const job = function* job() {
          yield* lock.acquire();
          if (guarded) {
            try {
              if (sim()?.fault("crash")) throw new Error("crash");
              yield;
            } finally {
              lock.release();
            }
          } else {
            if (sim()?.fault("crash")) throw new Error("crash");
            yield;
            lock.release();
          }
        };
        for (let i = 0; i < 3; i++) {
          try {
            yield spawn(job());
          } catch {
            // a crashed job is retried by the next one
          }
        }
        return "done";
      };
    const options = { faults: { rate: 0.3 } };
    expectFound("leaked permit", leakProgram(false), options, /deadlocked/);
    expectHolds("leaked permit, fixed", leakProgram(true), options);
    const result = explore(leakProgram(false), options);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.failure.delays, 1, "one injected fault is the whole bug");
    assert.equal(result.failure.trace.length, 1);
    assert.match(result.failure.trace[0] as string, /^step \d+: fault injected: crash$/);
  });
});
