/**
 * Cancelling through `yield*`: nothing runs after a cancel.
 *
 * A routine called with `yield* helper()` runs inside its caller's frame
 * (native delegation). When the task is cancelled there, JavaScript forwards
 * the `return()` to the helper, and its `finally` runs. If that `finally`
 * waits (a child being reaped, a permit given back, a goodbye that sleeps),
 * the language itself would let the caller go on afterwards as if the
 * helper had returned `undefined`. clockwork does not: every generator the
 * library hands out, and every generator made by a `routine()` function,
 * finishes its cleanup and then unwinds its callers with `return()`, so
 * their `finally` blocks run and their next lines never do.
 *
 * A plain generator function that clockwork never saw keeps JavaScript's
 * rule; the last tests show what happens and the two ways to stay safe.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  all,
  Channel,
  Future,
  race,
  routine,
  Semaphore,
  sleep,
  spawn,
  timeout,
} from "../src/index.ts";
import { collectingWorker } from "./support.ts";

/** A helper whose cleanup takes a second. */
const slowGoodbye = routine(function* slowGoodbye(trace: string[], name: string) {
  try {
    yield sleep(100);
    return `${name} finished`;
  } finally {
    trace.push(`${name}: cleanup starts`);
    yield sleep(1);
    trace.push(`${name}: cleanup ends`);
  }
});

describe("cancel through yield*", () => {
  it("lets a routine's cleanup wait, then unwinds the caller: its finally runs, its next lines never do", () => {
    const trace: string[] = [];
    const main = routine(function* main() {
      try {
        const result = yield* slowGoodbye(trace, "helper");
        trace.push(`main goes on with ${result}`);
      } finally {
        trace.push("main: finally");
      }
      trace.push("main: after its try");
    });
    const { clock, worker, errors } = collectingWorker();
    const task = worker.assign(main());
    worker.tick();
    task.cancel();
    worker.work();
    assert.deepEqual(trace, ["helper: cleanup starts", "helper: cleanup ends", "main: finally"]);
    assert.equal(task.state, "cancelled");
    assert.equal(clock.now(), 1, "the cleanup had its second");
    assert.deepEqual(errors, []);
  });

  it("unwinds three levels of yield*, innermost first, each cleanup waiting", () => {
    const trace: string[] = [];
    const level = routine(function* level(depth: number): Generator<unknown, number, any> {
      try {
        const below = depth === 0 ? yield* slowGoodbye(trace, "leaf") : yield* level(depth - 1);
        trace.push(`level ${depth} goes on with ${below}`);
        return depth;
      } finally {
        trace.push(`level ${depth}: cleanup starts`);
        yield sleep(1);
        trace.push(`level ${depth}: cleanup ends`);
      }
    });
    const { worker, errors } = collectingWorker();
    const task = worker.assign(level(2));
    worker.tick();
    task.cancel();
    worker.work();
    assert.deepEqual(trace, [
      "leaf: cleanup starts",
      "leaf: cleanup ends",
      "level 0: cleanup starts",
      "level 0: cleanup ends",
      "level 1: cleanup starts",
      "level 1: cleanup ends",
      "level 2: cleanup starts",
      "level 2: cleanup ends",
    ]);
    assert.equal(task.state, "cancelled");
    assert.deepEqual(errors, []);
  });

  it("keeps the caller of withPermit from going on when the body's cleanup waits, and gives the permit back", () => {
    const trace: string[] = [];
    const pool = new Semaphore(1);
    function* body() {
      try {
        yield sleep(100);
        return 1;
      } finally {
        trace.push("body: cleanup starts");
        yield sleep(1);
        trace.push("body: cleanup ends");
      }
    }
    function* main() {
      const n = yield* pool.withPermit(body());
      trace.push(`main goes on with ${n}`);
    }
    const { worker, errors } = collectingWorker();
    const task = worker.assign(main());
    worker.tick();
    assert.equal(pool.available, 0);
    task.cancel();
    worker.work();
    assert.deepEqual(trace, ["body: cleanup starts", "body: cleanup ends"]);
    assert.equal(pool.available, 1, "the permit is back");
    assert.equal(task.state, "cancelled");
    assert.deepEqual(errors, []);
  });

  it("fails the task with a cleanup's error, thrown after a wait or at once; the callers unwind without catching it", () => {
    for (const when of ["after a wait", "at once"]) {
      const trace: string[] = [];
      const broken = new Error(`cleanup broke ${when}`);
      const helper = routine(function* helper() {
        try {
          yield sleep(100);
        } finally {
          if (when === "after a wait") yield sleep(1);
          // biome-ignore lint/correctness/noUnsafeFinally: the point of the test
          throw broken;
        }
      });
      const main = routine(function* main() {
        try {
          yield* helper();
          trace.push("main goes on");
        } catch (error) {
          trace.push(`main caught ${(error as Error).message}`);
        } finally {
          trace.push("main: finally");
        }
      });
      const { worker, errors } = collectingWorker();
      const task = worker.assign(main());
      worker.tick();
      task.cancel();
      worker.work();
      assert.deepEqual(trace, ["main: finally"], when);
      assert.equal(task.state, "failed", when);
      assert.equal(task.error, broken, when);
      assert.deepEqual(errors, [broken], "reported once: nobody joined the task");
    }
  });

  it("keeps every library operation's caller from going on, cancelled at every step", () => {
    // One program that goes through each operation with yield*, with helpers whose
    // cleanups wait between them; cancelled after 0, 1, 2 ... steps, until it ends uncancelled.
    for (let cancelAfter = 0; ; cancelAfter++) {
      const trace: string[] = [];
      const mark = (what: string) => trace.push(what);
      const channel = new Channel<number>(1);
      const future = new Future<string>();
      const pool = new Semaphore(1);
      const step = routine(function* step(name: string, operation: Generator<unknown, unknown>) {
        try {
          const value = yield* operation;
          mark(`${name} gave ${String(value)}`);
          return value;
        } finally {
          mark(`${name}: cleanup`);
          yield sleep(0.5);
          mark(`${name}: cleanup ends`);
        }
      });
      const feeder = routine(function* feeder() {
        yield sleep(1);
        yield* channel.send(7);
        future.resolve("ready");
      });
      const main = routine(function* main() {
        spawn(feeder());
        const received = yield* step("receive", channel.receive());
        mark(`after receive ${received}`);
        yield* step("future", future.wait());
        mark("after future");
        yield* step("permit", pool.withPermit(slowGoodbye(trace, "held")));
        mark("after permit");
        yield* step("all", all([sleep(1), sleep(2)]));
        mark("after all");
        yield* step("race", race([sleep(1), sleep(3)]));
        mark("after race");
        yield* step("timeout", timeout(5, sleep(1)));
        mark("after timeout");
        const child = spawn(slowGoodbye(trace, "child"));
        yield* step("join", child.join());
        mark("after join");
        yield* step("sleep", sleep(1));
        mark("after sleep");
      });
      const { clock, worker, errors } = collectingWorker();
      const task = worker.assign(main());
      // Step by step; while everything sleeps, move the clock (every sleep here is a multiple of 0.5 s).
      for (let steps = 0; steps < cancelAfter && !task.isDone(); ) {
        if (worker.tick()) steps++;
        else clock.advance(0.5);
      }
      if (task.isDone()) {
        assert.equal(task.state, "done");
        assert.ok(cancelAfter > 20, "the program has many steps to cancel at");
        break;
      }
      const before = trace.length;
      task.cancel();
      worker.work();
      const after = trace.slice(before);
      for (const line of after) {
        assert.ok(
          !/^after |gave/.test(line),
          `cancelled after ${cancelAfter} steps, "${line}" ran after the cancel: ${after.join(" | ")}`,
        );
      }
      // (A cleanup already running when the cancel came is cut at its next yield: see the issue on shielding.)
      const cleanups = after.filter((l) => / cleanup( starts)?$/.test(l)).length;
      const ends = after.filter((l) => l.endsWith(" cleanup ends")).length;
      assert.equal(ends, cleanups, `every cleanup the cancel started ended (${after.join(" | ")})`);
      assert.equal(task.state, "cancelled");
      assert.equal(pool.available, 1, "no permit leaked");
      assert.deepEqual(errors, []);
    }
  });
});

