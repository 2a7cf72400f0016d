/**
 * Resources and context: values with a lifetime, and values a task's
 * children can read.
 *
 * `resource(routine)` opens something in a task of its own and hands its
 * value to the task that asked: the routine calls `provide(value)`, and
 * from then on waits until that task's own routine has ended (and its other
 * children with it); then it is cancelled, so its `finally` closes what it
 * opened. Resources close last in, first out, like everything torn down.
 *
 * A `Context` is a task-local value: `set` binds it on the current task,
 * `get` finds the nearest binding up the task's parents (a detached task
 * reads its creator's), else the default.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Context,
  currentTask,
  resource,
  routine,
  sleep,
  spawn,
  VirtualClock,
  wrap,
} from "../src/index.ts";
import { collectingWorker } from "./support.ts";

/** A pretend connection that logs what happens to it. */
interface Connection {
  name: string;
  query(q: string): string;
}

function openConnection(trace: string[], name: string) {
  return resource<Connection>(function* connection(provide) {
    trace.push(`${name} opened`);
    try {
      yield* provide({ name, query: (q: string) => `${name} answers ${q}` });
    } finally {
      trace.push(`${name} closed`);
    }
  });
}

describe("resource", () => {
  it("hands its value to the task that asked, and closes when that task's routine has ended", () => {
    const trace: string[] = [];
    const result = wrap(
      (function* main() {
        const db = yield* openConnection(trace, "db");
        trace.push(db.query("1 + 1"));
        yield sleep(1);
        trace.push("main returns");
        return "ok";
      })(),
      { clock: new VirtualClock() },
    );
    assert.equal(result, "ok");
    assert.deepEqual(trace, ["db opened", "db answers 1 + 1", "main returns", "db closed"]);
  });

  it("stays open while the task's other children still run, then closes; several close last in, first out", () => {
    const { clock, worker, errors } = collectingWorker();
    const trace: string[] = [];
    worker.assign(
      (function* main() {
        const pool = yield* openConnection(trace, "pool");
        const cache = yield* openConnection(trace, "cache");
        spawn(
          (function* late() {
            yield sleep(5);
            trace.push(`late child still uses ${pool.name} and ${cache.name} at ${clock.now()}`);
          })(),
        );
        trace.push("main returns");
      })(),
    );
    worker.work();
    assert.deepEqual(trace, [
      "pool opened",
      "cache opened",
      "main returns",
      "late child still uses pool and cache at 5",
      "cache closed",
      "pool closed",
    ]);
    assert.deepEqual(errors, []);
  });

  it("closes when the task that asked is cancelled", () => {
    const { worker } = collectingWorker();
    const trace: string[] = [];
    const task = worker.assign(
      (function* main() {
        yield* openConnection(trace, "db");
        yield sleep(100);
      })(),
    );
    while (worker.tick()) {}
    task.cancel();
    worker.work();
    assert.deepEqual(trace, ["db opened", "db closed"]);
    assert.equal(task.state, "cancelled");
  });

  it("throws into the asking task an error the routine throws before it provides, or after", () => {
    const { worker, errors } = collectingWorker();
    const seen: string[] = [];
    const broken = resource(function* broken(_provide): Generator<unknown, void, any> {
      yield sleep(1);
      throw new Error("cannot connect");
    });
    const flaky = resource<string>(function* flaky(provide) {
      spawn(
        (function* keepAlive(): Generator<unknown, never> {
          yield sleep(2);
          throw new Error("the link dropped");
        })(),
      );
      yield* provide("a link"); // waits here until the task that asked is done with it
    });
    worker.assign(
      (function* main() {
        try {
          yield* broken;
        } catch (error) {
          seen.push(`broken: ${(error as Error).message}`);
        }
        const link = yield* flaky;
        try {
          yield sleep(10);
        } catch (error) {
          seen.push(`using ${link}: ${(error as Error).message}`);
        }
      })(),
    );
    worker.work();
    assert.deepEqual(seen, ["broken: cannot connect", "using a link: the link dropped"]);
    assert.deepEqual(errors, []);
  });

  it("refuses a routine that returns without providing", () => {
    const seen: string[] = [];
    wrap(
      (function* main() {
        try {
          yield* resource(function* lazy(_provide) {
            yield sleep(0);
          });
        } catch (error) {
          seen.push((error as Error).message);
        }
      })(),
      { clock: new VirtualClock() },
    );
    assert.deepEqual(seen, ['resource "lazy" returned without providing a value']);
  });

  it("fails the asking task when its routine is cancelled before it provides, and refuses a second value", () => {
    const { worker, errors } = collectingWorker();
    const trace: string[] = [];
    const task = worker.assign(
      (function* main() {
        try {
          yield* resource(function* dropped(provide) {
            currentTask()?.cancel(); // comes at its next yield, before the value
            yield sleep(1);
            yield* provide(1);
          });
        } catch (error) {
          trace.push((error as Error).message);
        }
        const value = yield* resource<number>(function* twice(provide) {
          try {
            yield* provide(1);
          } finally {
            trace.push("twice closes");
            yield* provide(2); // a cleanup that throws: the resource task fails with it
          }
        });
        trace.push(`got ${value}`);
      })(),
    );
    worker.work();
    assert.deepEqual(trace, [
      'resource "dropped" was cancelled before it provided a value',
      "got 1",
      "twice closes",
    ]);
    assert.equal(task.state, "failed");
    assert.equal((task.error as Error).message, 'resource "twice" provided a value twice');
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['resource "twice" provided a value twice'],
    );
  });

  it("is one task's: a second task reaching the same resource() while the first waits in it is refused", () => {
    const { worker, errors } = collectingWorker();
    const trace: string[] = [];
    const shared = resource<string>(function* slow(provide) {
      yield sleep(1);
      yield* provide("value");
    });
    const ask = routine(function* ask(name: string) {
      try {
        trace.push(`${name} got ${yield* shared}`);
      } catch (error) {
        trace.push(`${name}: ${(error as Error).message}`);
      }
    });
    worker.assign(ask("first"), { name: "first" });
    worker.assign(ask("second"), { name: "second" });
    worker.work();
    assert.deepEqual(trace, [
      'second: task "second" reached a resource routine that task "first" is waiting in: a ' +
        "routine object is one task's, as a generator is; make one in each task",
      "first got value",
    ]);
    assert.deepEqual(errors, []);
  });

  it("refuses what is not a generator function", () => {
    assert.throws(() => resource(5 as never), /resource\(\) expects a generator function/);
  });
});

