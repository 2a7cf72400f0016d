/**
 * run(): the worker alongside the event loop.
 *
 * `await worker.run()` runs tasks in slices of about a millisecond and lets
 * the event loop in between, so timers, I/O and other callbacks of the
 * host keep going while thousands of tasks switch. When nothing is
 * runnable it sleeps on one host timer for the earliest deadline, and a
 * promise settling wakes it. With a VirtualClock, idle time is skipped.
 * These tests use real time, with generous bounds.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  park,
  routine,
  sleep,
  suspend,
  type Task,
  VirtualClock,
  Wait,
  Worker,
} from "../src/index.ts";

describe("run()", () => {
  it("never blocks the event loop: a 1 ms setInterval keeps firing while thousands of tasks switch (semantic 4)", async () => {
    const worker = new Worker();
    const busy = routine(function* busy() {
      for (let i = 0; i < 2000; i++) yield;
    });
    for (let i = 0; i < 2000; i++) worker.assign(busy()); // 4 million steps
    let fired = 0;
    let longestGap = 0;
    let last = performance.now();
    const interval = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
      fired++;
    }, 1);
    const start = performance.now();
    await worker.run();
    clearInterval(interval);
    const elapsed = performance.now() - start;
    assert.equal(worker.counters.steps, 4_002_000);
    // Bounded so a loaded CI machine passes, yet a run() that held the loop for its whole length fails.
    assert.ok(
      fired >= Math.min(10, elapsed / 20),
      `the interval fired ${fired} times in ${elapsed.toFixed(0)} ms`,
    );
    assert.ok(
      longestGap < Math.max(50, elapsed / 4),
      `longest gap between intervals: ${longestGap.toFixed(1)} ms`,
    );
  });

  it("sleeps on a host timer and wakes sleepers on time", async () => {
    const worker = new Worker();
    const late: number[] = [];
    const nap = routine(function* nap(seconds: number) {
      const due = performance.now() + seconds * 1000;
      yield sleep(seconds);
      late.push(performance.now() - due);
    });
    for (let i = 0; i < 100; i++) worker.assign(nap(0.02 + (i % 5) * 0.01));
    await worker.run();
    assert.equal(late.length, 100);
    assert.ok(Math.min(...late) >= 0, "never early");
    assert.ok(Math.max(...late) < 100, `at most ${Math.max(...late).toFixed(1)} ms late`);
  });

  it("wakes when a promise settles or a callback fires", async () => {
    const worker = new Worker();
    const trace: string[] = [];
    function* waiter() {
      const value: string = yield new Promise((resolve) =>
        setTimeout(() => resolve("from a promise"), 10),
      );
      trace.push(value);
      const other = yield* park<string>(({ wake }) => {
        const id = setTimeout(() => wake("from a callback"), 10);
        return () => clearTimeout(id);
      }, "a host timer");
      trace.push(other);
    }
    worker.assign(waiter());
    await worker.run();
    assert.deepEqual(trace, ["from a promise", "from a callback"]);
  });

  it("steps tasks woken from outside while it sleeps, and a sleep they start is not left behind a later timer", async () => {
    // run() sleeps on a host timer 5 s away (the watchman). A host callback
    // wakes the courier, whose steps are taken while run() sleeps on; the
    // courier then naps 30 ms, which must wake it on time, not after 5 s.
    const worker = new Worker();
    const trace: string[] = [];
    const watchman = worker.assign(
      (function* watchman() {
        yield sleep(5);
      })(),
    );
    const start = performance.now();
    worker.assign(
      (function* courier() {
        for (let n = 1; n <= 3; n++) {
          yield* park<void>(({ wake }) => {
            const id = setTimeout(() => wake(), 5);
            return () => clearTimeout(id);
          }, "a host timer");
          trace.push(`woken ${n}`);
        }
        yield sleep(0.03);
        trace.push("napped");
        watchman.cancel();
      })(),
    );
    await worker.run();
    const ms = performance.now() - start;
    assert.deepEqual(trace, ["woken 1", "woken 2", "woken 3", "napped"]);
    assert.ok(
      ms < 1000,
      `run() ended after ${ms.toFixed(0)} ms: the 30 ms nap waited for the 5 s timer`,
    );
  });

  it("takes tasks assigned from outside while it runs", async () => {
    const worker = new Worker();
    function* keeper() {
      yield new Promise((resolve) => setTimeout(resolve, 30));
    }
    worker.assign(keeper());
    const results: string[] = [];
    setTimeout(() => {
      worker.assign(
        (function* late() {
          yield;
          results.push("late task ran");
        })(),
      );
    }, 5);
    await worker.run();
    assert.deepEqual(results, ["late task ran"]);
  });

  it("skips idle time with a VirtualClock: a simulated hour takes milliseconds", async () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    let ticks = 0;
    function* clockTower() {
      for (let s = 0; s < 3600; s++) {
        yield sleep(1);
        ticks++;
      }
    }
    worker.assign(clockTower());
    const start = performance.now();
    await worker.run();
    assert.equal(ticks, 3600);
    assert.equal(clock.now(), 3600);
    assert.ok(performance.now() - start < 5000);
  });

  it("lets a settled promise in before jumping virtual time", async () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    const trace: string[] = [];
    function* sleeper() {
      yield sleep(100);
      trace.push(`sleeper at ${clock.now()}`);
    }
    function* awaiter() {
      yield Promise.resolve();
      trace.push(`awaiter at ${clock.now()}`);
    }
    worker.assign(sleeper());
    worker.assign(awaiter());
    await worker.run();
    assert.deepEqual(trace, ["awaiter at 0", "sleeper at 100"]);
  });

  it("runs park()'s cleanup when the parked task is cancelled", async () => {
    const worker = new Worker();
    let cleaned = 0;
    function* parked() {
      yield* park(() => () => cleaned++, "something that never comes");
    }
    const task = worker.assign(parked());
    setTimeout(() => task.cancel(), 5);
    await worker.run();
    assert.equal(cleaned, 1);
    assert.equal(task.state, "cancelled");
  });

  it("parks a task on suspend() until it is cancelled, and runs its finally", async () => {
    const worker = new Worker();
    const trace: string[] = [];
    function* holder() {
      try {
        yield suspend();
      } finally {
        trace.push("released");
      }
    }
    const task = worker.assign(holder());
    setTimeout(() => task.cancel(), 5);
    await worker.run();
    assert.deepEqual(trace, ["released"]);
    assert.match(worker.dump(), /0 live tasks/);
  });
});

describe("Wait", () => {
  it("is the low-level park/wake API: a new way of waiting is a subclass, not a change to the worker", () => {
    class Bell extends Wait<string> {
      readonly waiters: Task<unknown>[] = [];
      park(task: Task<unknown>) {
        this.waiters.push(task);
      }
      override release(task: Task<unknown>) {
        this.waiters.splice(this.waiters.indexOf(task), 1);
      }
      ring(sound: string) {
        for (const task of this.waiters.splice(0)) this.wake(task, sound);
      }
      describe() {
        return "a bell";
      }
    }
    const bell = new Bell();
    const heard: string[] = [];
    const listener = routine(function* listener() {
      const sound: string = yield bell; // yield parks directly
      heard.push(sound);
      heard.push(yield* bell); // yield* delegates natively (no frame of ours) and is typed
    });
    const worker = new Worker();
    const task = worker.assign(listener());
    while (worker.tick()) {}
    assert.match(worker.dump(), /task "listener" waiting on a bell/);
    bell.ring("ding");
    while (worker.tick()) {}
    assert.deepEqual(task.stack, ["listener"]);
    bell.ring("dong");
    worker.work();
    assert.deepEqual(heard, ["ding", "dong"]);
    assert.equal(
      bell.wake(task, "late"),
      false,
      "a wake for a task that does not wait on it is ignored",
    );
  });

  it("through yield*, throws what fail() gives into the task, and lets a cancelled task unwind", () => {
    class Gate extends Wait<number> {
      readonly waiters = new Set<Task<unknown>>();
      park(task: Task<unknown>) {
        this.waiters.add(task);
      }
      override release(task: Task<unknown>) {
        this.waiters.delete(task);
      }
      describe() {
        return "a gate";
      }
    }
    const gate = new Gate();
    const trace: string[] = [];
    const walker = routine(function* walker() {
      trace.push(`passed with ${yield* gate}`);
      try {
        yield* gate;
      } catch (error) {
        trace.push(`refused: ${(error as Error).message}`);
      }
      try {
        yield* gate;
      } finally {
        trace.push("unwound");
      }
    });
    const worker = new Worker();
    const task = worker.assign(walker());
    worker.tick();
    for (const t of gate.waiters) gate.wake(t, 7);
    worker.tick();
    for (const t of gate.waiters) gate.fail(t, new Error("closed"));
    worker.tick();
    assert.equal(gate.waiters.size, 1);
    task.cancel();
    worker.work();
    assert.equal(task.state, "cancelled");
    assert.equal(gate.waiters.size, 0, "release() ran");
    assert.deepEqual(trace, ["passed with 7", "refused: closed", "unwound"]);
  });
});
