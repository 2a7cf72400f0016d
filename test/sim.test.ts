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
import { type CorpusEntry, corpus, returns } from "./sim-corpus.ts";

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

  it("lends pick() one array, refilled for every pick: a schedule that keeps it must copy it", () => {
    const lent = new Set<readonly unknown[]>();
    const copies: string[][] = [];
    const schedule: Schedule = {
      pick(runnable) {
        lent.add(runnable);
        copies.push(runnable.map((t) => t.name));
        return 0;
      },
      choose: () => 0,
    };
    runUnder(schedule, chatty);
    assert.ok(copies.length > 10, "chatty makes many picks");
    assert.equal(lent.size, 1, "no array is made per pick");
    assert.notDeepEqual(copies[0], copies.at(-1), "the array changed from pick to pick");
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

  /** Records a run of `program` (which fails by fiat), and expects its replay to throw a ReplayDivergedError. */
  function expectDiverges(program: () => Generator<unknown, unknown, any>, message: RegExp): void {
    const result = explore(program, { runs: 1, shrink: false, check: () => "always fails" });
    assert.equal(result.ok, false);
    if (result.ok) return;
    const worker = new Worker({
      clock: new VirtualClock(),
      schedule: replay(result.failure.token),
    });
    worker.assign(program());
    assert.throws(
      () => worker.work(),
      (error) => error instanceof ReplayDivergedError && message.test(error.message),
    );
  }

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
    expectDiverges(
      flaky,
      /at choice \d+ .* options were recorded, \d+ met now\. The program is not deterministic/,
    );
  });

  it("says so when a replayed program ends before it has made every choice it recorded", () => {
    let runs = 0; // outside the program: the second run is shorter
    function* shrinking(): Generator<unknown, number, any> {
      runs++;
      const steps = runs === 1 ? 4 : 1;
      const talk = routine(function* talk() {
        for (let i = 0; i < steps; i++) yield;
      });
      const a = spawn(talk());
      const b = spawn(talk());
      yield a;
      yield b;
      return 0;
    }
    expectDiverges(
      shrinking,
      /the program ended after \d+ of its \d+ recorded choices\. The program is not deterministic/,
    );
  });

  it("runs the failure it reports once more, and says when it does not fail again: not deterministic", () => {
    let calls = 0; // outside the program: only its second run fails
    function* secondFails(): Generator<unknown, number, any> {
      calls++;
      yield;
      return calls;
    }
    const result = explore(secondFails, {
      runs: 3,
      check: (o) => (o.ok && o.value === 2 ? "it was run twice" : null),
    });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.match(
      result.failure.why,
      /^The program is not deterministic: .*: its failing schedule, run again, passed \(it had failed with: it was run twice\)$/,
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
  /**
   * Each bug is found within 1,000 schedules for several master seeds and
   * shrunk to within one delay of its fewest; each twin passes `twinRuns`
   * (10,000 in npm run bench -- sim).
   */
  const seeds = [1, 2, 3, 4, 5];
  const twinRuns = 2000;
  const entries = corpus({ Channel, routine, Semaphore, sim, sleep, spawn });
  const entry = (name: string): CorpusEntry => {
    const found = entries.find((e) => e.name === name);
    if (found === undefined) throw new Error(`no corpus entry "${name}"`);
    return found;
  };

  function expectFound({ name, bug, options, why, delays }: CorpusEntry): void {
    for (const seed of seeds) {
      const result = explore(bug, { ...options, seed, runs: 1000 });
      assert.equal(result.ok, false, `${name}: not found with seed ${seed}`);
      if (result.ok) return;
      assert.match(result.failure.why, why, name);
      // Shrunk to within one delay of the fewest there are (never below: that is the fewest).
      assert.ok(
        result.failure.delays >= delays && result.failure.delays <= delays + 1,
        `${name}: shrunk to ${result.failure.delays} delays, the fewest are ${delays}`,
      );
      // Its seed runs it again, and its shrunk token fails again, twice out of twice.
      const again = explore(bug, { ...options, runs: 1, shrink: false, seed: result.failure.seed });
      assert.equal(again.ok, false, `${name}: seed ${result.failure.seed} does not fail again`);
      const check =
        options.check ?? ((outcome: Outcome<unknown>) => (outcome.ok ? null : "failed"));
      for (let i = 0; i < 2; i++) {
        const outcome = outcomeOf(bug, result.failure.shrunk);
        assert.notEqual(check(outcome, {} as never), null, `${name}: the shrunk token passes`);
      }
    }
  }

  /** The outcome of `program` on a worker replaying `token`. */
  function outcomeOf<R>(program: () => Generator<unknown, R, any>, token: string): Outcome<R> {
    return outcomeUnder(program, replay(token));
  }

  /** The outcome of `program` on a worker under `schedule`. */
  function outcomeUnder<R>(
    program: () => Generator<unknown, R, any>,
    schedule: Schedule,
  ): Outcome<R> {
    const errors: unknown[] = [];
    const worker = new Worker({
      clock: new VirtualClock(),
      schedule,
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

  /**
   * The fewest delays of any failing schedule of the entry's bug, found our
   * own way, independent of explore()'s shrinker: every schedule with 0
   * delays, then 1, 2 ... up to `limit`, enumerated depth first (each
   * choice point a run meets, past the choices already fixed, tried with
   * every non-zero choice the delays left allow). Null above `limit`.
   */
  function fewestDelays({ bug, options }: CorpusEntry, limit: number): number | null {
    const check = options.check ?? ((outcome: Outcome<unknown>) => (outcome.ok ? null : "failed"));
    /** Runs `prefix` then choice 0: whether it fails, and how many options each choice had. */
    const run = (prefix: readonly number[]): { fails: boolean; met: number[] } => {
      const met: number[] = [];
      const next = (count: number): number => {
        const choice = prefix[met.length] ?? 0;
        met.push(count);
        return choice;
      };
      const outcome = outcomeUnder(bug, { pick: (r) => next(r.length), choose: (n) => next(n) });
      return { fails: check(outcome, {} as never) !== null, met };
    };
    const failsWithin = (prefix: number[], left: number): boolean => {
      const { fails, met } = run(prefix);
      if (fails) return true;
      for (let i = prefix.length; i < met.length; i++) {
        for (let c = 1; c < (met[i] as number) && c <= left; c++) {
          const next = met.slice(0, i).map((_, k) => prefix[k] ?? 0);
          next.push(c);
          if (failsWithin(next, left - c)) return true;
        }
      }
      return false;
    };
    for (let bound = 0; bound <= limit; bound++) if (failsWithin([], bound)) return bound;
    return null;
  }

  function expectHolds({ name, fixed, options }: CorpusEntry): void {
    const result = explore(fixed, { ...options, runs: twinRuns });
    assert.deepEqual(result, { ok: true, runs: twinRuns }, `${name}, fixed`);
  }

  it("states each bug's fewest delays, as our own enumeration of every schedule finds them", () => {
    for (const e of entries) assert.equal(fewestDelays(e, e.delays), e.delays, e.name);
  });

  for (const e of entries) {
    it(`${e.name}: ${e.story}`, () => {
      expectFound(e);
      expectHolds(e);
    });
  }

  it("a lock-order deadlock is never round-robin's: it takes at least one delay", () => {
    const { bug, options } = entry("lock-order deadlock");
    const result = explore(bug, { ...options, runs: 1000 });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.ok(result.failure.delays >= 1, "round-robin itself does not deadlock");
  });

  it("a leaked permit shrinks to the one injected fault, and its trace says where", () => {
    const { bug, options } = entry("leaked permit");
    const result = explore(bug, options);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.failure.delays, 1, "one injected fault is the whole bug");
    assert.equal(result.failure.trace.length, 1);
    assert.match(result.failure.trace[0] as string, /^step \d+: fault injected: crash$/);
  });
});
