/**
 * wrap, run and Result: routines for plain callers.
 *
 * A routine only makes sense inside clockwork, but plain code must be able
 * to use it. `wrap(routine)` runs it to its end on a fresh Worker,
 * synchronously, and returns its value (or throws its error); `run(routine)`
 * does the same alongside the event loop and returns a promise. `Result` is
 * the original library's box for handing a value out.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CancelledError,
  call,
  currentTask,
  Result,
  routine,
  run,
  sleep,
  VirtualClock,
  wrap,
} from "../src/index.ts";

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
