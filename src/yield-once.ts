/**
 * YieldOnce: the smallest routine. It yields one value, then returns what
 * it is resumed with (or throws what is thrown into it).
 *
 * `task.join()`, `call(x)` and `park()` are made of it. A generator object
 * would do the same, at about a hundred bytes and a slower resume; this is
 * two fields, and it still works with `yield`, `yield*` and `assign()`.
 * Each use is a subclass, so its frames carry the routine name (see
 * names.ts).
 */
import { nameRoutinePrototype } from "./names.ts";

export class YieldOnce<T> implements Generator<unknown, T, any> {
  /** What it yields on its first resume. */
  private readonly _value: unknown;
  /** Whether it has yielded (or was ended before it could). */
  private _started = false;

  constructor(value: unknown) {
    this._value = value;
  }

  next(input?: unknown): IteratorResult<unknown, T> {
    if (this._started) return { value: input as T, done: true };
    this._started = true;
    return { value: this._value, done: false };
  }

  return(value?: unknown): IteratorResult<unknown, T> {
    this._started = true;
    return { value: value as T, done: true };
  }

  throw(error: unknown): IteratorResult<unknown, T> {
    this._started = true;
    throw error;
  }

  [Symbol.iterator](): Generator<unknown, T, any> {
    return this;
  }

  get [Symbol.toStringTag](): string {
    return "Generator";
  }
}

/** Makes a YieldOnce subclass whose frames are named `name`. */
export function namedYieldOnce(name: string): typeof YieldOnce {
  const Named = { [name]: class extends YieldOnce<unknown> {} }[name] as typeof YieldOnce;
  nameRoutinePrototype(Named.prototype, name);
  return Named;
}
