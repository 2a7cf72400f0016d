/**
 * spawn and join: structured concurrency.
 *
 * `spawn(routine)` launches a child of the current task without waiting
 * (the original library's TODO). The child's first step comes later. A
 * parent is done only when its routine has returned and its children have
 * ended, so nothing outlives its parent and nothing is silently killed.
 * `yield* task.join()` (or `yield task`) waits for a task and gives its
 * result, throws its error, or throws CancelledError.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CancelledError,
  call,
  currentTask,
  park,
  routine,
  shield,
  sleep,
  spawn,
  suspend,
  type Task,
  type Worker,
} from "../src/index.ts";
import { collectingWorker, virtualWorker } from "./support.ts";

describe("spawn", () => {
  it("returns the child at once; the child's first step comes later (semantic 7)", () => {
    const trace: string[] = [];
    const child = routine(function* child() {
      trace.push("child runs");
      yield;
    });
    const parent = routine(function* parent() {
      const task = spawn(child());
      trace.push(`spawned ${task.name}, ${task.state}`);
      yield;
      trace.push("parent again");
    });
    const { worker } = virtualWorker();
    worker.assign(parent());
    worker.work();
    assert.deepEqual(trace, ["spawned child, runnable", "child runs", "parent again"]);
  });

  it("keeps a parent waiting until its children have ended (semantic 7)", () => {
    const { clock, worker } = virtualWorker();
    const slow = routine(function* slow() {
      yield sleep(3);
      return "slow done";
    });
    const parent = routine(function* parent() {
      spawn(slow());
      return "parent returned";
    });
    const task = worker.assign(parent());
    while (worker.tick()) {}
    assert.equal(task.state, "waiting", "its routine returned, but a child still runs");
    assert.deepEqual(task.stack, []);
    assert.equal(worker.tasks.length, 2);
    assert.match(worker.dump(), /task "parent" waiting on its 1 child/);
    worker.work();
    assert.equal(task.state, "done");
    assert.equal(task.result, "parent returned");
    assert.equal(clock.now(), 3);
  });

  it("joins a child: yield* task.join() gives its result (semantic 8)", () => {
    const square = routine(function* square(n: number) {
      yield;
      return n * n;
    });
    function* main() {
      const tasks = [1, 2, 3].map((n) => spawn(square(n)));
      const results: number[] = [];
      for (const task of tasks) results.push(yield* task.join());
      return results;
    }
    const { worker } = virtualWorker();
    const task = worker.assign(main());
    worker.work();
    assert.deepEqual(task.result, [1, 4, 9]);
  });

  it("joins by yielding the task itself, and joins a task that already ended", () => {
    function* quick() {
      return "quick";
    }
    function* main() {
      const child = spawn(quick());
      yield;
      yield;
      assert.equal(child.state, "done");
      const first: string = yield child;
      const second: string = yield child;
      return [first, second];
    }
    const { worker } = virtualWorker();
    const task = worker.assign(main());
    worker.work();
    assert.deepEqual(task.result, ["quick", "quick"]);
  });

  it("reads a task that has ended without a step: yield* task.join() goes straight on", () => {
    function* quick() {
      return "quick";
    }
    const failing = routine(function* failing(): Generator<unknown, never> {
      throw new Error("child failed");
    });
    function* forever() {
      for (;;) yield;
    }
    const { worker } = virtualWorker(() => {});
    function* main() {
      const done = spawn(quick());
      const failed = spawn(failing());
      const cancelled = spawn(forever());
      try {
        yield; // the children take their steps; the failure is thrown in here
      } catch {
        // seen
      }
      cancelled.cancel();
      yield;
      const steps = worker.counters.steps;
      const outcomes: unknown[] = [yield* done.join()];
      for (const task of [failed, cancelled]) {
        try {
          yield* task.join();
        } catch (error) {
          outcomes.push(error instanceof CancelledError ? "cancelled" : (error as Error).message);
        }
      }
      outcomes.push(worker.counters.steps - steps);
      return outcomes;
    }
    const task = worker.assign(main());
    worker.work();
    assert.deepEqual(task.result, ["quick", "child failed", "cancelled", 0]);
  });

  it("still yields to join an ended task when a cancel waits: the cancel comes at that yield", () => {
    const trace: string[] = [];
    function* quick() {
      return "quick";
    }
    function* main() {
      const child = spawn(quick());
      yield;
      try {
        currentTask()?.cancel(); // itself, in its own step: the cancel waits for a yield
        trace.push(`joined ${yield* child.join()}`);
      } finally {
        trace.push("finally");
      }
    }
    const { worker } = virtualWorker();
    const task = worker.assign(main());
    worker.work();
    assert.equal(task.state, "cancelled");
    assert.deepEqual(trace, ["finally"]);
  });

  it("reads ended tasks without a step in a cleanup too: a cancelled task's finally and a shielded routine", () => {
    const trace: string[] = [];
    function* quick(name: string) {
      return name;
    }
    const flush = routine(function* flush(child: Task<string>) {
      trace.push(`shielded read ${yield* child.join()}`);
      yield sleep(1); // the cancel waits for the shield to end
      trace.push("shield ended");
    });
    function* main() {
      const first = spawn(quick("first"));
      const second = spawn(quick("second"));
      try {
        yield* shield(flush(first));
        yield* sleep(10);
        trace.push("not reached");
      } finally {
        const steps = worker.counters.steps;
        trace.push(`finally read ${yield* second.join()}`);
        trace.push(`steps taken by the read: ${worker.counters.steps - steps}`);
      }
    }
    const { worker } = virtualWorker();
    const task = worker.assign(main());
    worker.tick();
    worker.tick(); // the children end
    worker.tick(); // the shield reads `first` and sleeps
    task.cancel();
    worker.work();
    assert.equal(task.state, "cancelled");
    assert.deepEqual(trace, [
      "shielded read first",
      "shield ended",
      "finally read second",
      "steps taken by the read: 0",
    ]);
  });

  it("throws a joined child's error into the joiner, where it counts as handled (semantic 8)", () => {
    const errors: unknown[] = [];
    const failing = routine(function* failing(): Generator<unknown, never> {
      yield;
      throw new Error("child failed");
    });
    function* main() {
      const child = spawn(failing());
      try {
        yield* child.join();
        return "not reached";
      } catch (error) {
        return `caught: ${(error as Error).message}`;
      }
    }
    const { worker } = virtualWorker((e) => errors.push(e));
    const task = worker.assign(main());
    worker.work();
    assert.equal(task.result, "caught: child failed");
    assert.deepEqual(errors, [], "nothing else was reported");
  });

  it("throws CancelledError into a task that joins a cancelled task (semantic 8)", () => {
    function* forever() {
      for (;;) yield;
    }
    function* main() {
      const child = spawn(forever());
      yield;
      child.cancel();
      try {
        yield* child.join();
        return "not reached";
      } catch (error) {
        return error;
      }
    }
    const { worker } = virtualWorker();
    const task = worker.assign(main());
    worker.work();
    assert.ok(task.result instanceof CancelledError);
  });

  it("throws a child's error nobody joins into the parent at its current yield; the parent may catch it (semantic 7)", () => {
    const trace: string[] = [];
    const failing = routine(function* failing(): Generator<unknown, never> {
      yield sleep(1);
      throw new Error("child failed");
    });
    function* parent() {
      spawn(failing());
      try {
        yield sleep(10);
        trace.push("not reached");
      } catch (error) {
        trace.push(`parent caught "${(error as Error).message}" at ${clock.now()}`);
      }
      return "recovered";
    }
    const { clock, worker } = virtualWorker();
    const task = worker.assign(parent());
    worker.work();
    assert.deepEqual(trace, ['parent caught "child failed" at 1']);
    assert.equal(task.result, "recovered");
    assert.equal(clock.now(), 1, "the parent's sleep was released");
  });

  it("fails a parent that does not catch a child's error, and cancels its other children (semantic 7)", () => {
    const trace: string[] = [];
    const sibling = routine(function* sibling() {
      try {
        yield sleep(100);
      } finally {
        trace.push("sibling cleaned up");
      }
    });
    const failing = routine(function* failing(): Generator<unknown, never> {
      yield sleep(1);
      throw new Error("child failed");
    });
    const parent = routine(function* parent() {
      spawn(sibling());
      spawn(failing());
      yield sleep(50);
    });
    const errors: unknown[] = [];
    const { worker } = virtualWorker((e) => errors.push(e));
    const task = worker.assign(parent());
    worker.work();
    assert.equal(task.state, "failed");
    assert.equal((task.error as Error).message, "child failed");
    assert.deepEqual(trace, ["sibling cleaned up"]);
    assert.equal(errors.length, 1, "reported once, by the top-level task");
    assert.equal(errors[0], task.error);
  });

  it("fails a parent whose routine already returned when a child fails (it cannot catch any more)", () => {
    const failing = routine(function* failing(): Generator<unknown, never> {
      yield;
      throw new Error("late failure");
    });
    function* parent() {
      spawn(failing());
      return "returned early";
    }
    const { worker } = virtualWorker();
    const task = worker.assign(parent());
    assert.throws(() => worker.work(), /late failure/);
    assert.equal(task.state, "failed");
  });

  it("makes a detached task top-level: it outlives its creator and reports its own errors (semantic 7)", () => {
    const errors: unknown[] = [];
    const { worker } = virtualWorker((e) => errors.push(e));
    let detached: ReturnType<typeof spawn> | undefined;
    const background = routine(function* background(): Generator<unknown, never> {
      yield sleep(5);
      throw new Error("background failure");
    });
    function* creator() {
      detached = spawn(background(), { detached: true, name: "bg" });
      return "creator done";
    }
    const task = worker.assign(creator());
    while (worker.tick()) {}
    assert.equal(task.state, "done", "it did not wait for the detached task");
    assert.equal(detached?.parent, undefined);
    worker.work();
    assert.equal(detached?.state, "failed");
    assert.equal((errors[0] as Error).message, "background failure");
    assert.equal(task.state, "done");
  });

  it("throws when called outside a step (semantic 7)", () => {
    function* nothing() {}
    assert.throws(
      () => spawn(nothing()),
      /spawn\(\) called outside a step.*use worker\.assign\(\)/,
    );
  });

  it("starts a child of a given task from outside a step with task.spawn() (a host callback, say)", () => {
    // A server task parks; each "connection" arrives from a callback outside
    // any step and becomes a child of the server, so cancelling the server
    // cancels the connections too.
    const trace: string[] = [];
    const server = routine(function* server() {
      try {
        yield suspend();
      } finally {
        trace.push("server closed");
      }
    });
    const connection = routine(function* connection(n: number) {
      try {
        trace.push(`connection ${n} opens`);
        yield suspend();
      } finally {
        trace.push(`connection ${n} closes`);
      }
    });
    const { worker } = virtualWorker();
    const task = worker.assign(server());
    worker.tick();
    const onConnection = (n: number) => task.spawn(connection(n), { name: `conn ${n}` });
    const first = onConnection(1);
    onConnection(2);
    assert.equal(first.parent, task);
    assert.equal(first.name, "conn 1");
    while (worker.tick()) {}
    assert.deepEqual(trace, ["connection 1 opens", "connection 2 opens"]);
    task.cancel();
    worker.work();
    assert.deepEqual(trace.slice(2).sort(), [
      "connection 1 closes",
      "connection 2 closes",
      "server closed",
    ]);
    assert.equal(trace[4], "server closed", "children end before their parent");
  });

  it("refuses task.spawn() into a task that has ended, and cancels a child spawned into a cancelling task", () => {
    const { worker } = virtualWorker();
    function* quick() {}
    const ended = worker.assign(quick(), { name: "quick" });
    worker.work();
    assert.throws(
      () => ended.spawn(quick()),
      /cannot spawn a child of task "quick": it has ended \(done\)/,
    );
    const trace: string[] = [];
    const parent = worker.assign(
      (function* parent() {
        try {
          yield sleep(10);
        } finally {
          trace.push("parent unwinds");
          yield sleep(1); // cleanup that waits: the task is cancelling, not yet ended
        }
      })(),
    );
    worker.tick();
    parent.cancel();
    worker.tick();
    const late = parent.spawn(
      (function* late() {
        trace.push("late child ran");
      })(),
    );
    worker.work();
    assert.equal(late.state, "cancelled");
    assert.deepEqual(trace, ["parent unwinds"]);
  });

  it("knows the current task", () => {
    const seen: (string | undefined)[] = [];
    const named = routine(function* named() {
      seen.push(currentTask()?.name);
      yield;
    });
    const { worker } = virtualWorker();
    worker.assign(named());
    worker.assign(named(), { name: "other" });
    seen.push(currentTask()?.name);
    worker.work();
    assert.deepEqual(seen, [undefined, "named", "other"]);
  });

  it("refuses to join itself or an ancestor (which would wait forever)", () => {
    const messages: string[] = [];
    function* selfish() {
      try {
        yield currentTask();
      } catch (error) {
        messages.push((error as Error).message);
      }
    }
    const { worker } = virtualWorker();
    const outer = routine(function* outer() {
      const me = currentTask();
      function* inner() {
        try {
          yield me;
        } catch (error) {
          messages.push((error as Error).message);
        }
      }
      spawn(inner());
      yield* selfish();
    });
    worker.assign(outer());
    worker.work();
    assert.deepEqual(messages, [
      'task "outer" cannot join itself',
      'task#2 cannot join task "outer": it is its ancestor, which ends only after it',
    ]);
  });

  it("lets plain code await a task with toPromise()", async () => {
    const { worker } = virtualWorker();
    function* answer() {
      yield sleep(1);
      return 42;
    }
    const task = worker.assign(answer());
    const promise = task.toPromise();
    worker.work();
    assert.equal(await promise, 42);
  });
});

/**
 * `task.join()`, `call(x)` and `park(setup)` each give a routine object, as
 * a generator function gives a generator: one task's call stack runs it.
 * A second task that reaches the same object while the first waits in it
 * gets an error naming both (a silent `undefined` before), and the first
 * gets its answer as if nothing had happened.
 */
