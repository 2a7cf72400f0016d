/**
 * Short, human descriptions of arbitrary values for error messages:
 * "expected X, got Y" needs a good Y.
 */

/**
 * Describes any value in a few words: `number 42`, `string "abc"`,
 * `Promise`, `function main`. Never throws: an object whose getters or
 * Proxy traps throw is "an object that throws when inspected".
 */
export function describeValue(value: unknown): string {
  try {
    return describe(value);
  } catch {
    return `${typeof value === "function" ? "a function" : "an object"} that throws when inspected`;
  }
}

/** Describes a thrown value in a few words (`TypeError: bad`), never throwing. */
export function describeError(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : describeValue(error);
  } catch {
    return "an error that throws when inspected";
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "undefined":
      return "undefined";
    case "string": {
      const text = value.length > 40 ? `${value.slice(0, 37)}...` : value;
      return `string ${JSON.stringify(text)}`;
    }
    case "number":
    case "boolean":
    case "bigint":
      return `${typeof value} ${String(value)}`;
    case "symbol":
      return `symbol ${String(value)}`;
    case "function": {
      const kind = isGeneratorFunction(value)
        ? "generator function"
        : value instanceof (AsyncGeneratorFunction as typeof Function)
          ? "async generator function"
          : "function";
      return value.name ? `${kind} ${value.name}` : `anonymous ${kind}`;
    }
    default: {
      if (Array.isArray(value)) return `array of ${value.length}`;
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto === null) return "object with null prototype";
      const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
      const name = typeof ctor?.name === "string" && ctor.name !== "" ? ctor.name : "Object";
      const tag = (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
      if (typeof tag === "string" && tag !== name)
        return `${name === "Object" ? "" : `${name} `}${tag}`;
      return name === "Object" ? "plain object" : `${name} object`;
    }
  }
}

const GeneratorFunction = Object.getPrototypeOf(function* () {}).constructor as unknown;
const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor as unknown;

/** True for `function*` declarations and expressions. */
export function isGeneratorFunction(value: unknown): value is (...args: never[]) => Generator {
  return typeof value === "function" && value instanceof (GeneratorFunction as typeof Function);
}

/** Native generator objects inherit from %GeneratorPrototype%; `instanceof` this is a fast check. */
export function NativeGenerator(): void {}
NativeGenerator.prototype = (
  GeneratorFunction as { prototype: { prototype: object } }
).prototype.prototype;

/**
 * %GeneratorPrototype%.next: `generatorNext.call(g, x)` resumes a native
 * generator with no lookup of `next` on it. A generator of a function made
 * anew (a routine written inside a loop, or inside a program run many
 * times, as tests do) has a hidden class V8 has not seen, and a lookup
 * would miss the cache at the first resume of each: the forwarding frames
 * (Delegation, withPermit) call it when they know their generator is native.
 */
export const generatorNext = (NativeGenerator.prototype as Generator<unknown, unknown, unknown>)
  .next;

/**
 * True for generator objects and for objects with the generator protocol
 * (next, throw and return), such as the library's own small routines, but
 * not for async generators: they have the same three methods, but each
 * returns a promise, so a step could never see them yield or return.
 * Native generators are recognised by their prototype, which is cheaper
 * than three property loads on objects of many shapes.
 */
export function isGenerator(value: unknown): value is Generator<unknown, unknown, unknown> {
  if (typeof value !== "object" || value === null) return false;
  if (value instanceof NativeGenerator) return true;
  const v = value as { next?: unknown; throw?: unknown; return?: unknown };
  return (
    typeof v.next === "function" &&
    typeof v.throw === "function" &&
    typeof v.return === "function" &&
    !isAsyncGenerator(value)
  );
}

/**
 * True for async generator objects (`async function*`), and for any object
 * that iterates asynchronously (`Symbol.asyncIterator`) without also
 * iterating synchronously.
 */
export function isAsyncGenerator(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  return (
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function" &&
    typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function"
  );
}

/** What to say to someone who gave an async generator where a routine goes. */
export const ASYNC_GENERATOR_HINT =
  "write the routine as function* (a generator), and where it awaited a promise, yield it";

/**
 * Refuses what cannot be a routine (a generator object), with a message
 * that says what came and what to do: call a generator function, write an
 * async generator as function*. Never throws anything but that TypeError,
 * whatever the value's getters do.
 */
export function checkRoutine(call: string, value: unknown, example = "main()"): void {
  try {
    if (isGenerator(value)) return;
  } catch (error) {
    throw new TypeError(
      `${call} expects a generator object, got ${describeValue(value)} (looking at it threw ${describeError(error)})`,
      { cause: error },
    );
  }
  if (isAsyncGenerator(value)) {
    throw new TypeError(
      `${call} expects a generator object, got an async generator: ${ASYNC_GENERATOR_HINT}`,
    );
  }
  if (isGeneratorFunction(value)) {
    const name = value.name || "routine";
    throw new TypeError(
      `${call} expects a generator object, got the generator function ${name}: call it, e.g. ${call.replace("()", "")}(${name}())`,
    );
  }
  throw new TypeError(
    `${call} expects a generator object (call your routine: ${example}), got ${describeValue(value)}`,
  );
}
