/**
 * Names for routines, so that tasks and stack frames read as the program does.
 *
 * JavaScript cannot get from a generator object back to the function that
 * made it, so names come from `routine()`. Every generator object inherits
 * from its generator function's own `prototype` object; `routine()` writes
 * the function's name there once, under a private symbol, and every
 * generator the function makes then carries the name at no cost per call.
 * A plain function that returns a generator has no such link, so for those
 * `routine()` wraps the function and writes the name on each generator it
 * returns (unless it already has one).
 *
 * `routine()` also makes `yield*` safe under cancellation: its generators
 * give `yield*` a Delegation (see delegation.ts), so that a caller never
 * goes on after a cancel, even when the routine's `finally` waits.
 */
import { delegate } from "./delegation.ts";
import { describeValue, isGeneratorFunction, NativeGenerator } from "./describe.ts";

/**
 * @internal The key under which a routine's name is found. Library classes
 * that act as routines define it as a getter in the class body: adding a
 * property to a prototype later can turn it into a slow (dictionary) object.
 */
export const routineName: unique symbol = Symbol("clockwork.routineName");

/**
 * Marks a generator function as a routine, so the tasks and stack frames it
 * makes are named after it. Returns a function of the same name and type.
 *
 * @example
 * const crawl = routine(function* crawl(url: string) {
 *   yield sleep(1);
 *   return url.length;
 * });
 * worker.assign(crawl("/")).name; // "crawl"
 */
export function routine<A extends unknown[], R>(
  fn: (...args: A) => Generator<unknown, R, any>,
): (...args: A) => Generator<unknown, R, any> {
  if (typeof fn !== "function") {
    throw new TypeError(`routine() expects a generator function, got ${describeValue(fn)}`);
  }
  const name = fn.name || "<anonymous>";
  const prototype: unknown = fn.prototype; // a bound generator function has none
  if (isGeneratorFunction(fn) && typeof prototype === "object" && prototype !== null) {
    Object.defineProperty(prototype, routineName, { value: name });
    if (mayWaitWhenReturned(fn)) {
      Object.defineProperty(prototype, Symbol.iterator, { value: delegate });
    }
    return fn;
  }
  const wrapper = {
    [name](this: unknown, ...args: A): Generator<unknown, R, any> {
      const generator = fn.apply(this, args);
      if (
        typeof generator === "object" &&
        generator !== null &&
        !Object.hasOwn(generator, routineName)
      ) {
        Object.defineProperty(generator, routineName, { value: name });
        // A plain generator: `yield*` gets a Delegation (the library's own routines have theirs).
        if (generator instanceof NativeGenerator && !Object.hasOwn(generator, Symbol.iterator)) {
          Object.defineProperty(generator, Symbol.iterator, { value: delegate });
        }
      }
      return generator;
    },
  }[name] as (...args: A) => Generator<unknown, R, any>;
  return wrapper;
}

/**
 * Whether a generator function's generators could yield after `return()`:
 * only a `finally` block or a `yield*` (forwarding the return to a
 * generator that can) can do that. Those get a Delegation under `yield*`;
 * the others are iterated as they are, at no cost per resume. The test is
 * on the source text and errs on the safe side (the words in a comment or
 * a string count; a function whose source is not shown counts).
 */
function mayWaitWhenReturned(fn: (...args: never[]) => unknown): boolean {
  let source: string;
  try {
    source = Function.prototype.toString.call(fn);
  } catch {
    return true;
  }
  return /\bfinally\b|yield\s*\*|\[native code\]/.test(source);
}

/** The routine name of a generator object, or undefined when it has none. */
export function nameOf(generator: object): string | undefined {
  return (generator as { [routineName]?: string })[routineName];
}