describe("Context", () => {
  const requestId = new Context<string>("requestId");
  const level = new Context("logLevel", "info");

  it("gives a task's children what the task set, however deep, and the default where nothing was set", () => {
    const seen: string[] = [];
    const log = routine(function* log(what: string) {
      seen.push(`[${requestId.get()} ${level.get()}] ${what}`);
      yield;
    });
    wrap(
      (function* handle() {
        requestId.set("req-7");
        yield* log("start");
        const child = spawn(
          (function* work() {
            yield* spawn(log("deep in a grandchild")).join();
            level.set("debug"); // its own, not its parent's
            yield* log("in the child");
          })(),
        );
        yield* child.join();
        yield* log("end");
      })(),
    );
    assert.deepEqual(seen, [
      "[req-7 info] start",
      "[req-7 info] deep in a grandchild",
      "[req-7 debug] in the child",
      "[req-7 info] end",
    ]);
  });

  it("gives a detached task what its creator saw, and throws, naming it, where nothing was set and there is no default", () => {
    const { worker } = collectingWorker();
    const seen: string[] = [];
    worker.assign(
      (function* creator() {
        requestId.set("req-9");
        spawn(
          (function* background() {
            yield sleep(1);
            seen.push(requestId.get());
          })(),
          { detached: true },
        );
      })(),
    );
    worker.assign(
      (function* other() {
        try {
          requestId.get();
        } catch (error) {
          seen.push((error as Error).message);
        }
      })(),
    );
    worker.work();
    assert.deepEqual(seen, [
      'context "requestId" has no value in task#2: set it in this task or one of its parents, or give it a default',
      "req-9",
    ]);
    assert.equal(level.get(), "info", "outside a task: the default");
    assert.throws(() => requestId.get(), /context "requestId" has no value outside a task/);
    assert.throws(() => requestId.set("x"), /context "requestId": set\(\) is for inside a task/);
  });
});
