/**
 * Bridges between routines and the rest of the world.
 *
 * - `call(x)` turns a generator, a Task or a promise into a routine, for
 *   `yield* call(x)` with the right type.
 * - `wrap(routine)` runs a routine to its end from plain synchronous code.
 * - `run(routine)` runs it alongside the event loop and gives a promise.
 */
import type { Clock } from "./clock.ts";
import { ASYNC_GENERATOR_HINT, describeValue, isAsyncGenerator } from "./describe.ts";
import { CancelledError } from "./errors.ts";
import { routineName } from "./names.ts";
import { CANCELLED, Task } from "./task.ts";
import { Worker } from "./worker.ts";
import { YieldOnce } from "./yield-once.ts";

type Callable<T> = Generator<unknown, T, any> | Task<T> | PromiseLike<T>;

/** The frame of `call(x)`: yields x, returns what it gives. */
class CallRoutine<T> extends YieldOnce<T> {
  /** @internal Its frames are named "call". */
  get [routineName](): string {
    return "call";
  }

  constructor(x: unknown) {
    super(x);
  }
}

/**
 * A routine that calls a generator, joins a task, or waits for a promise,
 * and returns its value (or throws its error). Mostly for types:
 * `const body = yield* call(response.text())` gives a `string`.
 *
 * @example
 * function* fetchTitle(url: string) {
 *   const response = yield* call(fetch(url, { signal: currentTask()!.signal }));
 *   return (yield* call(response.text())).match(/<title>(.*)<\/title>/)?.[1];
 * }
 */
export function call<T>(x: Callable<T>): Generator<unknown, T, any> {
  if (isAsyncGenerator(x)) {
    throw new TypeError(
      `call() expects a generator object, got an async generator: ${ASYNC_GENERATOR_HINT}`,
    );
  }
  if (!isCallable(x)) {
    throw new TypeError(`call() expects a generator, a Task or a promise, got ${describeValue(x)}`);
  }
  return new CallRoutine<T>(x);
}

function isCallable(x: unknown): boolean {
  if (x instanceof Task) return true;
  if (typeof x !== "object" || x === null) return false;
  const v = x as { next?: unknown; throw?: unknown; then?: unknown };
  return (
    (typeof v.next === "function" && typeof v.throw === "function") || typeof v.then === "function"
  );
}

/**
 * Runs a routine to its end on a fresh Worker, synchronously, and returns
 * its return value (or throws its error). Timers are waited for (a
 * VirtualClock is jumped); promises cannot be waited for here (use `run`).
 *
 * The program ends when the routine does (after its children, which it
 * waits for), as a Go program ends when main returns: every task left on
 * the worker (a detached task, a forgotten ticker) is then cancelled, and
 * wrap() returns once their `finally` blocks have run.
 *
 * @example
 * const squares = wrap(collectSquares(4)); // [0, 1, 4, 9]
 */
export function wrap<R>(routine: Generator<unknown, R, any>, options: { clock?: Clock } = {}): R {
  const worker = new Worker(options);
  const task = worker._assignMain(routine);
  worker.work();
  if (task._state === CANCELLED) throw new CancelledError(`${task.label()} was cancelled`);
  return task.result;
}

/**
 * Runs a routine on a fresh Worker alongside the event loop; resolves with
 * its return value or rejects with its error. Like `wrap()`, it ends when
 * the routine does: the tasks left are cancelled and their cleanup runs
 * first.
 *
 * @example
 * const title = await run(fetchTitle("http://127.0.0.1:8080/"));
 */
export async function run<R>(
  routine: Generator<unknown, R, any>,
  options: { clock?: Clock } = {},
): Promise<R> {
  const worker = new Worker(options);
  const task = worker._assignMain(routine);
  const result = task.toPromise();
  await worker.run();
  return result;
}
