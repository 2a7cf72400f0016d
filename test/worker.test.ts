/**
 * The Worker: a round-robin queue of tasks.
 *
 * This is the original library's first idea. A Worker holds a queue of
 * tasks and works through it as long as there is work left: each step
 * resumes one task's generator once, and a task that is not finished goes
 * to the back of the queue. `yield` gives up control; yielding another
 * generator calls it as a subroutine on the task's own stack.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  all,
  call,
  currentTask,
  race,
  routine,
  Semaphore,
  sleep,
  spawn,
  timeout,
  Worker,
} from "../src/index.ts";

describe("Worker", () => {
  it("works through its queue until the work is done (the original worker test)", () => {
    // Start with a Worker.
    const worker = new Worker();
    // Create some work: take this list...
    const x: number[] = [];
    // ...and define some work. It has to be a generator!
    function* doSomething() {
      x.push(123);
      yield;
    }
    worker.assign(doSomething());
    // Tell the worker to start working, and the work gets done.
    worker.work();
    assert.deepEqual(x, [123]);
  });

  it("interleaves a finite and an infinite task one step at a time (semantic 1)", () => {
    const data: (string | number)[] = [];
    // Generators can be finite...
    function* letters() {
      data.push("a");
      yield;
      data.push("z");
      yield;
    }
    // ...or infinite.
    function* numbers() {
      let i = 0;
      for (;;) {
        i += 1;
        data.push(i);
        yield;
      }
    }
    const worker = new Worker();
    worker.assign(letters());
    worker.assign(numbers());

    worker.doNextTask();
    assert.deepEqual(data, ["a"]);
    worker.doNextTask();
    assert.deepEqual(data, ["a", 1]);
    worker.doNextTask();
    assert.deepEqual(data, ["a", 1, "z"]);
    worker.doNextTask();
    assert.deepEqual(data, ["a", 1, "z", 2]);
    // The next step disposes of "letters": its generator finishes, nothing is appended.
    worker.doNextTask();
    assert.deepEqual(data, ["a", 1, "z", 2]);
    assert.equal(worker.tasks.length, 1, "letters is removed in the same step");
    worker.doNextTask();
    assert.deepEqual(data, ["a", 1, "z", 2, 3]);
    worker.doNextTask();
    assert.deepEqual(data, ["a", 1, "z", 2, 3, 4]);
  });

  it("counts one step per resume, and tick() says whether a task was runnable", () => {
    const worker = new Worker();
    function* twoYields() {
      yield;
      yield;
    }
    worker.assign(twoYields());
    assert.equal(worker.tick(), true); // runs to the first yield
    assert.equal(worker.tick(), true); // to the second
    assert.equal(worker.tick(), true); // the generator returns: the task ends
    assert.equal(worker.tick(), false);
    assert.equal(worker.counters.steps, 3);
    assert.throws(() => worker.doNextTask(), /doNextTask\(\): no task is runnable/);
  });

  it("lets a routine call another by yielding its generator, one step for the call and one for the return (semantic 2)", () => {
    const trace: string[] = [];
    function* child() {
      trace.push("child starts");
      yield;
      trace.push("child returns");
      return 42;
    }
    function* parent() {
      trace.push("parent calls");
      const value: number = yield child();
      trace.push(`parent got ${value}`);
    }
    function* other() {
      for (let i = 0; i < 6; i++) {
        trace.push(`other ${i}`);
        yield;
      }
    }
    const worker = new Worker();
    worker.assign(parent());
    worker.assign(other());
    worker.work();
    assert.deepEqual(trace, [
      "parent calls",
      "other 0",
      "child starts", // the pushed generator starts on the task's next step
      "other 1",
      "child returns", // it returns: popped
      "other 2",
      "parent got 42", // the caller resumes on the following step
      "other 3",
      "other 4",
      "other 5",
    ]);
  });

  it("throws a subroutine's error into its caller at the yield", () => {
    function* failing(): Generator<unknown, never> {
      yield;
      throw new Error("boom");
    }
    function* caller() {
      try {
        yield failing();
        return "not reached";
      } catch (error) {
        return `caught ${(error as Error).message}`;
      }
    }
    const worker = new Worker();
    const task = worker.assign(caller());
    worker.work();
    assert.equal(task.result, "caught boom");
  });

  it("supports native yield* delegation too", () => {
    function* inner() {
      yield;
      return 2;
    }
    function* outer() {
      const two = yield* inner();
      return two + 1;
    }
    const worker = new Worker();
    const task = worker.assign(outer());
    worker.work();
    assert.equal(task.result, 3);
  });

  it("resumes at any depth in one step: a million nested calls do not overflow the stack", () => {
    const depth = 1_000_000;
    const down = routine(function* down(n: number): Generator<unknown, number> {
      if (n === 0) return 0;
      return ((yield down(n - 1)) as number) + 1;
    });
    const worker = new Worker();
    const task = worker.assign(down(depth));
    worker.work();
    assert.equal(task.result, depth);
  });

  it("throws a TypeError into a routine that yields something it cannot wait on, naming the task and the value (semantic 2)", () => {
    let caught: unknown;
    const confused = routine(function* confused() {
      try {
        yield 42;
      } catch (error) {
        caught = error;
      }
    });
    const worker = new Worker();
    worker.assign(confused());
    worker.work();
    assert.ok(caught instanceof TypeError);
    assert.match(caught.message, /task "confused"/);
    assert.match(caught.message, /yielded number 42/);
    assert.match(caught.message, /A routine may yield: nothing/);
  });

  it("suggests calling a generator function that was yielded instead of its generator", () => {
    function* helper() {}
    let caught: unknown;
    function* main() {
      try {
        yield helper;
      } catch (error) {
        caught = error;
      }
    }
    const worker = new Worker();
    worker.assign(main());
    worker.work();
    assert.match(String(caught), /generator function helper; call it/);
  });

  it("refuses to assign anything but a generator object (semantic 3)", () => {
    const worker = new Worker();
    function* numbers() {
      yield;
    }
    assert.throws(() => worker.assign(numbers as never), {
      name: "TypeError",
      message: /got the generator function numbers: call it, e\.g\. assign\(numbers\(\)\)/,
    });
    assert.throws(() => worker.assign(42 as never), {
      name: "TypeError",
      message: /expects a generator object.*got number 42/,
    });
    assert.throws(() => worker.assign(Promise.resolve() as never), {
      name: "TypeError",
      message: /got Promise/,
    });
    assert.throws(
      () => worker.assign(numbers(), { name: 7 as never }),
      /option "name" expects a string, got number 7/,
    );
    assert.equal(worker.tasks.length, 0);
  });

  it("refuses an async generator wherever a routine is expected: it can be awaited, not stepped", () => {
    async function* fetchLines() {
      yield "a line";
    }
    const refused = (call: string, start: () => unknown) =>
      assert.throws(start, {
        name: "TypeError",
        message: new RegExp(
          `^${call} expects a generator object, got an async generator: write the routine as function\\*`,
        ),
      });
    const worker = new Worker();
    refused("assign\\(\\)", () => worker.assign(fetchLines() as never));
    refused("call\\(\\)", () => call(fetchLines() as never));
    assert.throws(
      () => worker.assign(fetchLines as never),
      /got async generator function fetchLines/,
    );
    worker.assign(
      routine(function* parent() {
        refused("spawn\\(\\)", () => spawn(fetchLines() as never));
        refused("spawn\\(\\)", () => currentTask()?.spawn(fetchLines() as never));
        // all, race, timeout and withPermit refuse it too, with the same advice.
        for (const start of [
          () => all([fetchLines() as never]),
          () => race([fetchLines() as never]),
          () => timeout(1, fetchLines() as never),
          () => new Semaphore(1).withPermit(fetchLines() as never),
        ]) {
          assert.throws(start, {
            name: "TypeError",
            message: /async ?generator.*: write the routine as function\*/i,
          });
        }
        yield;
      })(),
    );
    worker.work();
    assert.equal(worker.counters.tasksCreated, 1, "only the parent was ever a task");
  });

  it("throws a TypeError into a routine that yields an async generator, instead of stepping it forever", () => {
    async function* ticks() {
      yield 1;
    }
    let caught: unknown;
    const confused = routine(function* confused() {
      try {
        yield ticks();
      } catch (error) {
        caught = error;
      }
    });
    const worker = new Worker();
    const task = worker.assign(confused());
    for (let i = 0; i < 10 && !task.isDone(); i++) worker.tick();
    assert.equal(task.state, "done");
    assert.ok(caught instanceof TypeError);
    assert.match(caught.message, /task "confused" \(in routine confused\) yielded AsyncGenerator/);
    assert.match(caught.message, /an async generator cannot be stepped/);
  });

  it("refuses to be driven from inside one of its own steps", () => {
    const worker = new Worker();
    let caught: unknown;
    function* reentrant() {
      try {
        worker.work();
      } catch (error) {
        caught = error;
      }
      yield;
    }
    worker.assign(reentrant());
    worker.work();
    assert.match(
      String(caught),
      /work\(\) called while work\(\) is driving this worker \(from inside a step of task#1\)/,
    );
  });
});

