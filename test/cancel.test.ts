/**
 * Cancellation: every `finally` runs.
 *
 * `task.cancel()` unwinds the task's call stack from the top down with
 * `return()`, so each routine's `finally` block runs, innermost first.
 * Cleanup may itself yield (even sleep); it runs as ordinary steps. The
 * task's children are cancelled first, and whatever it waits on (a timer,
 * a promise, a join) is released. Cancelling a finished task does nothing.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CancelledError, currentTask, routine, Semaphore, sleep, spawn } from "../src/index.ts";
import { collectingWorker } from "./support.ts";

describe("cancel", () => {
  it("unwinds the call stack top-down, running every finally (semantic 9)", () => {
    const trace: string[] = [];
    const inner = routine(function* inner() {
      try {
        yield sleep(100);
      } finally {
        trace.push("inner finally");
      }
    });
    const middle = routine(function* middle() {
      try {
        yield inner();
      } finally {
        trace.push("middle finally");
      }
    });
    const outer = routine(function* outer() {
      try {
        yield middle();
        trace.push("not reached");
      } finally {
        trace.push("outer finally");
      }
    });
    const { worker } = collectingWorker();
    const task = worker.assign(outer());
    while (worker.tick()) {}
    assert.deepEqual(task.stack, ["outer", "middle", "inner"]);
    task.cancel();
    worker.work();
    assert.deepEqual(trace, ["inner finally", "middle finally", "outer finally"]);
    assert.equal(task.state, "cancelled");
    assert.throws(() => task.result, CancelledError);
  });

  it("lets cleanup yield and sleep; it runs as ordinary steps", () => {
    const { clock, worker } = collectingWorker();
    const trace: string[] = [];
    function* polite() {
      try {
        yield sleep(100);
      } finally {
        trace.push(`saying goodbye at ${clock.now()}`);
        yield sleep(2);
        trace.push(`gone at ${clock.now()}`);
      }
    }
    const task = worker.assign(polite());
    function* canceller() {
      yield sleep(1);
      task.cancel();
    }
    worker.assign(canceller());
    worker.work();
    assert.deepEqual(trace, ["saying goodbye at 1", "gone at 3"]);
    assert.equal(task.state, "cancelled");
  });

  it("cancels the children first, and the parent unwinds after they have ended (semantic 9)", () => {
    const trace: string[] = [];
    const child = routine(function* child(name: string) {
      try {
        yield sleep(100);
      } finally {
        trace.push(`${name} cleanup starts`);
        yield;
        trace.push(`${name} cleanup ends`);
      }
    });
    const parent = routine(function* parent() {
      spawn(child("a"));
      spawn(child("b"));
      try {
        yield sleep(100);
      } finally {
        trace.push("parent finally");
      }
    });
    const { worker } = collectingWorker();
    const task = worker.assign(parent());
    while (worker.tick()) {}
    task.cancel();
    worker.work();
    // Siblings are torn down last in, first out, one at a time (see cleanup.test.ts).
    assert.deepEqual(trace, [
      "b cleanup starts",
      "b cleanup ends",
      "a cleanup starts",
      "a cleanup ends",
      "parent finally",
    ]);
    assert.deepEqual(task.children, []);
    assert.equal(task.state, "cancelled");
  });

  it("releases what the task waits on: a join, a promise", () => {
    const { worker } = collectingWorker();
    function* forever() {
      for (;;) yield sleep(1);
    }
    const target = worker.assign(forever());
    function* joiner() {
      yield target;
    }
    function* awaiter() {
      yield new Promise(() => {});
    }
    const a = worker.assign(joiner());
    const b = worker.assign(awaiter());
    while (worker.tick()) {}
    assert.equal(a.state, "waiting");
    assert.equal(b.state, "waiting");
    a.cancel();
    b.cancel();
    target.cancel();
    worker.work();
    assert.deepEqual([a.state, b.state, target.state], ["cancelled", "cancelled", "cancelled"]);
  });

  it("works on a task cancelling itself: it unwinds after its current step", () => {
    const trace: string[] = [];
    function* quitter() {
      try {
        trace.push("cancelling myself");
        currentTask()?.cancel();
        trace.push("still in this step");
        yield;
        trace.push("not reached");
      } finally {
        trace.push("finally");
      }
    }
    const { worker } = collectingWorker();
    const task = worker.assign(quitter());
    worker.work();
    assert.deepEqual(trace, ["cancelling myself", "still in this step", "finally"]);
    assert.equal(task.state, "cancelled");
  });

  it("does nothing to a finished task, and cancelling twice is the same as once", () => {
    const { worker } = collectingWorker();
    let finallies = 0;
    function* quick() {
      try {
        yield;
      } finally {
        finallies++;
      }
      return 1;
    }
    const done = worker.assign(quick());
    worker.work();
    done.cancel();
    assert.equal(done.state, "done");
    assert.equal(done.result, 1);
    const twice = worker.assign(quick());
    worker.tick();
    twice.cancel();
    twice.cancel();
    worker.work();
    assert.equal(twice.state, "cancelled");
    assert.equal(finallies, 2);
  });

  it("cancels a task that never started without running any of it", () => {
    const { worker } = collectingWorker();
    let ran = false;
    function* never() {
      ran = true;
      yield;
    }
    const task = worker.assign(never());
    task.cancel();
    worker.work();
    assert.equal(ran, false);
    assert.equal(task.state, "cancelled");
  });

  it("fails the task with the error if a cleanup throws, so the error is not lost", () => {
    const { worker, errors } = collectingWorker();
    function* inner() {
      try {
        yield sleep(10);
      } finally {
        // biome-ignore lint/correctness/noUnsafeFinally: a failing cleanup is what this test is about
        throw new Error("cleanup failed");
      }
    }
    const trace: string[] = [];
    function* outer() {
      try {
        yield inner();
      } catch {
        trace.push("a cancelled caller's catch does not run");
      } finally {
        trace.push("outer finally still runs");
      }
    }
    const task = worker.assign(outer());
    while (worker.tick()) {}
    task.cancel();
    worker.work();
    assert.deepEqual(trace, ["outer finally still runs"]);
    assert.equal(task.state, "failed");
    assert.equal((task.error as Error).message, "cleanup failed");
    assert.deepEqual(errors, [task.error]);
  });

  it("aborts the task's signal, so promise-based APIs stop too", () => {
    const { worker } = collectingWorker();
    let signal: AbortSignal | undefined;
    function* fetcher() {
      signal = currentTask()?.signal;
      yield new Promise(() => {});
    }
    const task = worker.assign(fetcher());
    while (worker.tick()) {}
    assert.equal(signal?.aborted, false);
    task.cancel();
    assert.equal(signal?.aborted, true);
    assert.ok(signal?.reason instanceof CancelledError);
    worker.work();
  });

  it("cancels every task with cancelAll()", () => {
    const { worker } = collectingWorker();
    let cleanups = 0;
    const loop = routine(function* loop() {
      try {
        for (;;) yield sleep(1);
      } finally {
        cleanups++;
      }
    });
    function* parent() {
      spawn(loop());
      yield* loop();
    }
    worker.assign(parent());
    worker.assign(loop());
    worker.tickFor(0.01);
    worker.cancelAll();
    worker.work();
    assert.equal(cleanups, 3);
    assert.equal(worker.tasks.length, 0);
  });

  it("lets a cleanup start children (they belong to it), but cancels one handed to a cancelling task from outside", () => {
    const { worker } = collectingWorker();
    const trace: string[] = [];
    const helper = routine(function* helper(name: string) {
      trace.push(`${name} ran`);
      yield;
    });
    function* parent() {
      try {
        yield sleep(5);
      } finally {
        const child = spawn(helper("the cleanup's child"));
        yield* child.join();
        trace.push(`the cleanup's child is ${child.state}`);
        yield sleep(1);
      }
    }
    const task = worker.assign(parent());
    while (worker.tick()) {}
    task.cancel();
    worker.tick(); // the cleanup starts, and with it its child
    const handed = task.spawn(helper("a child handed in from outside"));
    worker.work();
    assert.equal(handed.state, "cancelled", "cancelled before its first step: it never ran");
    assert.deepEqual(trace, ["the cleanup's child ran", "the cleanup's child is done"]);
    assert.equal(task.state, "cancelled");
  });

  it("does not report again an error the task had already handled, when it is cancelled right after joining", () => {
    const { worker, errors } = collectingWorker();
    const failing = routine(function* failing(): Generator<unknown, never> {
      throw new Error("E1");
    });
    const caught: string[] = [];
    function* joiner() {
      const child = spawn(failing());
      try {
        yield* child.join();
      } catch (error) {
        caught.push((error as Error).message);
      }
      yield child; // re-reads the ended child: a yield (yield* child.join() would read it in this step), queued with its error again
    }
    const task = worker.assign(joiner());
    worker.tick(); // the joiner spawns, joins and parks
    worker.tick(); // the child fails; the joiner is handed E1
    worker.tick(); // the joiner catches E1 and joins again: queued with E1 once more
    task.cancel(); // before it takes the re-read
    worker.work();
    assert.deepEqual(caught, ["E1"]);
    assert.deepEqual(errors, [], "E1 was handled once; nothing is reported");
    assert.equal(task.state, "cancelled");
  });

  it("runs the first yield of cleanup even when a child's error was waiting for the task", () => {
    const { clock, worker, errors } = collectingWorker();
    const trace: string[] = [];
    const failing = routine(function* failing(): Generator<unknown, never> {
      throw new Error("child failed");
    });
    function* parent() {
      spawn(failing());
      spawn(failing());
      try {
        yield;
      } finally {
        trace.push(`cleanup starts at ${clock.now()}`);
        yield sleep(5);
        trace.push(`cleanup ends at ${clock.now()}`);
      }
    }
    const task = worker.assign(parent());
    for (let i = 0; i < 3; i++) worker.tick();
    task.cancel();
    worker.work();
    assert.deepEqual(trace, ["cleanup starts at 0", "cleanup ends at 5"]);
    assert.equal(
      errors.length,
      2,
      "both children's errors are reported, since the parent cannot take them",
    );
  });
});

describe("cancel at every step, through today's shortcuts", () => {
  // A routine that sleeps by `yield*` (a sleep is its own iterator result), holds a permit around
  // a body made anew each turn (withPermit resumes it without a lookup), and joins ended children
  // inside its finally (a join without a step). Cancelled after each possible number of steps,
  // it must run its finally once, give every permit back, leave no timer, and report nothing.
  const lock = () => new Semaphore(1);
  function program(pool: Semaphore, trace: string[]) {
    return (function* main() {
      const child = spawn(
        routine(function* child() {
          return "child";
        })(),
      );
      try {
        for (let i = 0; i < 3; i++) {
          yield* sleep(1);
          const got = yield* pool.withPermit(
            (function* body() {
              yield* sleep(0.5);
              return i;
            })(),
          );
          trace.push(`turn ${got}`);
        }
      } finally {
        try {
          trace.push(`finally joined ${yield* child.join()}`);
        } catch (error) {
          // A cancel tears children down first: one that had not ended is cancelled.
          assert.ok(error instanceof CancelledError);
          trace.push("finally joined a cancelled child");
        }
        yield* sleep(0.25); // a cleanup that waits, by yield*
        trace.push("finally done");
      }
    })();
  }

  it("runs the finally once, frees the permit and the timers, at every step", () => {
    const full: string[] = [];
    const whole = collectingWorker();
    whole.worker.assign(program(lock(), full));
    whole.worker.work();
    const steps = whole.worker.counters.steps;
    assert.ok(steps >= 9, `the program takes ${steps} steps`);
    // A tick that finds nothing runnable moves the clock a quarter second: every step and every
    // moment of every sleep gets its cancel, until the program has ended on its own.
    let ended = 0;
    let cancelled = 0;
    for (let cancelAt = 0; ended < 2; cancelAt++) {
      const trace: string[] = [];
      const pool = lock();
      const { worker, clock, errors } = collectingWorker();
      const task = worker.assign(program(pool, trace));
      for (let s = 0; s < cancelAt; s++) if (!worker.tick()) clock.advanceTo(clock.now() + 0.25);
      const before = clock.now();
      // A finally the body entered on its own is ordinary code to a cancel, cut at its next
      // yield (docs/guide-cancellation.md); one the cancel enters runs to its end.
      const inFinallyAlready = trace.some((line) => line.startsWith("finally"));
      task.cancel();
      worker.work();
      const at = `cancelled after ${cancelAt} ticks`;
      assert.deepEqual(errors, [], at);
      assert.equal(pool.available, 1, `${at}: the permit came back`);
      assert.equal(worker.tasks.length, 0, at);
      if (task.state === "cancelled" && cancelAt === 0) {
        assert.deepEqual(trace, [], `${at}: it never started, so it has no finally to run`);
      } else if (task.state === "cancelled" && inFinallyAlready) {
        cancelled++;
        assert.deepEqual(trace.slice(-2), ["turn 2", "finally joined child"], `${at}: cut`);
      } else if (task.state === "cancelled") {
        cancelled++;
        assert.match(trace.at(-2) ?? "", /^finally joined (child|a cancelled child)$/, at);
        assert.equal(trace.at(-1), "finally done", at);
        assert.equal(trace.filter((line) => line.startsWith("finally done")).length, 1, at);
        assert.ok(clock.now() <= before + 0.25, `${at}: no dropped sleep was waited for`);
      } else {
        assert.equal(task.state, "done", at); // cancelled after its last step: it had ended
        assert.deepEqual(trace, full, at);
        ended++;
      }
    }
    assert.ok(cancelled >= 20, `${cancelled} cancels landed in the body or its finally`);
  });
});
