/**
 * Types: what `yield*` gives back.
 *
 * The `yield*` forms are the typed ones: `yield* child()` is what the
 * routine returns, `yield* task.join()` the task's result and
 * `yield* call(promise)` the promise's value. A bare `yield child()`,
 * `yield task` or `yield promise` works the same at run time but its value
 * is `any` to TypeScript (a generator cannot type what each `yield` gives
 * back), and under `strict` a routine without a return type that uses it
 * is error TS7057; the routines below have no annotations and compile.
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
  all,
  Channel,
  call,
  Result,
  type Routine,
  race,
  routine,
  run,
  type SpawnOptions,
  sleep,
  spawn,
  type Task,
  timeout,
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

const num = routine(function* num() {
  yield sleep(0.1);
  return 1;
});
const str = routine(function* str() {
  yield sleep(0.2);
  return "one";
});

function* together() {
  // race() of routines with different results gives the union of them.
  const first = yield* race([num(), str()]);
  expectTypeOf(first).toEqualTypeOf<number | string>();
  // ... and with the result type given, each routine is checked against it.
  expectTypeOf(yield* race<number | string>([num(), str()])).toEqualTypeOf<number | string>();
  // @ts-expect-error: str() returns a string, not a number
  yield* race<number>([num(), str()]);

  // A race of channel operations is typed the same way.
  const numbers = new Channel<number>(1);
  const names = new Channel<string>(1);
  yield* names.send("ada");
  expectTypeOf(yield* race([numbers.receive(), names.receive()])).toEqualTypeOf<number | string>();

  // all() gives a tuple, timeout() the routine's own type.
  expectTypeOf(yield* all([num(), str()])).toEqualTypeOf<[number, string]>();
  expectTypeOf(yield* timeout(1, str())).toEqualTypeOf<string>();
  return first;
}

// spawn()'s options are a named, exported type: misspelt or wrong options are errors.
expectTypeOf<SpawnOptions>().toEqualTypeOf<{ name?: string; detached?: boolean }>();
function* spawnsBadly() {
  // @ts-expect-error: options are an object
  spawn(num(), 42);
  // @ts-expect-error: "nmae" is no option
  spawn(num(), { nmae: "n" });
  yield* spawn(num(), { name: "n", detached: false }).join();
}
void spawnsBadly;

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

  it("race() of routines with different results returns the first to end", async () => {
    assert.equal(await run(together(), { clock: new VirtualClock() }), 1);
  });
});
