/**
 * shield: a routine that runs to its end even if its task is cancelled.
 *
 * Why: a cancel unwinds a task with `return()`, and JavaScript cannot tell
 * whether a generator is inside a `finally`. A cleanup that is already
 * running when a cancel comes (a `finally` entered because the body
 * returned or threw, a flush, a child being reaped) would be cut at its
 * next `yield`. Inside `shield(routine)` a cancel waits: the task is marked,
 * the routine and the children it started go on, and once the routine has
 * returned or thrown, the cancel takes effect at the task's next yield (the
 * frames below the shield unwind as usual). Shields nest; the cancel waits
 * for the outermost.
 *
 * A shield makes a task impossible to cancel while it runs, so what it
 * runs must end on its own: bound anything slow inside it with `timeout`.
 */
import { checkRoutine } from "./describe.ts";
import { routineName } from "./names.ts";
import { NEXT, RETURN, running, type Task, THROW } from "./task.ts";

/** The frame of `shield(routine)`: counts itself on its task while the routine runs. */
class Shield<R> implements Generator<unknown, R, any> {
  readonly _body: Generator<unknown, R, any>;
  /** The task it counts on, from its first resume until the routine ends; null otherwise. */
  _task: Task<unknown> | null;
  /** 0: not started; 1: running; 2: ended. */
  _phase: number;

  constructor(body: Generator<unknown, R, any>) {
    this._body = body;
    this._task = null;
    this._phase = 0;
  }

  /** Its frames are named "shield". */
  get [routineName](): string {
    return "shield";
  }

  next(input?: unknown): IteratorResult<unknown, R> {
    return this._resume(NEXT, input);
  }

  throw(error: unknown): IteratorResult<unknown, R> {
    return this._resume(THROW, error);
  }

  return(value?: unknown): IteratorResult<unknown, R> {
    return this._resume(RETURN, value);
  }

  _resume(mode: number, input: unknown): IteratorResult<unknown, R> {
    if (this._phase === 2) {
      if (mode === THROW) throw input;
      return { value: input as R, done: true };
    }
    if (this._phase === 0) {
      this._phase = 1;
      const task = running.task;
      if (task !== undefined) {
        this._task = task;
        task._extraFields().shield++;
      }
    }
    let result: IteratorResult<unknown, R>;
    try {
      result =
        mode === NEXT
          ? this._body.next(input)
          : mode === THROW
            ? this._body.throw(input)
            : this._body.return(input as R);
    } catch (error) {
      this._end();
      throw error;
    }
    if (result.done === true) this._end();
    return result;
  }

  /** The routine ended: the task's cancel, if one waited for this shield, comes now. */
  _end(): void {
    this._phase = 2;
    const task = this._task;
    if (task === null) return;
    this._task = null;
    const extra = task._extraFields();
    if (--extra.shield === 0) task._worker._shieldEnded(task);
  }

  [Symbol.iterator](): Generator<unknown, R, any> {
    return this;
  }

  get [Symbol.toStringTag](): string {
    return "Generator";
  }
}

/**
 * Runs `routine` to its end even if the task is cancelled meanwhile; the
 * cancel then takes effect at the task's next yield. For cleanup that must
 * not be cut (a cancel that comes while a `finally` already runs would cut
 * it at its next yield), and for work that must finish once started. Gives
 * the routine's value, or throws its error.
 *
 * @example
 * try {
 *   yield* serve(requests);
 * } finally {
 *   yield* shield(timeout(5, flushLogs())); // whole, but never longer than 5 s
 * }
 */
export function shield<R>(routine: Generator<unknown, R, any>): Generator<unknown, R, any> {
  checkRoutine("shield()", routine, "shield(flush())");
  return new Shield(routine);
}
