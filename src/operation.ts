/**
 * Operation: the shape of every coordination primitive's routine
 * (`channel.receive()`, `channel.send()`, `semaphore.acquire()`,
 * `future.wait()`): one small object that is both a wait and a generator.
 *
 * Why: `yield* channel.receive()` first tries to finish at once (a value
 * is buffered, a sender waits) and then costs no step at all; only when it
 * must wait does it yield itself, and the worker parks the task on it.
 * `yield channel.receive()` parks on it directly (a wait is checked before
 * a generator). Either way there is no generator frame to push and pop and
 * one allocation per operation: the lean park/wake path the channel
 * benchmarks need.
 *
 * A subclass implements `attempt()` (finish now, or say it must wait),
 * `enqueue()` (register the parked task), and `release()` (undo, or take
 * back a value a cancelled task never saw). While parked, `_task` is the
 * task; the owner's queue skips operations whose `_task` is null, which is
 * how a cancelled waiter leaves no trace without an O(n) removal.
 *
 * The owner finishes a parked operation with `_complete()`: it wakes the
 * task, or, for an operation that is one case of a `select`, commits the
 * select to it (which withdraws the other cases at once, before any of
 * them can be served: exactly one case happens).
 */
import { Ring } from "./ring.ts";
import { running, type Task } from "./task.ts";
import { type CLAIM, Wait } from "./wait.ts";

/** What attempt() returns when the operation must wait. */
export const MUST_WAIT: unique symbol = Symbol("clockwork.mustWait");

/** @internal What an operation that is a case of a select reports to. */
export interface Choice {
  /** The owner served case `op` (a value, CLAIM, or an error): commit to it. */
  _commit(op: Operation<unknown>, isError: boolean, value: unknown): void;
}

export abstract class Operation<T> extends Wait<T> implements Generator<unknown, T, any> {
  /** 0: not started; 1: attempted (parked or parking); 2: finished. */
  _phase: number;
  /** The parked task while it waits in its owner's queue; null otherwise. */
  _task: Task<unknown> | null;
  /** The select it is a case of, or null. */
  _choice: Choice | null;
  /** Its index among the select's cases. */
  _index: number;

  constructor() {
    super();
    this._phase = 0;
    this._task = null;
    this._choice = null;
    this._index = 0;
  }

  /** Finishes at once, in the running task, and gives the result (or throws), or returns MUST_WAIT. */
  abstract attempt(): T | typeof MUST_WAIT;

  /**
   * Like attempt(), for a task that is parking and will resume later: an
   * operation that takes something (a receive) reserves it and returns
   * CLAIM, and takes it in claim() when the task resumes.
   */
  attemptParked(): T | typeof CLAIM | typeof MUST_WAIT {
    return this.attempt();
  }

  /** Registers `this._task` (already set) with whatever will wake it. */
  abstract enqueue(): void;

  park(task: Task<unknown>): void {
    if (this._task !== null) throw this._taken(task);
    const phase = this._phase;
    if (phase !== 1) {
      // Yielded directly (`yield op`): try now; a result is delivered on the task's next step.
      // Ended already (served, even if its task has not run yet): it gives undefined, as a finished
      // generator does; it never waits, takes or gives again.
      this._phase = 2;
      const result = phase === 0 ? this.attemptParked() : undefined;
      if (result !== MUST_WAIT) {
        this.wake(task, result as T);
        return;
      }
      this._phase = 1;
    }
    this._task = task;
    this.enqueue();
  }

  /**
   * @internal The owner finishes it: a value (or CLAIM) or an error, for its task or its select.
   * It has ended from now on, also for a task that reaches it before its own task has run.
   */
  _complete(isError: boolean, value: unknown): void {
    const task = this._task as Task<unknown>;
    this._task = null;
    this._phase = 2;
    if (this._choice !== null) this._choice._commit(this, isError, value);
    else task._worker._wake(task, this, isError, value);
  }

  next(input?: unknown): IteratorResult<unknown, T> {
    if (this._phase === 0) {
      this._phase = 1;
      const result = this.attempt();
      if (result !== MUST_WAIT) {
        this._phase = 2;
        return { value: result, done: true };
      }
      return { value: this, done: false };
    }
    // Resumed by its own task once woken (`_task` is cleared then); while set, another task reached it.
    if (this._task !== null) throw this._taken(running.task);
    this._phase = 2;
    return { value: input as T, done: true };
  }

  /** @internal The error for a task that reached an operation another task is parked on. */
  _taken(task: Task<unknown> | undefined): Error {
    const who =
      task === undefined
        ? "it was resumed outside its task and"
        : `${task.label()} yielded it, but`;
    return new Error(
      `${this.describe()}: ${who} ${this._task?.label()} is already waiting on it; an operation is ` +
        "one task's wait: make one per task",
    );
  }

  return(value?: unknown): IteratorResult<unknown, T> {
    this._phase = 2;
    return { value: value as T, done: true };
  }

  throw(error: unknown): IteratorResult<unknown, T> {
    this._phase = 2;
    throw error;
  }

  override [Symbol.iterator](): Generator<unknown, T, any> {
    return this;
  }

  get [Symbol.toStringTag](): string {
    return "Generator";
  }
}

/**
 * A FIFO of parked operations with lazy removal: a released operation has
 * `_task === null` and is skipped. `live` counts the others. Built on a
 * ring buffer that never shrinks, so a queue that empties and fills again
 * on every message (a ping-pong) allocates nothing.
 */
export class WaitQueue<O extends Operation<unknown>> {
  #ring = new Ring<O>();
  /** Operations still waiting. */
  live = 0;

  push(op: O): void {
    this.#ring.push(op);
    this.live++;
  }

  /** Removes and returns the oldest live operation (its `_task` is still set). */
  shift(): O | undefined {
    if (this.live === 0) {
      if (this.#ring.size !== 0) this.#ring.clear(); // only released ones are left
      return undefined;
    }
    for (let op = this.#ring.shift(); op !== undefined; op = this.#ring.shift()) {
      if (op._task !== null) {
        this.live--;
        return op;
      }
    }
    return undefined;
  }

  /** A released operation: it is skipped from now on. */
  drop(op: O): void {
    op._task = null;
    this.live--;
    const ring = this.#ring;
    if (ring.size > 64 && ring.size > 2 * this.live + 32) {
      const kept = new Ring<O>();
      for (const o of ring.toArray()) if (o._task !== null) kept.push(o);
      this.#ring = kept;
    }
  }
}