describe("plain generators under yield*", () => {
  // JavaScript's own rule, kept for generator functions clockwork never saw.
  function* plainGoodbye(trace: string[]) {
    try {
      yield sleep(100);
      return "finished";
    } finally {
      trace.push("cleanup starts");
      yield sleep(1);
      trace.push("cleanup ends");
    }
  }

  it("let the caller go on after a cleanup that waited, with undefined: JavaScript's rule for yield*", () => {
    const trace: string[] = [];
    function* main() {
      const result = yield* plainGoodbye(trace);
      trace.push(`main goes on with ${result}`);
    }
    const { worker } = collectingWorker();
    const task = worker.assign(main());
    worker.tick();
    task.cancel();
    worker.work();
    assert.deepEqual(trace, ["cleanup starts", "cleanup ends", "main goes on with undefined"]);
  });

  it("are safe called with a plain yield (the worker sees the frame) or made with routine()", () => {
    const safeGoodbye = routine(plainGoodbye);
    for (const how of ["yield", "routine"]) {
      const trace: string[] = [];
      function* main() {
        const result: unknown =
          how === "yield" ? yield plainGoodbye(trace) : yield* safeGoodbye(trace);
        trace.push(`main goes on with ${String(result)}`);
      }
      const { worker } = collectingWorker();
      const task = worker.assign(main());
      worker.tick();
      worker.tick();
      task.cancel();
      worker.work();
      assert.deepEqual(trace, ["cleanup starts", "cleanup ends"], how);
      assert.equal(task.state, "cancelled");
    }
  });
});
