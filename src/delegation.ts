/**
 * Delegation: how `yield*` stays safe when a task is cancelled.
 *
 * The problem. A task is cancelled by `return()` on its top generator. If
 * that generator is inside `yield* helper()`, JavaScript forwards the
 * `return()` to `helper`, whose `finally` runs. If that `finally` waits
 * (`yield sleep(1)`, a child being reaped, a permit given back), the task
 * parks; on the next resume the worker can only call `next()`, and once the
 * `finally` ends, the language reports `helper` as having *returned
 * normally* through that `next()`: the caller's `yield*` evaluates to
 * `undefined` and the caller's next lines run, after the cancel. (Resuming a
 * delegating generator with `next()` forgets that it was told to return.)
 *
 * The fix. Every generator the library hands out, and every generator made
 * by a function marked with `routine()`, gives `yield*` a Delegation (its
 * `[Symbol.iterator]`): a thin object that forwards `next`, `throw` and
 * `return` and remembers that it was told to return. When a cleanup that
 * waited then ends, it does not report a normal return; it yields the
 * UNWIND marker instead. The worker answers UNWIND with `return()` on the
 * task's top generator, which JavaScript forwards down the same `yield*`
 * chain: every caller completes with a return, so its `finally` runs and
 * its next lines never do (its `catch` does not run either, as for any
 * cancelled frame).
 *
 * A cleanup that throws while its task is being cancelled is handled as
 * for frames on the task's own stack: the task will end failed with that
 * error, and the callers still unwind with a return (their `catch` blocks
 * never see it).
 *
 * What stays JavaScript's: a plain generator function the library never
 * saw, called with `yield*`, whose `finally` waits, still lets its caller
 * continue after that `finally` ends. Call such a helper with `yield
 * helper()` (the worker then sees its frame) or make it with `routine()`.
 */
import { generatorNext } from "./describe.ts";
import { running, UNWINDING } from "./task-state.ts";

/** @internal Yielded by a delegation whose interrupted return has finished its cleanup: "return() me again". */
export const UNWIND: { readonly unwind: true } = Object.freeze({ unwind: true });

/** @internal The result a delegation gives in place of a normal return after its cleanup waited. */
export const UNWOUND: IteratorResult<unknown, never> = Object.freeze({
  value: UNWIND,
  done: false,
});

/**
 * @internal A cleanup threw while the current task is being cancelled: it
 * is noted on the task (which will end failed with it) and true is
 * returned; otherwise false (the error goes on as usual).
 */
export function noteCleanupError(error: unknown): boolean {
  const task = running.task;
  if (task === undefined || !(task._flags & UNWINDING)) return false;
  task._worker._cleanupFailed(task, error);
  return true;
}

/**
 * @internal What `yield*` iterates for a routine's generator: forwards
 * every resume, and turns the end of a return() whose cleanup waited into
 * UNWIND. Fields are plain and set in the constructor (allocation speed in
 * Node 20's V8, as everywhere on hot paths).
 */
export class Delegation<R> implements Generator<unknown, R, any> {
  /** The generator delegated to. */
  readonly _generator: Generator<unknown, R, any>;
  /** Set once return() reached it: a later normal end is the end of that return's cleanup. */
  _returning: boolean;

  constructor(generator: Generator<unknown, R, any>) {
    this._generator = generator;
    this._returning = false;
  }

  next(input?: unknown): IteratorResult<unknown, R> {
    // Always a native generator (see names.ts): resumed without a lookup of `next` (see generatorNext).
    if (!this._returning)
      return generatorNext.call(this._generator, input) as IteratorResult<unknown, R>;
    return this._cleanupStep(false, input);
  }

  throw(error: unknown): IteratorResult<unknown, R> {
    if (!this._returning) return this._generator.throw(error);
    return this._cleanupStep(true, error);
  }

  return(value?: unknown): IteratorResult<unknown, R> {
    this._returning = true;
    try {
      return this._generator.return(value as R);
    } catch (error) {
      if (!noteCleanupError(error)) throw error;
      return { value: value as R, done: true };
    }
  }

  /** A resume of a cleanup run by return(): its end is reported as UNWIND, never as a return. */
  _cleanupStep(isThrow: boolean, input: unknown): IteratorResult<unknown, R> {
    let result: IteratorResult<unknown, R>;
    try {
      result = isThrow ? this._generator.throw(input) : this._generator.next(input);
    } catch (error) {
      if (!noteCleanupError(error)) throw error;
      return UNWOUND;
    }
    return result.done === true ? UNWOUND : result;
  }

  [Symbol.iterator](): Generator<unknown, R, any> {
    return this;
  }

  get [Symbol.toStringTag](): string {
    return "Generator";
  }
}

/** @internal `[Symbol.iterator]` for a routine's generators: `yield*` gets a Delegation. */
export function delegate<R>(this: Generator<unknown, R, any>): Generator<unknown, R, any> {
  return new Delegation(this);
}
