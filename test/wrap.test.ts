/**
 * wrap, run and Result: routines for plain callers.
 *
 * A routine only makes sense inside clockwork, but plain code must be able
 * to use it. `wrap(routine)` runs it to its end on a fresh Worker,
 * synchronously, and returns its value (or throws its error); `run(routine)`
 * does the same alongside the event loop and returns a promise. The program
 * ends when the routine does: the tasks left (detached ones) are cancelled
 * and clean up first. Errors are never lost: one is thrown (the first, the
 * original object) and any others are attached to it, as suppressed ones.
 * `Result` is the original library's box for handing a value out.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CancelledError,
  call,
  currentTask,
  Result,
  repeat,
  routine,
  run,
  sleep,
  spawn,
  type Task,
  VirtualClock,
  wrap,
} from "../src/index.ts";
import { nodeScript } from "./support.ts";

/**
 * A detached ticker that records its ticks and its unwinding. After 1,000
 * ticks it throws, so a wrap() or run() that never ends fails the test
 * instead of hanging it.
 */
function forgottenTicker(trace: string[], clock: VirtualClock) {
  let ticks = 0;
  return routine(function* ticker() {
    try {
      yield repeat(1, () => {
        if (++ticks > 1000)
          throw new Error("still ticking after 1,000 ticks: the program never ended");
        trace.push(`tick at ${clock.now()}`);
      });
    } finally {
      trace.push(`ticker unwound at ${clock.now()}`);
    }
  })();
}

/** A detached task whose cleanup takes a virtual second. */
function slowToLeave(trace: string[], clock: VirtualClock) {
  return routine(function* slowToLeave() {
    try {
      yield sleep(3600);
    } finally {
      yield sleep(1);
      trace.push(`slowToLeave unwound at ${clock.now()}`);
    }
  })();
}

describe("wrap", () => {
  it("runs a routine for a plain caller (the original wrap test)", () => {
    // Make a clockwork function:
    function* squares(data: number[]) {
      for (let x = 0; x < 4; x++) {
        data.push(x * x);
        yield;
      }
    }
    // Without the wrapper, you get the generator, and nothing has run:
    const data1: number[] = [];
    const generator = squares(data1);
    assert.equal(typeof generator.next, "function");
    assert.deepEqual(data1, []);
    // But the wrapper actually runs it for you, and returns its return value (semantic 10):
    const data2: number[] = [];
    assert.equal(wrap(squares(data2)), undefined);
    assert.deepEqual(data2, [0, 1, 4, 9]);
  });

  it("returns the routine's return value and throws its error (semantic 10)", () => {
    function* answer() {
      yield;
      return 42;
    }
    assert.equal(wrap(answer()), 42);
    const oops = new Error("oops");
    function* failing(): Generator<unknown, never> {
      yield;
      throw oops;
    }
    assert.throws(
      () => wrap(failing()),
      (e) => e === oops,
    );
  });

  it("waits for timers; with a VirtualClock it jumps instead", () => {
    const clock = new VirtualClock();
    function* slow() {
      yield sleep(3600);
      return clock.now();
    }
    assert.equal(wrap(slow(), { clock }), 3600);
  });

  it("ends when its routine ends: a forgotten detached ticker is cancelled and its finally runs, as a Go program ends when main returns", () => {
    let ticker: Task<unknown> | undefined;
    let ticks = 0;
    const answer = wrap(
      (function* main() {
        ticker = spawn(
          repeat(1, () => {
            if (++ticks > 1000) throw new Error("still ticking: wrap() never ended");
          }),
          { detached: true },
        );
        return 1;
      })(),
      { clock: new VirtualClock() },
    );
    assert.equal(answer, 1);
    assert.equal(
      ticker?.state,
      "cancelled",
      "cancelled before its first step: nothing to clean up",
    );

    const clock = new VirtualClock();
    const trace: string[] = [];
    const started = wrap(
      (function* main() {
        spawn(forgottenTicker(trace, clock), { detached: true });
        yield sleep(0.5); // the ticker starts and ticks
        return 1;
      })(),
      { clock },
    );
    assert.equal(started, 1);
    assert.deepEqual(trace, ["tick at 0", "ticker unwound at 0.5"]);
  });

  it("waits for the routine's children, then cancels what is left, letting each cleanup finish (even one that sleeps)", () => {
    const clock = new VirtualClock();
    const trace: string[] = [];
    const child = routine(function* child() {
      yield sleep(2);
      trace.push(`child done at ${clock.now()}`);
    });
    const answer = wrap(
      (function* main() {
        spawn(child()); // a child: main ends only after it
        spawn(slowToLeave(trace, clock), { detached: true });
        currentTask()?.worker.assign(forgottenTicker(trace, clock)); // a top-level task of the same worker
        return "main returned";
      })(),
      { clock },
    );
    assert.equal(answer, "main returned");
    // At 2 the child and the ticker wake together; the child's timer was set first, so it steps
    // first and ends main, and the ticker is cancelled before its tick at 2.
    assert.deepEqual(trace, [
      "tick at 0",
      "tick at 1",
      "child done at 2",
      "ticker unwound at 2",
      "slowToLeave unwound at 3",
    ]);
  });

  it("throws the first error and attaches the others, after cancelling what is left (the routine's finally runs)", () => {
    const clock = new VirtualClock();
    const trace: string[] = [];
    const detachedFailed = new Error("a detached task failed");
    const finallyFailed = new Error("the routine's finally failed");
    assert.throws(
      () =>
        wrap(
          (function* main() {
            spawn(
              routine(function* failsLater() {
                yield sleep(1);
                throw detachedFailed;
              })(),
              { detached: true },
            );
            try {
              yield sleep(60);
            } finally {
              trace.push(`main unwound at ${clock.now()}`);
              // biome-ignore lint/correctness/noUnsafeFinally: a failing cleanup is what this test is about
              throw finallyFailed;
            }
          })(),
          { clock },
        ),
      (error) => error === detachedFailed,
    );
    assert.deepEqual((detachedFailed as { suppressed?: unknown }).suppressed, [finallyFailed]);
    assert.deepEqual(trace, ["main unwound at 1"]);
  });

  it("throws CancelledError for a routine that cancels itself", () => {
    function* quitter() {
      currentTask()?.cancel();
      yield;
    }
    assert.throws(() => wrap(quitter()), CancelledError);
  });
});

