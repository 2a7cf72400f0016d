/**
 * Clocks: where a worker reads the time.
 *
 * Time is in seconds everywhere. The default clock is the host's monotonic
 * clock (`performance.now()`, in Node and browsers alike). A `VirtualClock`
 * moves only when told to: a game advances it by each frame's time (so
 * pausing, slow motion and single-stepping are exact), and a worker driven
 * by `work()` or `run()` jumps it to the next timer when every task sleeps,
 * so a simulated hour takes milliseconds.
 */

/** Anything that tells the time, in seconds. */
export interface Clock {
  /** The time now, in seconds from an arbitrary start. */
  now(): number;
}

/**
 * The host's `performance` object, looked up once: in Node the global is a
 * lazy getter that costs as much as the read itself.
 */
const hostPerformance: { now(): number } = globalThis.performance;

/** @internal The host's monotonic clock, in milliseconds. */
export const hostNow = (): number => hostPerformance.now();

/** The host's monotonic clock, in seconds. */
export const realClock: Clock = {
  now: () => hostPerformance.now() / 1000,
};

/**
 * A clock that moves only when advanced.
 *
 * @example
 * const clock = new VirtualClock();
 * const worker = new Worker({ clock });
 * worker.assign(patrol());
 * clock.advance(1 / 60); // one frame
 * worker.tickFor(0.004);
 */
export class VirtualClock implements Clock {
  /** The current virtual time, in seconds. */
  #now: number;

  constructor(start = 0) {
    checkSeconds("VirtualClock start", start, true);
    this.#now = start;
  }

  /** The time now, in seconds: the start, plus every advance. */
  now(): number {
    return this.#now;
  }

  /** Moves the clock forward by `seconds` (zero or more). */
  advance(seconds: number): void {
    checkSeconds("VirtualClock.advance()", seconds);
    this.#now += seconds;
  }

  /** Moves the clock to `time` if that is later than now (never backwards). */
  advanceTo(time: number): void {
    checkSeconds("VirtualClock.advanceTo()", time, true);
    if (time > this.#now) this.#now = time;
  }
}

/**
 * Refuses what cannot be a number of seconds: NaN, infinities (unless
 * allowed) and negatives (unless `allowNegative`), with a RangeError that
 * says what came.
 */
export function checkSeconds(
  what: string,
  seconds: unknown,
  allowNegative = false,
  allowInfinity = false,
): asserts seconds is number {
  if (typeof seconds !== "number") {
    throw new TypeError(`${what} expects a number of seconds, got ${describeType(seconds)}`);
  }
  if (Number.isNaN(seconds)) throw new RangeError(`${what} expects a number of seconds, got NaN`);
  if (!allowInfinity && !Number.isFinite(seconds)) {
    throw new RangeError(`${what} expects a finite number of seconds, got ${seconds}`);
  }
  if (!allowNegative && seconds < 0) {
    throw new RangeError(`${what} expects zero or more seconds, got ${seconds}`);
  }
}

function describeType(value: unknown): string {
  return value === null ? "null" : `${typeof value} ${String(value)}`;
}
