/**
 * Schedules as a fast-check arbitrary (`clockwork-microthreads/sim-fast-check`).
 *
 * `explore()` draws its own schedules; with fast-check, a property can draw
 * them instead, beside its other inputs, and fast-check's shrinking then
 * works on the schedule too. A schedule here is a choice list: the n-th
 * choice the run makes (a pick among runnable tasks, or a `sim().choose()`
 * or fault) is the list's n-th number, capped at the options there; past
 * the list's end every choice is 0, round-robin. fast-check shrinks a list
 * toward fewer and smaller numbers, so toward round-robin: the empty list.
 *
 * fast-check is not a dependency of clockwork: pass the module in
 * (`schedules(fc)`); this file imports only its types.
 */
import type { Arbitrary } from "fast-check";
import { describeValue } from "./describe.ts";
import type { Schedule, SimEnv } from "./schedule.ts";
import { _runUnder, type Outcome } from "./sim.ts";

/** What `schedules()` uses of the fast-check module (`import fc from "fast-check"`). */
export type FastCheck = Pick<typeof import("fast-check"), "array" | "nat">;

/** Options for `schedules()`. */
export interface SchedulesOptions {
  /** The longest choice list; default 64 (a run's later choices are 0). */
  maxChoices?: number;
  /** The largest choice drawn; default 3 (each is capped at its options when played). */
  maxChoice?: number;
}

/**
 * An arbitrary of choice lists, for `fc.property`; shrinks toward
 * round-robin (the empty list). Run a program under one with
 * `runChoices()`.
 *
 * @example
 * fc.assert(
 *   fc.property(schedules(fc), (choices) => {
 *     const outcome = runChoices(program, choices);
 *     return outcome.ok && outcome.value === 2;
 *   }),
 * );
 */
export function schedules(fc: FastCheck, options: SchedulesOptions = {}): Arbitrary<number[]> {
  if (typeof fc?.array !== "function" || typeof fc?.nat !== "function") {
    throw new TypeError(
      `schedules() expects the fast-check module (import fc from "fast-check"), got ${describeValue(fc)}`,
    );
  }
  const maxChoices = whole("maxChoices", options.maxChoices, 64);
  const maxChoice = whole("maxChoice", options.maxChoice, 3);
  return fc.array(fc.nat({ max: maxChoice }), { maxLength: maxChoices });
}

/**
 * The schedule of a choice list: the n-th choice is `choices[n]`, capped
 * at the options there (so a smaller number never means a later task),
 * then 0 (round-robin) past the list's end.
 */
export function playChoices(choices: readonly number[]): Schedule {
  if (!Array.isArray(choices) || choices.some((c) => !Number.isInteger(c) || c < 0)) {
    throw new TypeError(
      `playChoices() expects an array of whole numbers of at least 0, got ${describeValue(choices)}`,
    );
  }
  let at = 0;
  const next = (options: number): number => Math.min(choices[at++] ?? 0, options - 1);
  return { pick: (runnable) => next(runnable.length), choose: (options) => next(options) };
}

/**
 * Runs `program` once under the choice list, as `explore()` runs each
 * schedule (a fresh worker on a VirtualClock, driven to its end; a
 * deadlock fails with WouldBlockError), and tells how it ended.
 */
export function runChoices<R>(
  program: (env: SimEnv) => Generator<unknown, R, any>,
  choices: readonly number[],
  options: { maxSteps?: number } = {},
): Outcome<R> {
  if (typeof program !== "function") {
    throw new TypeError(
      `runChoices() expects a function that returns a routine, got ${describeValue(program)}`,
    );
  }
  return _runUnder(program, playChoices(choices), whole("maxSteps", options.maxSteps, 100_000));
}

function whole(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `option "${name}" expects a whole number of at least 1, got ${describeValue(value)}`,
    );
  }
  return value;
}
