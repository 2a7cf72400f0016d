/**
 * Wait objects: the low-level API for parking a task and waking it.
 *
 * A routine parks its task by yielding a `Wait`. In that same step the
 * worker calls `park(task)`, where the wait registers the task with
 * whatever will wake it (a timer, a channel, a callback). Later, something
 * calls `wait.wake(task, value)` or `wait.fail(task, error)`, and the task
 * resumes on a later step with that outcome at its `yield`.
 *
 * If the task stops waiting for another reason (it is cancelled, or a
 * child's error is thrown into it), the worker calls `release(task,
 * outcome)` so the wait can undo its registration; `outcome` is set when a
 * wake had already been given but never reached the task, so that the wait
 * can undo what that wake gave (a semaphore takes its permit back; a
 * channel, whose receivers claim their value only when they run, drops
 * the promise). A wake for a task that no longer
 * waits on this object is ignored (and `wake` returns false), so a late
 * callback can never resume a task in the wrong place.
 *
 * Everything that waits (sleep, join, promises, and later channels,
 * processes and sockets) is built on this, never on the worker's loop.
 */

import { routineName } from "./names.ts";
import { keepShapes } from "./shapes.ts";
import type { Task } from "./task.ts";
import { YieldOnce } from "./yield-once.ts";

let shapesKept = false;

/** The outcome a wake gave to a task that never took it. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * @internal The value of a wake whose real value the wait gives only when
 * the task resumes: the worker then calls `wait.claim(task)` and resumes the
 * task with what it returns. A channel wakes receivers this way, so that a
 * value is taken at the moment a receiver runs, never by one that is
 * cancelled before it runs (it then gets `release(task, { ok: true, value:
 * CLAIM })` and takes nothing), and values are taken in the order they
 * were sent whoever is cancelled in between.
 */
export const CLAIM: unique symbol = Symbol("clockwork.claim");

/**
 * Something a task can wait on. Subclass it and yield an instance.
 *
 * @example
 * class Bell extends Wait<string> {
 *   waiters: Task[] = [];
 *   park(task: Task) { this.waiters.push(task); }
 *   release(task: Task) { this.waiters.splice(this.waiters.indexOf(task), 1); }
 *   ring() { for (const t of this.waiters.splice(0)) this.wake(t, "ding"); }
 *   describe() { return "a bell"; }
 * }
 */
export abstract class Wait<T = unknown> {
  /** Called in the step where `task` yields this object: register the task. */
  abstract park(task: Task<unknown>): void;

  /**
   * Called when `task` stops waiting on this object without taking a wake:
   * undo what `park` registered. `outcome` is given when a wake was handed
   * to the task but it was cancelled before it could take it.
   */
  release(_task: Task<unknown>, _outcome?: Outcome): void {}

  /** What the task waits on, in a few words, for `worker.dump()` and error messages. */
  abstract describe(): string;

  /**
   * `yield* wait` parks on it too (by native delegation), typed by what the
   * wake gives. The iterator is a YieldOnce, not a generator: cheaper to
   * make and to resume, for waits a task goes through every frame.
   */
  [Symbol.iterator](): Generator<unknown, T, any> {
    return new YieldOnce<T>(this);
  }

  /**
   * @internal Called as a task woken with CLAIM resumes: gives the value it
   * resumes with (taken now). Waits that never wake with CLAIM leave it.
   */
  claim(_task: Task<unknown>): unknown {
    throw new Error(`${this.describe()} woke a task with a value to claim, but gives none`);
  }

  /** Resumes `task` with `value` if it waits on this object; returns whether it did. */
  wake(task: Task<unknown>, value: T): boolean {
    return task._worker._wake(task, this, false, value);
  }

  /** Resumes `task` by throwing `error` at its yield, if it waits on this object. */
  fail(task: Task<unknown>, error: unknown): boolean {
    return task._worker._wake(task, this, true, error);
  }
}

