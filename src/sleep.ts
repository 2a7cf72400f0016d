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

// A sleep's `seq` out of the timer queue (the queue numbers its entries from 1). Bit 0 of -seq: it
// was started (yielded by its own next()); bit 1: `deadline` still holds the seconds to sleep,
// counted from the park (a sleep made outside a step, or sleep(0)).
const STARTED = 1;
const RELATIVE = 2;

/**
 * @internal A sleep: its wait, its generator protocol, its first iterator result and its entry in
 * the timer queue, in one object of three fields.
 *
 * Why it is its own iterator result: under `yield* sleep(s)` the routine's generator holds the
 * result its delegate gave for as long as the task sleeps; a `{ value, done }` object would cost
 * 40 bytes a sleeping task. A sleep answers `done` (false, on the prototype) and `value` (itself).
 * Why no `seconds` field: it would cost 8 bytes and, holding a fraction, a 16-byte box; the seconds
 * live in `deadline` until the park turns them into a time.
 */
export class Sleep
  extends Wait<void>
  implements Generator<unknown, void, any>, TimerEntry<Task<unknown>>
{
  /** @internal Its frames are named "sleep". */
  get [routineName](): string {
    return "sleep";
  }

  /** When it wakes, in the worker's clock; the seconds to sleep while RELATIVE (see above). */
  deadline: number;
  /** Set by the timer queue (>= 1), for the order of equal deadlines; <= 0 before (see above). */
  seq: number;
  /** The parked task, while it sleeps. */
  owner: Task<unknown> | null;
  /** As the first result of its own next(): not done. */
  declare readonly done: false;

  /** `time` is its deadline, or with `relative` the seconds to sleep from the park. */
  constructor(time: number, relative: boolean) {
    super();
    this.deadline = time;
    this.seq = relative ? -RELATIVE : 0;
    this.owner = null;
  }

  /** As the first result of its own next(): the wait to park on, itself. */
  get value(): this {
    return this;
  }

  park(task: Task<unknown>): void {
    // Its one timer-queue entry cannot hold two tasks (a second would corrupt the queue).
    if (this.owner !== null) throw this._taken(task, this.owner);
    if (this.seq < -1) {
      if (this.deadline === 0) {
        this.wake(task); // sleep(0) only gives up control
        return;
      }
      this._resolve(task);
    }
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

  /** @internal Its deadline, counted from now in `task`'s worker when it was not known yet. */
  _resolve(task: Task<unknown>): number {
    if (this.seq < -1) {
      this.deadline += task._worker.clock.now();
      this.seq += RELATIVE;
    }
    return this.deadline;
  }

  /** @internal The error for a task that reached a sleep another task is parked on. */
  _taken(task: Task<unknown> | undefined, owner: Task<unknown>): Error {
    const who = task === undefined ? "something outside a task" : task.label();
    return new Error(
      `${who} yielded ${this.describe()}, which ${owner.label()} is already sleeping on: ` +
        "a sleep is one task's wait; call sleep() in each task",
    );
  }

  /** @internal Whether it was already yielded or parked on (a select needs a fresh one). */
  _used(): boolean {
    return this.seq > 0 || (-this.seq & STARTED) !== 0;
  }

  describe(): string {
    return this.seq < -1 ? `sleep(${this.deadline})` : `sleep until ${this.deadline.toFixed(3)}`;
  }

  next(): IteratorResult<unknown, void> {
    const owner = this.owner;
    // Resumed by its own task once woken (`owner` is cleared then); while set, another task reached it.
    if (owner !== null) throw this._taken(running.task, owner);
    if (this._used()) return { value: undefined, done: true };
    this.seq -= STARTED;
    return this;
  }

  return(value?: unknown): IteratorResult<unknown, void> {
    if (!this._used()) this.seq -= STARTED;
    return { value: value as undefined, done: true };
  }

  throw(error: unknown): IteratorResult<unknown, void> {
    if (!this._used()) this.seq -= STARTED;
    throw error;
  }

  override [Symbol.iterator](): Generator<unknown, void, any> {
    return this;
  }

  get [Symbol.toStringTag](): string {
    return "Sleep";
  }
}
Object.defineProperty(Sleep.prototype, "done", { value: false });

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
  return task === undefined || seconds === 0
    ? new Sleep(seconds, true)
    : new Sleep(task._worker.clock.now() + seconds, false);
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
