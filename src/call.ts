/**
 * Bridges between routines and the rest of the world.
 *
 * - `call(x)` turns a generator, a Task or a promise into a routine, for
 *   `yield* call(x)` with the right type.
 * - `wrap(routine)` runs a routine to its end from plain synchronous code.
 * - `run(routine)` runs it alongside the event loop and gives a promise.
 */
import type { Clock } from "./clock.ts";
import {
  ASYNC_GENERATOR_HINT,
  describeError,
  describeValue,
  isAsyncGenerator,
} from "./describe.ts";
import { WouldBlockError } from "./errors.ts";
import { routineName } from "./names.ts";
import { Task } from "./task.ts";
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

/** Options for `wrap()` and `run()`. */
export interface RunOptions {
  /** Where time comes from; default: the host's monotonic clock. */
  clock?: Clock;
  /**
   * Receives each error another task (a detached one, say) left unhandled,
   * and the program goes on. Without it, such an error ends the program.
   */
  onError?: (error: unknown, task: Task<unknown>) => void;
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
 * Errors are never lost, and one is thrown. An error another task left
 * unhandled goes to `options.onError` if given; otherwise it ends the
 * program too: every task left, the routine included, is cancelled and
 * unwinds. What is thrown is the first error (the original object): the
 * routine's, or another task's that came before it. Any others (say, a
 * `finally` that threw while it was cancelled) are attached to it, as
 * Java does with suppressed exceptions: listed in its `suppressed` array
 * and appended to its `stack` text as "Suppressed: ...". When the first
 * error cannot carry them (a string, a frozen object), an AggregateError
 * of all of them is thrown instead. If the cleanup of the tasks left
 * waits on something only the event loop could bring, they are left as
 * they are and a WouldBlockError is among the errors.
 *
 * @example
 * const squares = wrap(collectSquares(4)); // [0, 1, 4, 9]
 */
export function wrap<R>(routine: Generator<unknown, R, any>, options: RunOptions = {}): R {
  const program = new Program(routine, options);
  for (;;) {
    try {
      program.worker.work();
      break;
    } catch (error) {
      if (!program.failed(error)) break;
    }
  }
  return program.outcome("wrap()");
}

/**
 * Runs a routine on a fresh Worker alongside the event loop; resolves with
 * its return value or rejects with its error. Like `wrap()`, it ends when
 * the routine does (the tasks left are cancelled and their cleanup runs
 * first), and an error nobody handled ends it too, in the same way: it
 * rejects with one error, the first, with any others attached to it (its
 * `suppressed` array), or with an AggregateError when the first cannot
 * carry them. No rejection is ever left unhandled.
 *
 * @example
 * const title = await run(fetchTitle("http://127.0.0.1:8080/"));
 */
export async function run<R>(
  routine: Generator<unknown, R, any>,
  options: RunOptions = {},
): Promise<R> {
  const program = new Program(routine, options);
  for (;;) {
    try {
      await program.worker.run();
      break;
    } catch (error) {
      if (!program.failed(error)) break;
    }
  }
  return program.outcome("run()");
}

/**
 * The private worker of wrap() or run(), and the errors its driving calls
 * threw. The routine is the worker's main task: when it ends, the worker
 * cancels every task left. The first error a driving call throws ends the
 * program the same way, and driving goes on until the cleanup is over,
 * collecting any further errors.
 */
class Program<R> {
  readonly worker: Worker;
  /** The routine's task. */
  readonly main: Task<R>;
  /** What the driving calls threw, in order. */
  readonly #errors: unknown[] = [];
  /** Whether the routine had ended when the first error came: its own error, if any, came first. */
  #mainFirst = false;

  constructor(routine: Generator<unknown, R, any>, options: RunOptions) {
    this.worker = new Worker(options);
    this.main = this.worker._assignMain(routine);
  }

  /** A driving call threw `error`; returns whether to drive on. */
  failed(error: unknown): boolean {
    // Once the routine has ended or an error came, every task left is being cancelled.
    const ending = this.#errors.length > 0 || this.main.isDone();
    if (this.#errors.length === 0) this.#mainFirst = this.main.isDone();
    this.#errors.push(error);
    // Cleanup that waits on what only the event loop could bring: leave it.
    if (ending) return !(error instanceof WouldBlockError);
    this.worker.cancelAll();
    return true;
  }

  /** The routine's value; or the first error, with the others attached. */
  outcome(call: string): R {
    const main = this.main;
    const errors = [...this.#errors];
    if (main.state === "failed") {
      if (this.#mainFirst || errors.length === 0) errors.unshift(main.error);
      else errors.splice(1, 0, main.error);
    }
    if (errors.length > 0) throw oneError(call, errors);
    if (main.state === "cancelled") throw main._cancelledError();
    return main.result;
  }
}

/** Errors that already carry suppressed ones from us (so another run may set them again). */
const carriers = new WeakSet<object>();

/**
 * One error for many: the first, with the others in its `suppressed` array
 * and its stack text; an AggregateError of all when the first cannot carry
 * them (not an object, frozen, or with a `suppressed` of its own).
 */
function oneError(call: string, errors: unknown[]): unknown {
  const [first, ...others] = [...new Set(errors)];
  if (others.length === 0) return first;
  try {
    if (
      typeof first === "object" &&
      first !== null &&
      Object.isExtensible(first) &&
      (!Object.hasOwn(first, "suppressed") || carriers.has(first))
    ) {
      Object.defineProperty(first, "suppressed", {
        value: others,
        writable: true,
        configurable: true,
      });
      carriers.add(first);
      appendSuppressed(first, others);
      return first;
    }
  } catch {
    // A Proxy that refuses: fall through.
  }
  return new AggregateError(
    [first, ...others],
    `${call}: ${others.length + 1} errors; the first: ${describeError(first)}`,
  );
}

/** Appends "Suppressed: <its stack>" for each error to the stack text, as a JVM prints them. */
function appendSuppressed(error: object, others: unknown[]): void {
  try {
    const e = error as { stack?: unknown };
    if (typeof e.stack !== "string") return;
    for (const other of others) {
      let text: string;
      try {
        const stack = (other as { stack?: unknown } | null)?.stack;
        text = typeof stack === "string" ? stack : describeError(other);
      } catch {
        text = describeError(other);
      }
      e.stack += `\n  Suppressed: ${text.replaceAll("\n", "\n  ")}`;
    }
  } catch {
    // A frozen stack: the suppressed array still has them.
  }
}
