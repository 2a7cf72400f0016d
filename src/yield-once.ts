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
 */

export class YieldOnce<T> implements Generator<unknown, T, any> {
  /** What it yields on its first resume. */
  protected readonly _value: unknown;
  /** Whether it has yielded (or was ended before it could). */
  protected _started = false;

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
