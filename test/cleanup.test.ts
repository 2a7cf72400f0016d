/**
 * Cleanup that always finishes.
 *
 * A cancel unwinds a task with `return()`, so its `finally` blocks run; a
 * cleanup may wait, spawn tasks and use every operation. Three rules keep
 * cleanup whole:
 *
 * - `shield(routine)` runs a routine to its end even if its task is
 *   cancelled meanwhile: the cancel waits until the shielded routine has
 *   returned, then takes effect at the task's next yield. JavaScript
 *   cannot tell that a generator is inside a `finally`, so a cleanup that
 *   must not be cut when a cancel comes while it already runs says so.
 * - Tasks a cleanup starts belong to it: `all`, `race` and `timeout` work
 *   inside a `finally` run by a cancel, and what they start is bounded by
 *   the cleanup.
 * - Teardown is last-in, first-out: a cancelled task's children are
 *   cancelled youngest first, each only once the younger ones have ended,
 *   so a server spawned after the pool it uses is gone before the pool is.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { all, Channel, race, routine, shield, sleep, spawn, timeout } from "../src/index.ts";
import { collectingWorker } from "./support.ts";

describe("shield", () => {
  it("lets a cleanup that already runs finish when a cancel comes: the cancel waits for it", () => {
    const { clock, worker, errors } = collectingWorker();
    const trace: string[] = [];
    const flush = routine(function* flush() {
      trace.push(`flush starts at ${clock.now()}`);
      yield sleep(2);
      trace.push(`flush ends at ${clock.now()}`);
    });
    const job = routine(function* job() {
      try {
        yield sleep(1);
      } finally {
        // Runs when the job ends normally, at t=1; the cancel comes at t=2, in the middle.
        yield* shield(flush());
        trace.push("after the shield");
        yield sleep(0);
        trace.push("not reached: the cancel takes effect at the next yield");
      }
    });
    const task = worker.assign(job());
    worker.assign(
      (function* canceller() {
        yield sleep(2);
        task.cancel();
        trace.push(`cancelled at ${clock.now()}`);
      })(),
    );
    worker.work();
    assert.deepEqual(trace, [
      "flush starts at 1",
      "cancelled at 2",
      "flush ends at 3",
      "after the shield",
    ]);
    assert.equal(task.state, "cancelled");
    assert.deepEqual(errors, []);
  });

  it("without it, a cancel that comes while a finally waits cuts the rest of the finally (JavaScript's rule)", () => {
    const { worker } = collectingWorker();
    const trace: string[] = [];
    const job = routine(function* job() {
      try {
        yield sleep(1);
      } finally {
        trace.push("a");
        yield sleep(5);
        trace.push("b");
      }
    });
    const task = worker.assign(job());
    worker.tick(); // sleeping
    worker.assign(
      (function* canceller() {
        yield sleep(2);
        task.cancel();
      })(),
    );
    worker.work();
    assert.deepEqual(trace, ["a"]);
    assert.equal(task.state, "cancelled");
  });

  it("keeps a shielded task's children too until the shield ends, and gives the value", () => {
    const { clock, worker } = collectingWorker();
    const trace: string[] = [];
    const helper = routine(function* helper() {
      try {
        yield sleep(3);
        trace.push(`helper done at ${clock.now()}`);
      } finally {
        trace.push(`helper ends at ${clock.now()}`);
      }
    });
    const task = worker.assign(
      (function* main() {
        const value = yield* shield(
          (function* save() {
            const child = spawn(helper());
            yield* child.join();
            return 42;
          })(),
        );
        trace.push(`shield gave ${value}`);
        yield sleep(10);
      })(),
    );
    worker.assign(
      (function* canceller() {
        yield sleep(1);
        task.cancel();
      })(),
    );
    worker.work();
    assert.deepEqual(trace, ["helper done at 3", "helper ends at 3", "shield gave 42"]);
    assert.equal(task.state, "cancelled");
    assert.equal(clock.now(), 3);
  });

  it("refuses what is not a routine", () => {
    assert.throws(() => shield(5 as never), /shield\(\) expects a generator object/);
  });
});

describe("cleanup uses every operation", () => {
  it("runs all, race and timeout in a finally run by a cancel, and the task ends", () => {
    const { clock, worker, errors } = collectingWorker();
    const trace: string[] = [];
    const step = routine(function* step(name: string, seconds: number) {
      yield sleep(seconds);
      trace.push(`${name} at ${clock.now()}`);
      return name;
    });
    const job = routine(function* job() {
      try {
        yield sleep(100);
      } finally {
        const both = yield* all([step("a", 1), step("b", 2)]);
        const first = yield* race([step("fast", 1), step("slow", 5)]);
        let flushed = "flush timed out";
        try {
          flushed = yield* timeout(1, step("flush", 10)); // a slow flush, bounded
        } catch {}
        trace.push(`cleanup done: ${both.join("+")}, ${first}, ${flushed}, at ${clock.now()}`);
      }
    });
    const task = worker.assign(job());
    worker.tick();
    task.cancel();
    worker.work();
    assert.deepEqual(trace, [
      "a at 1",
      "b at 2",
      "fast at 3",
      "cleanup done: a+b, fast, flush timed out, at 4",
    ]);
    assert.equal(task.state, "cancelled");
    assert.deepEqual(errors, []);
  });

  it("bounds the tasks a cleanup starts by the cleanup: left running when it ends, they are cancelled", () => {
    const { worker } = collectingWorker();
    const trace: string[] = [];
    const task = worker.assign(
      (function* job() {
        try {
          yield sleep(100);
        } finally {
          spawn(
            (function* lingering() {
              try {
                yield sleep(50);
                trace.push("lingering finished");
              } finally {
                trace.push("lingering cancelled with the cleanup");
              }
            })(),
          );
          yield sleep(1);
        }
      })(),
    );
    worker.tick();
    task.cancel();
    worker.work();
    assert.deepEqual(trace, ["lingering cancelled with the cleanup"]);
    assert.equal(task.state, "cancelled");
  });
});

describe("teardown order", () => {
  it("is last-in, first-out: a server spawned after the pool it uses is torn down first, while the pool still serves it", () => {
    const { worker, errors } = collectingWorker();
    const trace: string[] = [];
    const requests = new Channel<Channel<string>>();
    const pool = routine(function* pool() {
      try {
        for (;;) {
          const reply = yield* requests.receive();
          yield* reply.send("a connection");
        }
      } finally {
        trace.push("pool closed");
      }
    });
    const server = routine(function* server() {
      try {
        yield sleep(100);
      } finally {
        // Its goodbye needs the pool.
        const reply = new Channel<string>();
        yield* requests.send(reply);
        trace.push(`server said goodbye over ${yield* reply.receive()}`);
      }
    });
    const app = worker.assign(
      (function* app() {
        spawn(pool());
        spawn(server());
        yield sleep(100);
      })(),
    );
    worker.tick();
    worker.tick();
    worker.tick();
    app.cancel();
    worker.work();
    assert.deepEqual(trace, ["server said goodbye over a connection", "pool closed"]);
    assert.equal(app.state, "cancelled");
    assert.deepEqual(errors, []);
  });

  it("tears down one child at a time, youngest first, then the parent", () => {
    const { clock, worker } = collectingWorker();
    const trace: string[] = [];
    const child = routine(function* child(name: string) {
      try {
        yield sleep(100);
      } finally {
        trace.push(`${name} starts its cleanup at ${clock.now()}`);
        yield sleep(1);
      }
    });
    const parent = worker.assign(
      (function* parent() {
        try {
          for (const name of ["first", "second", "third"]) spawn(child(name));
          yield sleep(100);
        } finally {
          trace.push(`parent cleans up at ${clock.now()}`);
        }
      })(),
    );
    while (worker.tick()) {}
    parent.cancel();
    worker.work();
    assert.deepEqual(trace, [
      "third starts its cleanup at 0",
      "second starts its cleanup at 1",
      "first starts its cleanup at 2",
      "parent cleans up at 3",
    ]);
  });
});
