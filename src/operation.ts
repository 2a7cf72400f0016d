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
 */
import type { Task } from "./task.ts";
import { Wait } from "./wait.ts";

/** What attempt() returns when the operation must wait. */
export const MUST_WAIT: unique symbol = Symbol("clockwork.mustWait");

export abstract class Operation<T> extends Wait<T> implements Generator<unknown, T, any> {
  /** 0: not started; 1: attempted (parked or parking); 2: finished. */
  _phase: number;
  /** The parked task while it waits in its owner's queue; null otherwise. */
  _task: Task<unknown> | null;

  constructor() {
    super();
    this._phase = 0;
    this._task = null;
  }

  /** Finishes at once and gives the result (or throws), or returns MUST_WAIT. */
  abstract attempt(): T | typeof MUST_WAIT;

  /** Registers `this._task` (already set) with whatever will wake it. */
  abstract enqueue(): void;

  park(task: Task<unknown>): void {
    if (this._phase === 0) {
      // Yielded directly (`yield op`): try now; a result is delivered on the task's next step.
      this._phase = 1;
      const result = this.attempt();
      if (result !== MUST_WAIT) {
        this.wake(task, result);
        return;
      }
    }
    this._task = task;
    this.enqueue();
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
    this._phase = 2;
    return { value: input as T, done: true };
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
 * `_task === null` and is skipped. `live` counts the others.
 */
export class WaitQueue<O extends Operation<unknown>> {
  #items: O[] = [];
  #head = 0;
  /** Operations still waiting. */
  live = 0;

  push(op: O): void {
    this.#items.push(op);
    this.live++;
  }

  /** Removes and returns the oldest live operation (its `_task` is still set). */
  shift(): O | undefined {
    const items = this.#items;
    while (this.#head < items.length) {
      const op = items[this.#head] as O;
      items[this.#head++] = undefined as unknown as O;
      if (op._task !== null) {
        this.live--;
        this.#compact();
        return op;
      }
    }
    this.#compact();
    return undefined;
  }

  /** The oldest live operation, left in place. */
  peek(): O | undefined {
    const items = this.#items;
    while (this.#head < items.length) {
      const op = items[this.#head] as O;
      if (op._task !== null) return op;
      items[this.#head++] = undefined as unknown as O;
    }
    return undefined;
  }

  /** A released operation: it is skipped from now on. */
  drop(op: O): void {
    op._task = null;
    this.live--;
    if (this.#items.length > 64 && this.#items.length - this.#head > 2 * this.live + 32) {
      this.#items = this.#items.slice(this.#head).filter((o) => o._task !== null);
      this.#head = 0;
    }
  }

  /** Every live operation, oldest first, and empties the queue. */
  drain(): O[] {
    const out = this.#items.slice(this.#head).filter((o) => o._task !== null);
    this.#items = [];
    this.#head = 0;
    this.live = 0;
    return out;
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