describe("run", () => {
  it("resolves with the routine's value, waiting for promises (semantic 10)", async () => {
    const fetchNumber = routine(function* fetchNumber() {
      const a: number = yield Promise.resolve(20);
      const b = yield* call(new Promise<number>((resolve) => setTimeout(() => resolve(22), 5)));
      return a + b;
    });
    assert.equal(await run(fetchNumber()), 42);
  });

  it("rejects with the routine's error, including a rejected promise it did not catch", async () => {
    const reason = new Error("no route to host");
    function* failing() {
      yield Promise.reject(reason);
    }
    await assert.rejects(run(failing()), (e) => e === reason);
  });

  it("ends when its routine ends: a forgotten detached ticker is cancelled and its finally runs", async () => {
    const clock = new VirtualClock();
    const trace: string[] = [];
    const answer = await run(
      (function* main() {
        spawn(forgottenTicker(trace, clock), { detached: true });
        spawn(slowToLeave(trace, clock), { detached: true });
        yield Promise.resolve();
        return 1;
      })(),
      { clock },
    );
    assert.equal(answer, 1);
    assert.deepEqual(trace, ["tick at 0", "ticker unwound at 0", "slowToLeave unwound at 1"]);
  });

  it("rejects with the routine's error while other tasks still run, and no rejection is left unhandled to kill the process", async () => {
    // Each of these once left the routine's error as an unhandled rejection,
    // which ends a node process (exit code 1) before anyone can catch it.
    const { code, stdout, stderr } = await nodeScript(`
      import { run, sleep, spawn } from "./src/index.ts";
      process.on("exit", (code) => console.log("exit", code));
      const outcome = (promise) => promise.then((v) => "resolved " + v, (e) => "rejected " + e.message);
      function* sleeper() { yield sleep(0.05); }
      function* leavesNoisily() { try { yield sleep(60); } finally { throw new Error("cleanup failed"); } }
      // 1. The routine fails while a detached task still sleeps.
      console.log(await outcome(run((function* main() {
        spawn(sleeper(), { detached: true });
        yield;
        throw new Error("main failed");
      })())));
      // 2. The routine fails, and a detached task's cleanup fails when it is cancelled.
      console.log(await outcome(run((function* main() {
        spawn(leavesNoisily(), { detached: true });
        yield;
        throw new Error("main failed again");
      })())));
    `);
    assert.equal(stderr, "");
    assert.deepEqual(stdout.trim().split("\n"), [
      "rejected main failed",
      "rejected main failed again",
      "exit 0",
    ]);
    assert.equal(code, 0);
  });

  it("rejects with one error, the first, and attaches the others to it: none is lost", async () => {
    const clock = new VirtualClock();
    const trace: string[] = [];
    // The routine fails first; a detached task's cleanup then fails when it is cancelled.
    const mainFailed = new Error("main failed");
    const cleanupFailed = new Error("cleanup failed");
    const leavesNoisily = routine(function* leavesNoisily() {
      try {
        yield sleep(60);
      } finally {
        trace.push("leavesNoisily unwound");
        yield sleep(1); // cleanup may take time
        // biome-ignore lint/correctness/noUnsafeFinally: a failing cleanup is what this test is about
        throw cleanupFailed;
      }
    });
    await assert.rejects(
      run(
        (function* main() {
          spawn(leavesNoisily(), { detached: true });
          yield sleep(1);
          throw mainFailed;
        })(),
        { clock },
      ),
      (error) => error === mainFailed, // the original object
    );
    assert.deepEqual((mainFailed as { suppressed?: unknown }).suppressed, [cleanupFailed]);
    assert.match(String(mainFailed.stack), /\n {2}Suppressed: Error: cleanup failed\n {6}at /);
    assert.deepEqual(trace, ["leavesNoisily unwound"]);
  });

  it("rejects with another task's error nobody handled, after cancelling the routine (its finally runs); the routine's cleanup error is attached", async () => {
    const clock = new VirtualClock();
    const trace: string[] = [];
    const detachedFailed = new Error("a detached task failed");
    const finallyFailed = new Error("the routine's finally failed");
    const promise = run(
      (function* main() {
        spawn(
          routine(function* failsLater() {
            yield sleep(1);
            throw detachedFailed;
          })(),
          { detached: true },
        );
        try {
          yield sleep(60);
          trace.push("not reached");
        } finally {
          trace.push(`main unwound at ${clock.now()}`);
          // biome-ignore lint/correctness/noUnsafeFinally: a failing cleanup is what this test is about
          throw finallyFailed;
        }
      })(),
      { clock },
    );
    await assert.rejects(promise, (error) => error === detachedFailed);
    assert.deepEqual((detachedFailed as { suppressed?: unknown }).suppressed, [finallyFailed]);
    assert.deepEqual(trace, ["main unwound at 1"]);
  });

  it("gives the other tasks' errors to onError when given, and resolves with the routine's value", async () => {
    const seen: string[] = [];
    const value = await run(
      (function* main() {
        spawn(
          routine(function* failsAtOnce() {
            yield;
            throw new Error("a detached task failed");
          })(),
          { detached: true },
        );
        yield sleep(1);
        return "main went on";
      })(),
      {
        clock: new VirtualClock(),
        onError: (error, task) => seen.push(`${task.name}: ${(error as Error).message}`),
      },
    );
    assert.equal(value, "main went on");
    assert.deepEqual(seen, ["failsAtOnce: a detached task failed"]);
  });

  it("rejects with an AggregateError of all the errors when the first cannot carry the others (a string, a frozen error)", async () => {
    const cleanupFailed = new Error("cleanup failed");
    const leavesNoisily = routine(function* leavesNoisily() {
      try {
        yield sleep(60);
      } finally {
        // biome-ignore lint/correctness/noUnsafeFinally: a failing cleanup is what this test is about
        throw cleanupFailed;
      }
    });
    for (const thrown of ["main failed", Object.freeze(new Error("main failed"))]) {
      await assert.rejects(
        run(
          (function* main() {
            spawn(leavesNoisily(), { detached: true });
            yield;
            throw thrown;
          })(),
          { clock: new VirtualClock() },
        ),
        (error) => {
          assert.ok(error instanceof AggregateError);
          assert.deepEqual(error.errors, [thrown, cleanupFailed]);
          assert.match(error.message, /^run\(\): 2 errors; the first: /);
          return true;
        },
      );
    }
  });

  it("throws a rejected promise into the routine, where it can be caught", async () => {
    function* careful() {
      try {
        yield Promise.reject(new Error("refused"));
        return "not reached";
      } catch (error) {
        return `caught ${(error as Error).message}`;
      }
    }
    assert.equal(await run(careful()), "caught refused");
  });
});

describe("call", () => {
  it("turns generators, tasks and promises into routines, and refuses anything else", () => {
    function* seven() {
      yield;
      return 7;
    }
    function* main() {
      const a = yield* call(seven());
      return a;
    }
    assert.equal(wrap(main()), 7);
    assert.throws(
      () => call(7 as never),
      /call\(\) expects a generator, a Task or a promise, got number 7/,
    );
  });
});

describe("Result", () => {
  it("holds a value (the original Result test)", () => {
    const ret = new Result<unknown>();
    assert.equal(ret.get(), undefined);
    ret.set(5);
    assert.equal(ret.get(), 5);
    ret.set([1, 2, 3]);
    assert.deepEqual(ret.get(), [1, 2, 3]);
    assert.deepEqual(ret.value, [1, 2, 3]);
  });

  it("hands a value out of a routine to plain code", () => {
    const result = new Result<string>();
    function* producer() {
      yield;
      result.set("made in a routine");
    }
    wrap(producer());
    assert.equal(result.value, "made in a routine");
  });
});
