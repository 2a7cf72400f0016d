/**
 * Timers: `sleep` and `repeat`.
 *
 * `sleep(s)` parks the task on the worker's timer queue; a parked sleeper
 * costs no steps. It becomes runnable at the first step at or after its
 * deadline (the deadline is set when the sleep starts, in the worker's
 * clock), and equal deadlines wake in the order they were set.
 */
import { checkSeconds } from "./clock.ts";
import { describeValue } from "./describe.ts";
import { routine } from "./names.ts";
import type { Task } from "./task.ts";
import type { TimerEntry } from "./timer-queue.ts";
import { Wait } from "./wait.ts";

/** A sleeper's wait and its entry in the timer queue, in one object. */
class SleepWait extends Wait<void> implements TimerEntry<Task<unknown>> {
  deadline = 0;
  seq = 0;
  owner: Task<unknown> | null = null;
  readonly #seconds: number;

  constructor(seconds: number) {
    super();
    this.#seconds = seconds;
  }

  park(task: Task<unknown>): void {
    this.deadline = task._worker.clock.now() + this.#seconds;
    this.owner = task;
    task._worker._addTimer(this);
  }

  override release(task: Task<unknown>): void {
    task._worker._cancelTimer(this);
  }

  describe(): string {
    return `sleep(${this.#seconds}) until ${this.deadline.toFixed(3)}`;
  }
}

const sleepRoutine = routine(function* sleep(seconds: number): Generator<unknown, void, unknown> {
  if (seconds === 0) yield;
  else yield new SleepWait(seconds);
});

/**
 * Waits at least `seconds` (in the worker's clock) without costing steps.
 * `sleep(0)` just gives up control. Negative or NaN seconds throw a
 * RangeError at the call.
 *
 * @example
 * function* blink() {
 *   for (;;) {
 *     light.toggle();
 *     yield sleep(0.5);
 *   }
 * }
 */
export function sleep(seconds: number): Generator<unknown, void, any> {
  checkSeconds("sleep()", seconds);
  return sleepRoutine(seconds);
}

const repeatRoutine = routine(function* repeat(
  seconds: number,
  fn: () => unknown,
): Generator<unknown, never, unknown> {
  for (;;) {
    const value = fn();
    if (isWaitable(value)) yield value;
    yield sleep(seconds);
  }
});

/**
 * Calls `fn` at once, then every `seconds`, forever (until cancelled). If
 * `fn` returns a generator it runs as a subroutine first (and a promise is
 * waited for), so the next call comes `seconds` after the last one ended.
 *
 * @example
 * worker.assign(repeat(60, () => checkLinks()));
 */
export function repeat(seconds: number, fn: () => unknown): Generator<unknown, never, any> {
  checkSeconds("repeat()", seconds);
  if (typeof fn !== "function")
    throw new TypeError(`repeat() expects a function to call, got ${describeValue(fn)}`);
  return repeatRoutine(seconds, fn);
}

function isWaitable(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const v = value as { next?: unknown; then?: unknown };
  return typeof v.next === "function" || typeof v.then === "function";
}
