/**
 * Types: what `yield*` gives back.
 *
 * These assertions are checked by the compiler (`npm run typecheck` runs
 * over test/); a wrong inferred type is a type error, and a line marked
 * `@ts-expect-error` that compiles is an error too. The test below runs
 * the same routines so that they are also known to work.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expectTypeOf } from "expect-type";
import {
  call,
  Result,
  type Routine,
  routine,
  run,
  sleep,
  spawn,
  type Task,
  VirtualClock,
  Worker,
  wrap,
} from "../src/index.ts";

const child = routine(function* child(n: number): Generator<unknown, string, unknown> {
  yield sleep(0);
  return `child ${n}`;
});

function* parent() {
  // yield* child() infers the child's return type.
  const direct = yield* child(1);
  expectTypeOf(direct).toEqualTypeOf<string>();

  // yield* task.join() infers the task's result type.
  const task = spawn(child(2));
  expectTypeOf(task).toEqualTypeOf<Task<string>>();
  const joined = yield* task.join();
  expectTypeOf(joined).toEqualTypeOf<string>();

  // yield* call(promise) infers the promise's value type.
  const fromPromise = yield* call(Promise.resolve(42));
  expectTypeOf(fromPromise).toEqualTypeOf<number>();

  // call() of a generator or a task, too.
  expectTypeOf(yield* call(child(3))).toEqualTypeOf<string>();
  expectTypeOf(yield* call(task)).toEqualTypeOf<string>();

  return [direct, joined, fromPromise] as const;
}

// routine() keeps the function's type.
expectTypeOf(child).toEqualTypeOf<(n: number) => Generator<unknown, string, any>>();
// @ts-expect-error: child takes a number
child("one");

// wrap() and run() give the routine's return type.
expectTypeOf(wrap(child(1))).toEqualTypeOf<string>();
expectTypeOf(run(child(1))).toEqualTypeOf<Promise<string>>();

// assign() gives a Task of the routine's return type.
expectTypeOf(new Worker().assign(child(1))).toEqualTypeOf<Task<string>>();
expectTypeOf<Task<string>["result"]>().toEqualTypeOf<string>();

// A Routine<R> is a generator returning R.
expectTypeOf(child(1)).toMatchTypeOf<Routine<string>>();
expectTypeOf(new Result<number>().get()).toEqualTypeOf<number | undefined>();

describe("types", () => {
  it("the routines checked above also run and return what their types say", async () => {
    assert.deepEqual(await run(parent(), { clock: new VirtualClock() }), [
      "child 1",
      "child 2",
      42,
    ]);
  });
});