/**
 * The loop never throws. Whatever a routine yields, however hostile (a
 * getter that throws, a Proxy whose every trap throws, a revoked Proxy, an
 * iterator whose results lie), the worker turns it into an error thrown
 * into that routine at that yield, naming the task, and goes on stepping
 * the others. An exception that escaped the loop would leave the stepping
 * task in no queue, never to run or end.
 */
describe("the loop never throws", () => {
  /** A Proxy handler whose every trap throws. */
  const everyTrapThrows: ProxyHandler<object> = new Proxy(
    {},
    {
      get: (_, trap) => () => {
        throw new Error(`trap ${String(trap)}`);
      },
    },
  );
  const fails = (what: string) => () => {
    throw new Error(what);
  };
  /** Values no routine should yield, each made fresh. */
  const hostile: Record<string, () => unknown> = {
    "a then getter that throws": () => ({
      // biome-ignore lint/suspicious/noThenProperty: a hostile thenable is what this test is about
      get then() {
        return fails("the then getter")();
      },
    }),
    // biome-ignore lint/suspicious/noThenProperty: a hostile thenable is what this test is about
    "a then that is not a function": () => ({ then: 42 }),
    "a next getter that throws": () => ({
      get next() {
        return fails("the next getter")();
      },
      throw() {},
      return() {},
    }),
    "a return getter that throws": () => ({
      next() {},
      throw() {},
      get return() {
        return fails("the return getter")();
      },
    }),
    "a toStringTag getter that throws": () => ({
      get [Symbol.toStringTag]() {
        return fails("the toStringTag getter")();
      },
    }),
    "a constructor getter that throws": () =>
      Object.create({
        get constructor() {
          return fails("the constructor getter")();
        },
      }),
    "a Proxy that throws on every trap": () => new Proxy({}, everyTrapThrows),
    "a function Proxy that throws on every trap": () => new Proxy(() => {}, everyTrapThrows),
    "a revoked Proxy": () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    },
    "a Proxy of a generator": () => new Proxy((function* () {})(), {}),
    "an iterator whose next() returns undefined": () => ({
      next: () => undefined,
      throw: () => undefined,
      return: () => undefined,
    }),
    "an iterator whose result has a done getter that throws": () => ({
      next: () => ({
        get done() {
          return fails("the done getter")();
        },
      }),
      throw: () => undefined,
      return: () => undefined,
    }),
  };
  const kinds = Object.keys(hostile);

  /** A task that yields a hostile value `yieldsBefore` steps in, and records what is thrown in at that yield. */
  const victim = (kind: string, yieldsBefore: number, cancelFirst: boolean, seen: unknown[]) =>
    routine(function* victim() {
      for (let i = 0; i < yieldsBefore; i++) yield;
      if (cancelFirst) currentTask()?.cancel(); // the value is then dropped at the yield, unseen
      try {
        yield hostile[kind]?.();
        seen.push("nothing was thrown in");
      } catch (error) {
        seen.push(error);
      } finally {
        seen.push("finally");
      }
    })();

  it("throws an error naming the task into a routine that yields a hostile value, and steps the others", () => {
    const worker = new Worker();
    let bystanderSteps = 0;
    worker.assign(
      routine(function* bystander() {
        for (let i = 0; i < 100; i++) {
          bystanderSteps++;
          yield;
        }
      })(),
    );
    const seen = new Map<string, unknown[]>();
    const tasks = kinds.map((kind) => {
      seen.set(kind, []);
      return worker.assign(victim(kind, 1, false, seen.get(kind) as unknown[]), { name: kind });
    });
    worker.work(); // does not throw
    assert.equal(bystanderSteps, 100);
    assert.deepEqual(
      tasks.map((t) => `${t.name}: ${t.state}`),
      kinds.map((kind) => `${kind}: done`),
    );
    for (const kind of kinds) {
      const [error, last] = seen.get(kind) as unknown[];
      assert.equal(last, "finally");
      assert.ok(error instanceof Error, `${kind}: ${String(error)}`);
      const text = `${error.message}\n${error.stack}`;
      assert.ok(
        text.includes(`task "${kind}"`),
        `${kind}: the error does not name the task: ${text}`,
      );
    }
  });

  it("says what was yielded and what went wrong when looking at it threw", () => {
    const worker = new Worker();
    const seen: unknown[] = [];
    worker.assign(victim("a Proxy that throws on every trap", 0, false, seen), { name: "proxied" });
    worker.assign(victim("a then getter that throws", 0, false, seen), { name: "thenable" });
    worker.work();
    const [proxied, , thenable] = seen as TypeError[];
    assert.ok(proxied instanceof TypeError);
    assert.match(
      proxied.message,
      /^task "proxied" \(in routine victim\) yielded an object that throws when inspected \(looking at it threw Error: trap getPrototypeOf\)\. A routine may yield/,
    );
    assert.ok(thenable instanceof TypeError);
    assert.match(
      thenable.message,
      /^task "thenable" \(in routine victim\) yielded plain object \(looking at it threw Error: the then getter\)/,
    );
    assert.equal(
      (thenable.cause as Error).message,
      "the then getter",
      "the getter's own error is the cause",
    );
  });

  it("refuses a hostile value given to assign() with a TypeError at the call", () => {
    const worker = new Worker();
    for (const kind of [
      "a Proxy that throws on every trap",
      "a revoked Proxy",
      "a next getter that throws",
    ]) {
      assert.throws(() => worker.assign(hostile[kind]?.() as never), {
        name: "TypeError",
        message: /^assign\(\) expects a generator object, got .* \(looking at it threw .+\)$/,
      });
    }
    assert.equal(worker.tasks.length, 0);
  });

  it("keeps every task going, whatever mix of hostile values many tasks yield, cancelled or not (property)", () => {
    const plan = fc.array(
      fc.record({
        kind: fc.constantFrom(...kinds),
        yieldsBefore: fc.nat(3),
        cancelFirst: fc.boolean(),
      }),
      { minLength: 1, maxLength: 12 },
    );
    fc.assert(
      fc.property(plan, (victims) => {
        const worker = new Worker();
        let bystanderSteps = 0;
        worker.assign(
          routine(function* bystander() {
            for (let i = 0; i < 20; i++) {
              bystanderSteps++;
              yield;
            }
          })(),
        );
        const seen = victims.map(() => [] as unknown[]);
        const tasks = victims.map((v, i) =>
          worker.assign(victim(v.kind, v.yieldsBefore, v.cancelFirst, seen[i] as unknown[])),
        );
        while (worker.tick()) {} // no tick throws
        assert.equal(bystanderSteps, 20);
        assert.equal(worker.tasks.length, 0, "every task ended");
        victims.forEach((v, i) => {
          const task = tasks[i] as (typeof tasks)[number];
          assert.equal(task.state, v.cancelFirst ? "cancelled" : "done", v.kind);
          const trace = seen[i] as unknown[];
          assert.equal(trace.at(-1), "finally");
          assert.equal(trace.length, v.cancelFirst ? 1 : 2, "cancelled: nothing thrown in");
        });
      }),
      { numRuns: 300 },
    );
  });
});

