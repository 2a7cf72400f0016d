/**
 * Result: a box for a value, from the original library (written before
 * generators could return values). Routines can now `return` a value and
 * callers get it with `yield` or `yield*`, but a box is still handy to hand
 * a value out of a callback or to code that is not a routine.
 */

/**
 * A box holding one value.
 *
 * @example
 * const result = new Result<number>();
 * result.set(5);
 * result.get(); // 5
 */
export class Result<T> {
  /** The value, or undefined before the first set(). */
  value: T | undefined = undefined;

  /** Puts a value in the box (replacing any). */
  set(value: T): void {
    this.value = value;
  }

  /** The value, or undefined before the first set(). */
  get(): T | undefined {
    return this.value;
  }
}
