/**
 * all, race and timeout: routines run together.
 *
 * Each runs its routines as child tasks of the calling task, named after
 * the routines, so `worker.dump()` shows them and their errors keep the
 * routine names. The ones no longer needed are cancelled, and the call
 * returns or throws only after their `finally` blocks have run.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expectTypeOf } from "expect-type";
import {
  all,
  CancelledError,
  race,
  routine,
  sleep,
  TimeoutError,
  timeout,
  VirtualClock,
  Worker,
  wrap,
} from "../src/index.ts";

const nap = routine(function* nap(seconds: number, value: string) {
  yield sleep(seconds);
  return value;
});

const fail = routine(function* fail(seconds: number, message: string): Generator<unknown, never> {
  yield sleep(seconds);
  throw new Error(message);
});

describe("all", () => {
  it("runs routines at once and gives their results in order", () => {
    const clock = new VirtualClock();
    const results = wrap(all([nap(3, "slow"), nap(1, "quick"), nap(2, "middle")]), { clock });
    assert.deepEqual(results, ["slow", "quick", "middle"]);
    assert.equal(clock.now(), 3, "concurrently: the longest, not the sum");
  });

  it("infers a tuple of result types", () => {
    function* typed() {
      const [a, b] = yield* all([
        nap(1, "x"),
        (function* () {
          return 5;
        })(),
      ]);
      expectTypeOf(a).toEqualTypeOf<string>();
      expectTypeOf(b).toEqualTypeOf<number>();
      return [a, b] as const;
    }
    assert.deepEqual(wrap(typed(), { clock: new VirtualClock() }), ["x", 5]);
  });

  it("throws the first failure after cancelling the others and letting them clean up", () => {
    const clock = new VirtualClock();
    const trace: string[] = [];
    const patient = routine(function* patient() {
      try {
        yield sleep(100);
      } finally {
        trace.push(`patient cleaned up at ${clock.now()}`);
        yield sleep(1); // cleanup may take time; all() waits for it
      }
    });
    function* main() {
      try {
        yield* all([patient(), fail(2, "broken")]);
      } catch (error) {
        trace.push(`caught "${(error as Error).message}" at ${clock.now()}`);
      }
    }
    wrap(main(), { clock });
    assert.deepEqual(trace, ["patient cleaned up at 2", 'caught "broken" at 3']);
  });

  it("shows its children in dump() and keeps routine names in errors", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock, onError: () => {} });
    const fetchPage = routine(function* fetchPage() {
      yield sleep(1);
      throw new Error("404");
    });
    const crawl = routine(function* crawl() {
      yield* all([nap(5, "home"), fetchPage()]);
    });
    const task = worker.assign(crawl());
    while (worker.tick()) {}
    const dump = worker.dump();
    assert.match(dump, /task "crawl" waiting on 2 of 2 routines\n {4}at crawl\n/);
    assert.match(dump, /task "nap" waiting on sleep\(5\) until 5\.000\n {6}at all > nap\n/);
    assert.match(dump, /task "nap" waiting on sleep\(5\)/);
    assert.match(dump, /task "fetchPage" waiting on sleep\(1\)/);
    worker.work();
    assert.equal(task.state, "failed");
    assert.match(
      String((task.error as Error).stack),
      /task "fetchPage", routine stack: all > fetchPage/,
    );
  });

  it("refuses what is not an array of routines", () => {
    assert.throws(
      () => all("nope" as never),
      /all\(\) expects an array of routines.*got string "nope"/,
    );
    assert.throws(() => all([nap(1, "a"), 7] as never), /item 1 is number 7/);
  });
});

describe("race", () => {
  it("gives the first routine to finish; the others are cancelled and have cleaned up", () => {
    const clock = new VirtualClock();
    const cleaned: string[] = [];
    const runner = routine(function* runner(name: string, seconds: number) {
      try {
        yield sleep(seconds);
        return name;
      } finally {
        cleaned.push(`${name} at ${clock.now()}`);
      }
    });
    const winner = wrap(race([runner("tortoise", 10), runner("hare", 2)]), { clock });
    assert.equal(winner, "hare");
    assert.deepEqual(cleaned, ["hare at 2", "tortoise at 2"]);
  });

  it("throws when the first to finish fails", () => {
    const clock = new VirtualClock();
    assert.throws(
      () => wrap(race([nap(5, "late"), fail(1, "early failure")]), { clock }),
      /early failure/,
    );
  });

  it("needs at least one routine", () => {
    assert.throws(() => wrap(race([])), /race\(\) needs at least one routine/);
  });
});

describe("timeout", () => {
  it("races a slow routine against a deadline: TimeoutError, and the routine is cancelled", () => {
    const clock = new VirtualClock();
    const trace: string[] = [];
    const slowQuery = routine(function* slowQuery() {
      try {
        yield sleep(30);
        return "rows";
      } finally {
        trace.push(`query cancelled at ${clock.now()}`);
      }
    });
    assert.throws(
      () => wrap(timeout(5, slowQuery()), { clock }),
      (error: unknown) =>
        error instanceof TimeoutError &&
        error.message === 'task "slowQuery" timed out after 5 s (it was cancelled)',
    );
    assert.deepEqual(trace, ["query cancelled at 5"]);
  });

  it("gives the routine's value or error when it ends in time", () => {
    const clock = new VirtualClock();
    assert.equal(wrap(timeout(5, nap(1, "in time")), { clock }), "in time");
    assert.throws(() => wrap(timeout(5, fail(1, "own error")), { clock }), /own error/);
    assert.equal(clock.now(), 2, "the timer did not hold anything up");
  });

  it("is cancelled with its caller, and so is the routine", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    const trace: string[] = [];
    const guarded = routine(function* guarded() {
      try {
        yield sleep(100);
      } finally {
        trace.push("guarded routine cleaned up");
      }
    });
    function* caller() {
      try {
        yield* timeout(50, guarded());
      } catch (error) {
        trace.push(`caller saw ${(error as Error).name}`);
      }
    }
    const task = worker.assign(caller());
    while (worker.tick()) {}
    task.cancel();
    worker.work();
    assert.deepEqual(trace, ["guarded routine cleaned up"]);
    assert.equal(task.state, "cancelled");
    assert.ok(!trace.some((line) => line.includes(CancelledError.name)));
  });

  it("refuses bad seconds and non-routines at the call", () => {
    assert.throws(() => timeout(-1, nap(1, "x")), RangeError);
    assert.throws(() => timeout(Number.NaN, nap(1, "x")), RangeError);
    assert.throws(() => timeout(1, (() => 5) as never), /timeout\(\) expects an array of routines/);
  });
});
