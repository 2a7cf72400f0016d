/**
 * Timers and time: sleep, repeat, the VirtualClock, and how work() waits.
 *
 * Time is in seconds. `sleep(s)` parks a task on the worker's timer queue,
 * where it costs no steps; it becomes runnable at the first step at or
 * after its deadline. A VirtualClock moves only when told to (a game
 * advances it each frame), and `work()` jumps it to the next deadline when
 * every task sleeps, so these tests never wait for real time, except the
 * one that checks that real sleeps are real.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  repeat,
  routine,
  sleep,
  VirtualClock,
  Wait,
  Worker,
  WouldBlockError,
} from "../src/index.ts";

describe("sleep", () => {
  it("parks a task until its deadline; a parked task costs no steps (semantic 6)", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    const trace: string[] = [];
    function* sleeper() {
      trace.push(`sleeps at ${clock.now()}`);
      yield sleep(1.5);
      trace.push(`wakes at ${clock.now()}`);
    }
    worker.assign(sleeper());
    while (worker.tick()) {} // runs until the sleeper is parked
    const steps = worker.counters.steps;
    assert.equal(worker.tick(), false, "nothing is runnable while it sleeps");
    clock.advance(1);
    assert.equal(worker.tick(), false, "not yet at 1 s");
    assert.equal(worker.counters.steps, steps, "no steps were spent on the sleeper");
    clock.advance(0.5);
    worker.work();
    assert.deepEqual(trace, ["sleeps at 0", "wakes at 1.5"]);
  });

  it("wakes equal deadlines in the order they were set, and earlier deadlines first", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    const woke: string[] = [];
    const nap = routine(function* nap(name: string, seconds: number) {
      yield sleep(seconds);
      woke.push(name);
    });
    worker.assign(nap("c", 2));
    worker.assign(nap("a", 1));
    worker.assign(nap("b", 1));
    worker.assign(nap("d", 2));
    worker.work();
    assert.deepEqual(woke, ["a", "b", "c", "d"]);
    assert.equal(clock.now(), 2);
  });

  it("sleep(0) only gives up control", () => {
    const trace: string[] = [];
    function* a() {
      trace.push("a1");
      yield sleep(0);
      trace.push("a2");
    }
    function* b() {
      for (let i = 1; i <= 4; i++) {
        trace.push(`b${i}`);
        yield;
      }
    }
    const worker = new Worker({ clock: new VirtualClock() });
    worker.assign(a());
    worker.assign(b());
    worker.work();
    // Yielding sleep(0) is one step, like a plain yield: a goes to the back of the queue.
    assert.deepEqual(trace, ["a1", "b1", "a2", "b2", "b3", "b4"]);
  });

  it("refuses negative, NaN and infinite seconds at the call, with a RangeError (semantic 3)", () => {
    assert.throws(() => sleep(-1), {
      name: "RangeError",
      message: "sleep() expects zero or more seconds, got -1",
    });
    assert.throws(() => sleep(Number.NaN), { name: "RangeError", message: /got NaN/ });
    assert.throws(() => sleep(Number.POSITIVE_INFINITY), { name: "RangeError", message: /finite/ });
    assert.throws(() => sleep("1" as never), { name: "TypeError", message: /got string 1/ });
  });

  it("sleeps for real with the real clock, without spinning", () => {
    const worker = new Worker();
    function* nap() {
      yield sleep(0.05);
    }
    worker.assign(nap());
    const wall = performance.now();
    const cpu = process.cpuUsage();
    worker.work();
    const elapsed = (performance.now() - wall) / 1000;
    const used = process.cpuUsage(cpu);
    assert.ok(elapsed >= 0.05, `slept ${elapsed} s`);
    // Generous bound: a spin would burn ~50 ms of CPU; blocking in Atomics.wait burns ~none.
    assert.ok(
      (used.user + used.system) / 1e6 < 0.03,
      `used ${(used.user + used.system) / 1000} ms of CPU`,
    );
  });

  it("is one object: its own iterator, its own first result, then done; yield* sleeps once", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    const nap = sleep(2); // made outside a step: its 2 s count from the park
    assert.equal(nap[Symbol.iterator](), nap);
    const first = nap.next();
    assert.equal(first, nap, "the first result is the sleep itself (nothing more to keep alive)");
    assert.equal(first.done, false);
    assert.equal(first.value, nap);
    assert.deepEqual(nap.next(), { value: undefined, done: true });
    assert.deepEqual(nap.next(), { value: undefined, done: true }, "and stays done");

    const trace: string[] = [];
    const later = sleep(3);
    function* sleeper() {
      clock.advance(10);
      yield* later; // parks at 10: wakes at 13, whenever the sleep was made
      trace.push(`woke at ${clock.now()}`);
      yield* later; // an ended sleep: yield* goes straight on
      trace.push(`again at ${clock.now()}`);
      yield* sleep(1); // made in a step: counts from now
      trace.push(`last at ${clock.now()}`);
    }
    const task = worker.assign(sleeper());
    worker.tick();
    assert.equal(worker.describeState(task), "waiting on sleep until 13.000");
    worker.work();
  });

  it("says how long a sleep not yet parked will sleep, and when a parked one wakes", () => {
    const nap = sleep(2.5);
    assert.ok(nap instanceof Wait, "a sleep is a wait");
    assert.equal(nap.describe(), "sleep(2.5)");
    const clock = new VirtualClock(4);
    const worker = new Worker({ clock });
    const task = worker.assign(
      (function* () {
        yield nap;
      })(),
    );
    worker.tick();
    assert.equal(worker.describeState(task), "waiting on sleep until 6.500");
  });

  it("is one task's wait: a second task yielding the same sleep gets an error, and the worker goes on", () => {
    const clock = new VirtualClock();
    const errors: string[] = [];
    const worker = new Worker({ clock, onError: (e) => errors.push((e as Error).message) });
    const shared = sleep(1);
    const trace: string[] = [];
    const nap = routine(function* nap(name: string) {
      yield shared;
      trace.push(`${name} woke at ${clock.now()}`);
    });
    worker.assign(nap("first"));
    worker.assign(nap("second"));
    worker.work();
    assert.deepEqual(trace, ["first woke at 1"]);
    assert.deepEqual(errors, [
      'task "nap" yielded sleep until 1.000, which task "nap" is already sleeping on: ' +
        "a sleep is one task's wait; call sleep() in each task",
    ]);
    // Under yield* too: the sleep is its own iterator, and it refuses a second task while it parks one.
    const other = sleep(1);
    const byDelegation = routine(function* byDelegation(name: string) {
      try {
        yield* other;
        trace.push(`${name} slept until ${clock.now()}`);
      } catch (error) {
        trace.push(`${name}: ${(error as Error).message}`);
      }
    });
    worker.assign(byDelegation("fourth"));
    worker.assign(byDelegation("fifth"));
    worker.work();
    assert.deepEqual(trace.splice(1), [
      'fifth: task "byDelegation" yielded sleep until 2.000, which task "byDelegation" is already ' +
        "sleeping on: a sleep is one task's wait; call sleep() in each task",
      "fourth slept until 2",
    ]);
    // Once it has woken its task, the sleep (its deadline passed) parks another for no time.
    const later = worker.assign(nap("third"));
    worker.work();
    assert.equal(later.state, "done");
    assert.deepEqual(trace, ["first woke at 1", "third woke at 2"]);
  });

  it("releases a cancelled sleeper's timer", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    function* long() {
      yield sleep(1000);
    }
    const task = worker.assign(long());
    while (worker.tick()) {}
    task.cancel();
    worker.work();
    assert.equal(task.state, "cancelled");
    assert.equal(clock.now(), 0, "work() did not jump to the dropped deadline");
  });
});

describe("repeat", () => {
  it("calls a function at once, then every interval, forever (semantic 6)", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    const calls: number[] = [];
    const task = worker.assign(repeat(2, () => calls.push(clock.now())));
    function* stopper() {
      yield sleep(7);
      task.cancel();
    }
    worker.assign(stopper());
    worker.work();
    assert.deepEqual(calls, [0, 2, 4, 6]);
    assert.equal(task.state, "cancelled");
  });

  it("runs a returned generator as a subroutine before sleeping", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    const trace: string[] = [];
    const check = routine(function* check() {
      trace.push(`start ${clock.now()}`);
      yield sleep(1);
      trace.push(`end ${clock.now()}`);
    });
    const task = worker.assign(repeat(5, () => check()));
    function* stopper() {
      yield sleep(12.5);
      task.cancel(); // while the third check sleeps
    }
    worker.assign(stopper());
    worker.work();
    assert.deepEqual(trace, ["start 0", "end 1", "start 6", "end 7", "start 12"]);
  });

  it("refuses bad arguments at the call", () => {
    assert.throws(() => repeat(-1, () => {}), RangeError);
    assert.throws(
      () => repeat(1, "nope" as never),
      /expects a function to call, got string "nope"/,
    );
  });
});

describe("VirtualClock", () => {
  it("starts where told and moves only when advanced", () => {
    const clock = new VirtualClock(10);
    assert.equal(clock.now(), 10);
    clock.advance(0.25);
    assert.equal(clock.now(), 10.25);
    clock.advanceTo(5);
    assert.equal(clock.now(), 10.25, "never backwards");
    clock.advanceTo(20);
    assert.equal(clock.now(), 20);
    assert.throws(() => clock.advance(-1), RangeError);
    assert.throws(() => clock.advance(Number.NaN), RangeError);
  });

  it("lets work() skip idle time: a simulated day of hourly chimes takes no real time (semantic 4)", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    let chimes = 0;
    function* chime() {
      for (let hour = 0; hour < 24; hour++) {
        yield sleep(3600);
        chimes++;
      }
    }
    worker.assign(chime());
    const start = performance.now();
    worker.work();
    assert.equal(chimes, 24);
    assert.equal(clock.now(), 86_400);
    assert.ok(performance.now() - start < 1000);
  });
});

describe("work()", () => {
  it("runs the sleepers to the end, then throws WouldBlockError naming tasks that wait on promises (semantic 4)", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    const trace: string[] = [];
    function* sleeper() {
      yield sleep(5);
      trace.push("sleeper done");
    }
    const fetchSomething = routine(function* fetchSomething() {
      yield new Promise(() => {});
    });
    worker.assign(sleeper());
    worker.assign(fetchSomething());
    assert.throws(
      () => worker.work(),
      (error: unknown) => {
        assert.ok(error instanceof WouldBlockError);
        assert.match(error.message, /task "fetchSomething" \(waiting on a promise\)/);
        assert.match(error.message, /await worker\.run\(\)/);
        assert.deepEqual(error.tasks, ["fetchSomething"]);
        return true;
      },
    );
    assert.deepEqual(trace, ["sleeper done"], "the sleeper ran to its end first");
    assert.equal(clock.now(), 5);
  });
});
