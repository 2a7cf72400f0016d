import { ASYNC_GENERATOR_HINT, describeValue, isAsyncGenerator } from "./describe.ts";
import { routineName } from "./names.ts";
import { keepShapes } from "./shapes.ts";
import { Task } from "./task.ts";
import { YieldOnce } from "./yield-once.ts";

let shapesKept = false;

/** What `call()` takes: a generator to call, a task to join, or a promise to wait for. */
export type Callable<T> = Generator<unknown, T, any> | Task<T> | PromiseLike<T>;

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
  if (!shapesKept) {
    shapesKept = true;
    keepShapes(() => call(new Promise<never>(() => {})));
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