/** How `park()` is told to wake the task. */
export interface Waker<T> {
  /** Resumes the task with a value. Later calls are ignored. */
  wake(value: T): void;
  /** Resumes the task by throwing an error into it. Later calls are ignored. */
  fail(error: unknown): void;
}

class CallbackWait<T> extends Wait<T> {
  #task: Task<unknown> | null = null;
  #cleanup: (() => void) | undefined = undefined;
  readonly #setup: (waker: Waker<T>) => (() => void) | undefined | undefined;
  readonly #description: string;

  constructor(
    setup: (waker: Waker<T>) => (() => void) | undefined | undefined,
    description: string,
  ) {
    super();
    this.#setup = setup;
    this.#description = description;
  }

  park(task: Task<unknown>): void {
    this.#task = task;
    const cleanup = this.#setup({
      wake: (value) => this.#end(() => this.wake(task, value)),
      fail: (error) => this.#end(() => this.fail(task, error)),
    });
    if (typeof cleanup === "function") {
      if (this.#task === null) cleanup();
      else this.#cleanup = cleanup;
    }
  }

  override release(): void {
    this.#task = null;
    this.#runCleanup();
  }

  describe(): string {
    return this.#description;
  }

  #end(deliver: () => boolean): void {
    if (this.#task === null) return;
    if (deliver()) {
      this.#task = null;
      this.#runCleanup();
    }
  }

  #runCleanup(): void {
    const cleanup = this.#cleanup;
    this.#cleanup = undefined;
    cleanup?.();
  }
}

/**
 * Parks the current task until `setup`'s waker is called: the bridge from
 * callbacks to routines. `setup` runs in the step where the task parks and
 * may return a cleanup function, which runs exactly once when the wait ends:
 * after the wake, or when the task is cancelled while parked.
 *
 * @example
 * function delay(ms: number) {
 *   return park<void>(({ wake }) => {
 *     const id = setTimeout(() => wake(), ms);
 *     return () => clearTimeout(id);
 *   }, `a ${ms} ms host timer`);
 * }
 */
export function park<T>(
  setup: (waker: Waker<T>) => (() => void) | undefined | undefined,
  description = "a callback",
): Generator<unknown, T, any> {
  if (typeof setup !== "function") {
    throw new TypeError(`park() expects a setup function, got ${typeof setup}`);
  }
  if (!shapesKept) {
    shapesKept = true;
    keepShapes(() => park(() => {}));
  }
  return new ParkRoutine<T>(new CallbackWait<T>(setup, description));
}

/** The frame of `park()`: yields its wait, returns what the wake gives. */
class ParkRoutine<T> extends YieldOnce<T> {
  /** @internal Its frames are named "park". */
  get [routineName](): string {
    return "park";
  }

  constructor(wait: Wait<T>) {
    super(wait);
  }
}

/** Parks its task until the task is cancelled. */
class Suspension extends Wait<never> {
  park(): void {}
  describe(): string {
    return "nothing (suspended until cancelled)";
  }
}

/**
 * A wait that never wakes: `yield suspend()` parks the task until it is
 * cancelled, at the cost of the task alone (no frame, no registration).
 * For a task that only holds resources open, or keeps a server running.
 *
 * @example
 * function* server() {
 *   const listener = open();
 *   try {
 *     yield suspend();
 *   } finally {
 *     listener.close(); // runs when the task is cancelled
 *   }
 * }
 */
export function suspend(): Wait<never> {
  return suspension;
}
const suspension = new Suspension();

/** Waits for a promise (or any thenable) to settle. */
export class PromiseWait extends Wait<unknown> {
  private readonly _promise: PromiseLike<unknown>;

  constructor(promise: PromiseLike<unknown>) {
    super();
    this._promise = promise;
  }

  park(task: Task<unknown>): void {
    this._promise.then(
      (value) => this.wake(task, value),
      (error: unknown) => this.fail(task, error),
    );
  }

  describe(): string {
    return "a promise";
  }
}