describe("a routine object is one task's", () => {
  /**
   * Runs tasks "first" and "second", each reaching by yield* the routine
   * object `make` gives (with `end`, which lets the first one's wait end),
   * and "third", which yields it, and says what each got.
   */
  function share(
    make: (worker: Worker) => { shared: Generator<unknown, unknown, unknown>; end: () => void },
  ): string[] {
    const { worker, errors } = collectingWorker();
    const { shared, end } = make(worker);
    const trace: string[] = [];
    const reach = routine(function* reach(name: string) {
      try {
        const value = name === "third" ? yield shared : yield* shared;
        trace.push(`${name} got ${String(value)}`);
      } catch (error) {
        trace.push(`${name}: ${(error as Error).message}`);
      }
    });
    worker.assign(reach("first"), { name: "first" });
    worker.assign(reach("second"), { name: "second" });
    worker.assign(reach("third"), { name: "third" });
    for (let i = 0; i < 10; i++) worker.tick(); // the first waits in the routine; the others reach it
    end();
    worker.work();
    assert.deepEqual(errors, []);
    return trace;
  }

  /** A park() routine and the call that wakes it with `value`. */
  function parked(value: string): { shared: Generator<unknown, string, unknown>; end: () => void } {
    let wake = () => {};
    const shared = park<string>((waker) => {
      wake = () => waker.wake(value);
    });
    return { shared, end: () => wake() };
  }

  /** What tasks "second" and "third" get from a routine of `kind` that "first" waits in. */
  const refused = (kind: string) =>
    ["second", "third"].map(
      (name) =>
        `${name}: task "${name}" reached a ${kind} routine that task "first" is waiting in: a ` +
        "routine object is one task's, as a generator is; make one in each task",
    );

  it("join(): the second joiner is refused, the first gets the result", () => {
    const trace = share((worker) => {
      const { shared, end } = parked("unused");
      const target = worker.assign(
        (function* target() {
          yield* shared;
          return 42;
        })(),
      );
      return { shared: target.join(), end };
    });
    assert.deepEqual(trace, [...refused("join"), "first got 42"]);
  });

  it("park(): the second is refused, the first gets the value its wake gives", () => {
    assert.deepEqual(
      share(() => parked("woken")),
      [...refused("park"), "first got woken"],
    );
  });

  it("call(): the second is refused, the first gets the routine's value", () => {
    const trace = share(() => {
      const { shared, end } = parked("called");
      return { shared: call(shared), end };
    });
    assert.deepEqual(trace, [...refused("call"), "first got called"]);
  });

  it("still runs by hand outside any worker, and ends as a generator does", () => {
    const routineObject = call(Promise.resolve(1));
    const first = routineObject.next();
    assert.equal(first.done, false);
    assert.deepEqual(routineObject.next(7), { value: 7, done: true });
    // A generator that has returned gives undefined, done, to any later next().
    assert.deepEqual(routineObject.next(8), { value: undefined, done: true });
  });
});
