/**
 * Timers: `sleep` and `repeat`.
 *
 * `sleep(s)` gives a wait object: yielding it parks the task on the
 * worker's timer queue, where it costs no steps, until the first step at
 * or after its deadline; equal deadlines wake in the order they were set.
 * The deadline counts from the call to `sleep()` when it is made inside a
 * step (in that worker's clock), else from the moment the task parks.
 *
 * Why a sleep is both a wait and a generator: `yield sleep(1)` parks at
 * once (one step, no frame to push and pop), while the generator protocol
 * lets `yield* sleep(1)` work too and lets a sleep be assigned as a task of
 * its own. It is one small object that is also its own timer-queue entry.
 */
import { checkSeconds } from "./clock.ts";
import { describeValue } from "./describe.ts";
import { routine, routineName } from "./names.ts";
import { keepShapes } from "./shapes.ts";
import { running, type Task } from "./task.ts";
import type { TimerEntry } from "./timer-queue.ts";
import { Wait } from "./wait.ts";

let shapesKept = false;

/** @internal A sleep's deadline before it is known. */
export const NOT_SET = -1;

/** @internal A sleep: its wait, its generator protocol, and its entry in the timer queue, in one object. */
export class Sleep
  extends Wait<void>
  implements Generator<unknown, void, any>, TimerEntry<Task<unknown>>
{
  /** @internal Its frames are named "sleep". */
  get [routineName](): string {
    return "sleep";
  }

  /** When it wakes, in the worker's clock; NOT_SET until known. */
  deadline: number;
  /** Set by the timer queue, for the order of equal deadlines. */
  seq = 0;
  /** The parked task, while it sleeps. */
  owner: Task<unknown> | null = null;
  /** How long it sleeps. */
  readonly seconds: number;
  /** Whether it was yielded by its own next() (when it runs as a frame or under yield*). */
  private _started = false;

  constructor(seconds: number, deadline: number) {
    super();
    this.seconds = seconds;
    this.deadline = deadline;
  }

  park(task: Task<unknown>): void {
    if (this.seconds === 0) {
      this.wake(task); // sleep(0) only gives up control
      return;
    }
    if (this.deadline === NOT_SET) this.deadline = task._worker.clock.now() + this.seconds;
    this.owner = task;
    task._worker._addTimer(this);
  }

  override release(task: Task<unknown>): void {
    task._worker._cancelTimer(this);
  }

  /** @internal Its deadline has come: the task wakes. */
  fire(task: Task<unknown>): void {
    task._worker._wake(task, this, false, undefined);
  }

  /** @internal Whether it was already yielded or parked on (a select needs a fresh one). */
  _used(): boolean {
    return this._started || this.owner !== null;
  }

  describe(): string {
    return this.deadline === NOT_SET
      ? `sleep(${this.seconds})`
      : `sleep(${this.seconds}) until ${this.deadline.toFixed(3)}`;
  }

  next(): IteratorResult<unknown, void> {
    if (this._started) return { value: undefined, done: true };
    this._started = true;
    return { value: this, done: false };
  }

  return(value?: unknown): IteratorResult<unknown, void> {
    this._started = true;
    return { value: value as undefined, done: true };
  }

  throw(error: unknown): IteratorResult<unknown, void> {
    this._started = true;
    throw error;
  }

  override [Symbol.iterator](): Generator<unknown, void, any> {
    return this;
  }

  get [Symbol.toStringTag](): string {
    return "Sleep";
  }
}

/**
 * Waits at least `seconds` (in the worker's clock) without costing steps:
 * `yield sleep(0.5)` or `yield* sleep(0.5)`. `sleep(0)` just gives up
 * control. Negative, NaN or infinite seconds throw a RangeError at the call.
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
  if (!shapesKept) {
    shapesKept = true;
    keepShapes(function* keep() {
      yield sleep(1.5); // a task, its generator and a Sleep on the timer queue
    });
  }
  const task = running.task;
  return new Sleep(
    seconds,
    task === undefined || seconds === 0 ? NOT_SET : task._worker.clock.now() + seconds,
  );
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

/** @internal Whether a value is a sleep. */
export function isSleep(value: unknown): value is Sleep {
  return value instanceof Sleep;
}

function isWaitable(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const v = value as { next?: unknown; then?: unknown };
  return typeof v.next === "function" || typeof v.then === "function";
}
