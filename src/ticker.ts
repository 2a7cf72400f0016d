/**
 * Ticker: ticks at a fixed rate, as Go's `time.Ticker` does.
 *
 * The first tick comes one period after the ticker starts, then one every
 * period, at fixed times (start + k x period: a slow reader does not make
 * the ticks drift). A reader that falls behind gets the earliest tick it
 * missed at once and then the next one on schedule; the others are
 * dropped, as Go drops ticks its one-slot channel cannot hold.
 *
 * Why it needs no task: the ticks are only times. A receive compares the
 * next tick with the clock, and parks on a timer until it is due; nothing
 * runs in the background, so a ticker nobody reads costs nothing. A ticker
 * made inside a task stops when that task (its owner) ends, as if it had
 * called `stop()` (Go's `defer ticker.Stop()`, done for you): a reader
 * elsewhere then gets no more ticks. `ticker.receive()` is an operation, so
 * it works in `select` beside channels (the classic "do this every
 * second, unless a message comes").
 */
import { type Clock, checkSeconds } from "./clock.ts";
import { describeValue } from "./describe.ts";
import { MUST_WAIT, Operation } from "./operation.ts";
import { running, type Task } from "./task.ts";
import type { TimerEntry } from "./timer-queue.ts";

/** One receive of a tick: an operation, and its own timer while it is parked. */
class Tick extends Operation<number> implements TimerEntry<Task<unknown>> {
  readonly _ticker: Ticker;
  deadline: number;
  seq: number;
  owner: Task<unknown> | null;

  constructor(ticker: Ticker) {
    super();
    this._ticker = ticker;
    this.deadline = 0;
    this.seq = 0;
    this.owner = null;
  }

  attempt(): number | typeof MUST_WAIT {
    const clock = this._ticker._clockFor(running.task);
    return clock === null ? MUST_WAIT : this._ticker._takeIfDue(clock.now());
  }

  enqueue(): void {
    this._ticker._parked.add(this);
    this._arm();
  }

  /** Sets its timer for the ticker's next tick (not while the ticker is stopped). */
  _arm(): void {
    const task = this._task as Task<unknown>;
    const ticker = this._ticker;
    if (ticker.stopped) return;
    this.deadline = ticker._nextFor(task._worker.clock);
    this.owner = task;
    task._worker._addTimer(this);
  }

  /** Its timer is due: the tick, unless another receiver took it first (then the next one). */
  fire(task: Task<unknown>): void {
    if (this._task !== task) return;
    const value = this._ticker._takeIfDue(task._worker.clock.now());
    if (value === MUST_WAIT) {
      this._arm();
      return;
    }
    this._ticker._parked.delete(this);
    this._complete(false, value);
  }

  override release(task: Task<unknown>): void {
    if (this._task === null) return;
    this._task = null;
    this._ticker._parked.delete(this);
    if (this.owner !== null) task._worker._cancelTimer(this);
  }

  describe(): string {
    return `a tick of ${this._ticker.describe()}`;
  }
}

/**
 * Ticks every `seconds` (in the worker's clock): `yield* ticker.receive()`
 * waits for the next tick and gives its time.
 *
 * @example
 * function* heartbeat() {
 *   const ticker = new Ticker(1);
 *   for (;;) {
 *     const got = yield* select({ tick: ticker.receive(), message: inbox.receive() });
 *     if (got.key === "tick") sendHeartbeat(got.value);
 *     else handle(got.value);
 *   }
 * }
 */
export class Ticker {
  /** @internal Receives parked on it, for stop() and reset(). */
  readonly _parked = new Set<Tick>();
  #period: number;
  /** The clock it ticks in: the creating task's worker's, or the first reader's. */
  #clock: Clock | null;
  /** The time of the next tick; NaN until it has started. */
  #next = Number.NaN;
  #stopped = false;
  /** The task that made it: it stops when that task ends. */
  readonly #owner: Task<unknown> | undefined;

  /**
   * Made inside a task, it starts now, in that worker's clock; made
   * outside, it starts at `options.clock`'s now, or else at its first
   * receive. `seconds` must be above 0.
   */
  constructor(seconds: number, options: { clock?: Clock } = {}) {
    checkPeriod("new Ticker()", seconds);
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`new Ticker() expects an options object, got ${describeValue(options)}`);
    }
    this.#period = seconds;
    this.#owner = running.task;
    this.#clock = options.clock ?? running.task?._worker.clock ?? null;
    if (this.#clock !== null) this.#next = this.#clock.now() + seconds;
  }

  /** Waits for the next tick and gives its time (the time it was due, in the clock). */
  receive(): Generator<unknown, number, any> {
    return new Tick(this);
  }

  /** How long a period is, in seconds. */
  get period(): number {
    return this.#period;
  }

  /** Whether stop() was called (and no reset() since), or the task that made it has ended. */
  get stopped(): boolean {
    return this.#stopped || this.#owner?.isDone() === true;
  }

  /** No more ticks: receives wait until a reset(), as after Go's `Stop`. */
  stop(): void {
    this.#stopped = true;
    for (const tick of this._parked) {
      const owner = tick.owner;
      if (owner !== null) owner._worker._cancelTimer(tick);
    }
  }

  /** Starts again (stopped or not) with a new period: the next tick one period from now. */
  reset(seconds: number = this.#period): void {
    checkPeriod("Ticker.reset()", seconds);
    if (this.#owner?.isDone() === true) {
      throw new Error(`Ticker.reset(): ${this.#owner.label()}, which made the ticker, has ended`);
    }
    this.#period = seconds;
    this.#stopped = false;
    if (this.#clock !== null) this.#next = this.#clock.now() + seconds;
    for (const tick of this._parked) {
      const owner = tick.owner;
      if (owner !== null) owner._worker._cancelTimer(tick);
      tick._arm();
    }
  }

  /** "a ticker (every 0.5 s, next at 3.000)", for dump() and messages. */
  describe(): string {
    const state = this.stopped
      ? "stopped"
      : Number.isNaN(this.#next)
        ? "not started"
        : `next at ${this.#next.toFixed(3)}`;
    return `a ticker (every ${this.#period} s, ${state})`;
  }

  /** @internal Its clock, once known; the first reader's task gives it one (it starts then). */
  _clockFor(task: Task<unknown> | undefined): Clock | null {
    if (this.#clock === null && task !== undefined) {
      this.#clock = task._worker.clock;
      this.#next = this.#clock.now() + this.#period;
    }
    return this.#clock;
  }

  /** @internal When the next tick is due (starting it in `clock` if it had not started). */
  _nextFor(clock: Clock): number {
    if (this.#clock === null) {
      this.#clock = clock;
      this.#next = clock.now() + this.#period;
    }
    return this.#next;
  }

  /**
   * @internal The next tick if it is due at `now` (the earliest one missed,
   * when several were), else MUST_WAIT. The tick after it is the first on
   * schedule after `now`: missed ticks are dropped, never bunched.
   */
  _takeIfDue(now: number): number | typeof MUST_WAIT {
    const due = this.#next;
    if (this.stopped || !(due <= now)) return MUST_WAIT;
    const period = this.#period;
    const missed = Math.floor((now - due) / period);
    this.#next = due + (missed + 1) * period;
    return due;
  }
}

function checkPeriod(call: string, seconds: unknown): asserts seconds is number {
  checkSeconds(call, seconds);
  if (seconds === 0) throw new RangeError(`${call} expects a period above 0 seconds, got 0`);
}
