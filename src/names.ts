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
 */
import { describeValue, isGeneratorFunction } from "./describe.ts";

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
  if (isGeneratorFunction(fn)) {
    Object.defineProperty(fn.prototype, routineName, { value: name });
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
      }
      return generator;
    },
  }[name] as (...args: A) => Generator<unknown, R, any>;
  return wrapper;
}

/** The routine name of a generator object, or undefined when it has none. */
export function nameOf(generator: object): string | undefined {
  return (generator as { [routineName]?: string })[routineName];
}
