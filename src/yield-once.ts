/**
 * YieldOnce: the smallest routine. It yields one value, then returns what
 * it is resumed with (or throws what is thrown into it).
 *
 * `task.join()`, `call(x)` and `park()` are made of it. A generator object
 * would do the same, at about a hundred bytes and a slower resume; this is
 * two fields, and it still works with `yield`, `yield*` and `assign()`.
 * Each use is a subclass, so its frames carry the routine name (see
 * names.ts). Fields are plain (not #private) and set in the constructor:
 * class-field initialisers make allocation several times slower in the
 * V8 of Node 20, and these objects are made on hot paths.
 *
 * Like a generator, it is one task's: the task it yielded to is the one
 * that resumes it. A second task that reaches it meanwhile (one `join()`
 * kept in a variable and yielded by two tasks, say) gets an error naming
 * both, where it would otherwise end at once with `undefined` and the
 * task would go on as if it had waited.
 */
import { routineName } from "./names.ts";
import type { Task } from "./task.ts";
import { running } from "./task-state.ts";

/** @internal `_holder` before the first resume. */
export const FRESH = 0;
/** @internal `_holder` once it has ended (returned, thrown, or ended before it could yield). */
export const ENDED = 1;
/** `_holder` while it waits for its resume after yielding outside any task (driven by hand): anyone resumes it. */
const BY_HAND = 2;

export class YieldOnce<T> implements Generator<unknown, T, any> {
  /** What it yields on its first resume. */
  protected _value: unknown;
  /** FRESH, ENDED, BY_HAND, or the task it yielded to, which resumes it next. */
  protected _holder: Task<unknown> | number = FRESH;

  constructor(value: unknown) {
    this._value = value;
  }

  next(input?: unknown): IteratorResult<unknown, T> {
    const holder = this._holder;
    const task = running.task;
    if (holder === FRESH) {
      this._holder = task ?? BY_HAND;
      return { value: this._value, done: false };
    }
    if (holder === ENDED) return { value: undefined as T, done: true };
    if (holder !== task && holder !== BY_HAND) throw this._taken(task, holder as Task<unknown>);
    this._holder = ENDED;
    return { value: input as T, done: true };
  }

  return(value?: unknown): IteratorResult<unknown, T> {
    this._holder = ENDED;
    return { value: value as T, done: true };
  }

  throw(error: unknown): IteratorResult<unknown, T> {
    this._holder = ENDED;
    throw error;
  }

  /** The error for a task that reached it while `holder` waits in it. */
  private _taken(task: Task<unknown> | undefined, holder: Task<unknown>): Error {
    const who = task === undefined ? "code outside any task" : task.label();
    const kind = (this as { [routineName]?: string })[routineName] ?? "yield-once";
    return new Error(
      `${who} reached a ${kind} routine that ${holder.label()} is waiting in: a routine object is ` +
        "one task's, as a generator is; make one in each task",
    );
  }

  [Symbol.iterator](): Generator<unknown, T, any> {
    return this;
  }

  get [Symbol.toStringTag](): string {
    return "Generator";
  }
}
