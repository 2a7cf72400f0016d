/**
 * Semaphore: a number of permits shared by tasks; a lock when there is one.
 *
 * Waiters are served first in first out, with no barging: a released
 * permit goes straight to the oldest waiter, so a later `tryAcquire` cannot
 * take it. A task cancelled while it waits leaves the queue; a permit that
 * was handed to a task cancelled before it could take it is released again,
 * so no permit leaks.
 */
import { describeValue } from "./describe.ts";
import { routine } from "./names.ts";
import { MUST_WAIT, Operation, WaitQueue } from "./operation.ts";
import type { Task } from "./task.ts";
import type { Outcome } from "./wait.ts";

class Acquire extends Operation<void> {
  readonly _semaphore: Semaphore;
  constructor(semaphore: Semaphore) {
    super();
    this._semaphore = semaphore;
  }
  attempt(): undefined | typeof MUST_WAIT {
    return this._semaphore.tryAcquire() ? undefined : MUST_WAIT;
  }
  enqueue(): void {
    this._semaphore._waiters.push(this);
  }
  override release(_task: Task<unknown>, outcome?: Outcome): void {
    if (this._task !== null) this._semaphore._waiters.drop(this);
    else if (outcome?.ok === true) this._semaphore.release(); // handed a permit it never took
  }
  describe(): string {
    return `a permit of ${this._semaphore.describe()}`;
  }
}

const withPermitRoutine = routine(function* withPermit<R>(
  semaphore: Semaphore,
  body: Generator<unknown, R, any>,
): Generator<unknown, R, any> {
  yield* semaphore.acquire();
  try {
    // Native delegation: no frame to push and pop, so no extra steps.
    return yield* body;
  } finally {
    semaphore.release();
  }
});

/**
 * Permits for tasks: at most `permits` tasks hold one at a time.
 *
 * @example
 * const pool = new Semaphore(8);
 * function* check(url: string) {
 *   return yield* pool.withPermit(fetchStatus(url)); // at most 8 at once
 * }
 */
export class Semaphore {
  /** How many permits there are in all. */
  readonly permits: number;
  /** @internal Parked acquirers. */
  readonly _waiters = new WaitQueue<Acquire>();
  #available: number;

  constructor(permits: number) {
    if (typeof permits !== "number" || !Number.isInteger(permits) || permits < 0) {
      throw new RangeError(
        `new Semaphore() expects a number of permits that is a whole number, 0 or more, got ${describeValue(permits)}`,
      );
    }
    this.permits = permits;
    this.#available = permits;
  }

  /** Takes a permit, waiting for one if none is free. */
  acquire(): Generator<unknown, void, any> {
    return new Acquire(this);
  }

  /** Takes a permit if one is free and nobody waits for one; never waits. */
  tryAcquire(): boolean {
    if (this.#available === 0 || this._waiters.live > 0) return false;
    this.#available--;
    return true;
  }

  /** Gives a permit back: to the oldest waiter, else to the pool. Throws if none is held. */
  release(): void {
    if (this.#available === this.permits) {
      throw new Error(
        `Semaphore.release(): no permit is held (all ${this.permits} are available); release() must follow an acquire()`,
      );
    }
    const waiter = this._waiters.shift();
    if (waiter !== undefined) {
      // The permit passes from the releaser to the oldest waiter: the count of free ones does not change.
      const task = waiter._task as Task<unknown>;
      waiter._task = null;
      waiter.wake(task, undefined);
      return;
    }
    this.#available++;
  }

  /** Runs `body` holding a permit, and releases it when the body returns, throws or is cancelled. */
  withPermit<R>(body: Generator<unknown, R, any>): Generator<unknown, R, any> {
    return withPermitRoutine(this, body) as Generator<unknown, R, any>;
  }

  /** Permits free now. */
  get available(): number {
    return this.#available;
  }

  /** "a semaphore (2/8 free, 3 waiting)". */
  describe(): string {
    return `a semaphore (${this.#available}/${this.permits} free, ${this._waiters.live} waiting)`;
  }
}