describe("a broken loop is loud", () => {
  /** What `drive` threw (it must throw). */
  function thrownBy(drive: () => unknown): unknown {
    try {
      drive();
    } catch (error) {
      return error;
    }
    assert.fail("expected it to throw");
  }

  it("disables the worker when an error escapes a step (here a clock that throws), and says so at every later call", async () => {
    let broken = false;
    const clock = {
      now(): number {
        if (broken) throw new Error("the clock fell off the wall");
        return 0;
      },
    };
    const worker = new Worker({ clock, onError: () => {} });
    const trace: string[] = [];
    worker.assign(
      (function* sleeper() {
        yield* sleep(10);
        trace.push("woke"); // never: the worker is disabled first
      })(),
    );
    worker.assign(
      (function* busy() {
        for (;;) {
          trace.push("busy");
          yield;
        }
      })(),
    );
    assert.equal(worker.tick(), true); // the sleeper parks on its timer
    broken = true;
    // The next step reads the clock for due timers: the error escapes the loop.
    const error = thrownBy(() => worker.tick()) as Error;
    assert.match(error.message, /an error escaped the worker's loop.*this worker is disabled/);
    assert.match(error.message, /the clock fell off the wall/);
    assert.equal((error.cause as Error).message, "the clock fell off the wall");
    broken = false;
    // Not a task's error, and not forgotten: every driving call throws it from now on.
    const drives = [() => worker.tick(), () => worker.work(), () => worker.tickFor(0.01)];
    for (const drive of drives) assert.equal(thrownBy(drive), error);
    await assert.rejects(worker.run(), (thrown) => thrown === error);
    assert.deepEqual(trace, []); // busy never took its step: the loop broke before it
  });

  it("still throws a task's own error from the driving call, leaving the worker working", () => {
    const worker = new Worker();
    worker.assign(
      (function* failing() {
        yield;
        throw new Error("a task's error");
      })(),
    );
    worker.assign(
      (function* fine() {
        yield;
        yield;
      })(),
    );
    assert.throws(() => worker.work(), /^Error: a task's error$/);
    worker.work(); // the rest goes on
    assert.equal(worker.tasks.length, 0);
  });
});

describe("currentTask() across workers", () => {
  it("names the task of the inner worker while a step drives another worker, and its own again after, even when the inner call throws", () => {
    const outer = new Worker();
    const inner = new Worker();
    const seen: string[] = [];
    inner.assign(
      routine(function* innerTask() {
        seen.push(`inner sees ${currentTask()?.name}`);
        yield;
        throw new Error("inner failure");
      })(),
    );
    outer.assign(
      routine(function* outerTask() {
        seen.push(`outer sees ${currentTask()?.name}`);
        inner.tick(); // a step of another worker inside this one's
        seen.push(`outer sees ${currentTask()?.name} after`);
        assert.throws(() => inner.tick(), /inner failure/);
        seen.push(`outer sees ${currentTask()?.name} after a throw`);
        yield;
      })(),
    );
    outer.work();
    assert.equal(currentTask(), undefined, "outside every step");
    assert.deepEqual(seen, [
      "outer sees outerTask",
      "inner sees innerTask",
      "outer sees outerTask after",
      "outer sees outerTask after a throw",
    ]);
  });
});
