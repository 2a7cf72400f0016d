/**
 * Semaphore: a number of permits shared by tasks; a lock when there is one.
 *
 * Waiters are served first in first out, with no barging: a released
 * permit goes straight to the oldest waiter, so a later `tryAcquire` cannot
 * take it. A task cancelled while it waits leaves the queue; a permit that
 * was handed to a task cancelled before it could take it is released again,
 * so no permit leaks.
 */
import { noteCleanupError, UNWOUND } from "./delegation.ts";
import { checkRoutine, describeValue, generatorNext, NativeGenerator } from "./describe.ts";
import { routineName } from "./names.ts";
import { MUST_WAIT, Operation, WaitQueue } from "./operation.ts";
import { keepShapes } from "./shapes.ts";
import { NEXT, RETURN, running, type Task, THROW } from "./task.ts";
import type { Outcome } from "./wait.ts";

let shapesKept = false;

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

/**
 * The frame of `withPermit(body)`: takes a permit, runs the body, gives the
 * permit back however the body ends. One object that forwards to the body
 * (no generator of its own), so each step of the body resumes one
 * generator less than a `function*` wrapper would. Under `yield*` it keeps
 * the promise of delegation.ts: a body whose cleanup waited after a cancel
 * ends in UNWIND, never in a normal return the caller would go on from.
 */
class WithPermit<R> implements Generator<unknown, R, any> {
  readonly _semaphore: Semaphore;
  readonly _body: Generator<unknown, R, any>;
  /** Whether the body is a native generator, resumed through %GeneratorPrototype%.next (see _resume). */
  readonly _native: boolean;
  /** 0: not started; 1: parked for a permit; 2: holding it, in the body; 3: ended. */
  _phase: number;
  /** Set once return() reached the body: its later end is the end of that return's cleanup. */
  _returning: boolean;
  /** The acquire it parks on when no permit is free: its `_task` is the waiting task while queued. */
  _acquire: Acquire | null;

  constructor(semaphore: Semaphore, body: Generator<unknown, R, any>) {
    this._semaphore = semaphore;
    this._body = body;
    this._native = body instanceof NativeGenerator;
    this._phase = 0;
    this._returning = false;
    this._acquire = null;
  }

  /** Its frames are named "withPermit". */
  get [routineName](): string {
    return "withPermit";
  }

  next(input?: unknown): IteratorResult<unknown, R> {
    switch (this._phase) {
      case 2:
        return this._resume(NEXT, input);
      case 0: {
        if (this._semaphore.tryAcquire()) {
          this._phase = 2;
          return this._resume(NEXT, undefined);
        }
        // Park on an acquire that has already tried: the task waits in the queue.
        const acquire = new Acquire(this._semaphore);
        acquire._phase = 1;
        this._phase = 1;
        this._acquire = acquire;
        return { value: acquire, done: false };
      }
      case 1: {
        // Woken: the releaser handed its permit over. While the acquire is still queued, the task
        // that waits is not the one resuming it: another task reached this routine object.
        const waiting = (this._acquire as Acquire)._task;
        if (waiting !== null) throw this._taken(waiting);
        this._phase = 2;
        return this._resume(NEXT, undefined);
      }
      default:
        return { value: input as R, done: true };
    }
  }

  return(value?: unknown): IteratorResult<unknown, R> {
    if (this._phase === 2) {
      this._returning = true;
      return this._resume(RETURN, value);
    }
    this._phase = 3; // never held a permit (a cancelled waiter's was given back by Acquire.release)
    return { value: value as R, done: true };
  }

  throw(error: unknown): IteratorResult<unknown, R> {
    if (this._phase === 2) return this._resume(THROW, error);
    this._phase = 3;
    throw error;
  }

  /** Resumes the body; gives the permit back once it has ended, returned or thrown. */
  _resume(mode: number, input: unknown): IteratorResult<unknown, R> {
    let result: IteratorResult<unknown, R>;
    try {
      result =
        mode === NEXT
          ? this._native
            ? (generatorNext.call(this._body, input) as IteratorResult<unknown, R>)
            : this._body.next(input)
          : mode === THROW
            ? this._body.throw(input)
            : this._body.return(input as R);
    } catch (error) {
      this._phase = 3;
      this._semaphore.release();
      // A cleanup run by a cancel threw: the task notes it and its callers unwind by return().
      if (this._returning && noteCleanupError(error))
        return mode === RETURN ? { value: input as R, done: true } : UNWOUND;
      throw error;
    }
    if (result.done === true) {
      this._phase = 3;
      this._semaphore.release();
      if (this._returning && mode !== RETURN) return UNWOUND; // the cleanup waited, and has ended
    }
    return result;
  }

  /** The error for a task that reached it while `waiting` waits in it for its permit. */
  _taken(waiting: Task<unknown>): Error {
    const task = running.task;
    const who = task === undefined ? "code outside any task" : task.label();
    return new Error(
      `${who} reached a withPermit routine that ${waiting.label()} is waiting in: a routine ` +
        "object is one task's, as a generator is; make one in each task",
    );
  }

  [Symbol.iterator](): Generator<unknown, R, any> {
    return this;
  }

  get [Symbol.toStringTag](): string {
    return "Generator";
  }
}

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
    if (!shapesKept) {
      shapesKept = true;
      keepShapes(() => new Semaphore(0).acquire());
    }
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
      waiter._complete(false, undefined);
      return;
    }
    this.#available++;
  }

  /** Runs `body` holding a permit, and releases it when the body returns, throws or is cancelled. */
  withPermit<R>(body: Generator<unknown, R, any>): Generator<unknown, R, any> {
    checkRoutine("withPermit()", body, "withPermit(work())");
    return new WithPermit(this, body);
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
