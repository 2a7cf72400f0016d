/**
 * Channel: values passed between tasks, first in first out.
 *
 * A channel holds its values in one FIFO, `_values`, and two queues of
 * parked operations, receivers and senders. `capacity` is how many values
 * it buffers (0: unbuffered, a send waits for a receiver).
 *
 * Why values are *claimed*: a receiver that is woken does not get its value
 * at the wake; the value stays in `_values`, and `_promised` counts the
 * values promised to woken receivers. A woken receiver takes the oldest
 * value when it actually runs (the worker calls `claim()` as it resumes the
 * task). So values are always taken in the order they were sent, whoever
 * takes them; a receiver cancelled before it runs takes nothing (its
 * promise is dropped, and the value goes to the next receiver); and
 * nothing ever has to be given back.
 *
 * Invariants, after every operation (`free` = `_values.size - _promised`,
 * the values nobody was promised):
 * - receivers wait only while `free` is 0 and no sender waits;
 * - senders wait only while `free` is at or over `capacity` (unbuffered:
 *   while no receiver waits); `free` can pass `capacity` only when a woken
 *   receiver was cancelled and left its value;
 * so at most one of the two queues holds live operations.
 *
 * No barging: a slot freed by a receive goes at once to the oldest waiting
 * sender (its value moves into the channel), so a later `trySend` cannot
 * take it; a value sent while receivers wait is promised to the oldest.
 */
import { describeValue } from "./describe.ts";
import { MUST_WAIT, Operation, WaitQueue } from "./operation.ts";
import { Ring } from "./ring.ts";
import { keepShapes } from "./shapes.ts";
import { spawn } from "./spawn.ts";
import type { Task } from "./task.ts";
import { CLAIM, type Outcome } from "./wait.ts";

let shapesKept = false;

/** Thrown by sends on a closed channel, and by receives once it is closed and drained. */
export class ChannelClosedError extends Error {
  /** "ChannelClosedError". */
  override name = "ChannelClosedError";
}

/** What `receiveOrClosed()` and `tryReceive()` give: a value, or none (and whether the channel is closed). */
export type Received<T> =
  | {
      /** A value came. */
      ok: true;
      /** The value. */
      value: T;
    }
  | {
      /** No value came. */
      ok: false;
      /** Whether that is because the channel is closed (and drained); false: just empty. */
      closed: boolean;
    };

class Receive<T> extends Operation<T> {
  readonly _channel: Channel<T>;
  constructor(channel: Channel<T>) {
    super();
    this._channel = channel;
  }
  attempt(): T | typeof MUST_WAIT {
    return this._channel._take();
  }
  override attemptParked(): typeof CLAIM | typeof MUST_WAIT {
    return this._channel._reserve() ? CLAIM : MUST_WAIT;
  }
  override claim(): T {
    return this._channel._claim();
  }
  enqueue(): void {
    this._channel._receivers.push(this);
  }
  override release(_task: Task<unknown>, outcome?: Outcome): void {
    if (this._task !== null) this._channel._receivers.drop(this);
    else if (outcome?.ok === true && outcome.value === CLAIM) this._channel._unclaim();
  }
  /** Woken by close() with nothing to take. */
  _closed(why: string): void {
    this._complete(true, new ChannelClosedError(`${this._channel.describe()}: ${why}`));
  }
  describe(): string {
    return `receive from ${this._channel.describe()}`;
  }
}

/** A receive that reports a closed and drained channel as `{ ok: false, closed: true }` rather than throwing. */
class ReceiveOrClosed<T> extends Operation<Received<T>> {
  readonly _channel: Channel<T>;
  constructor(channel: Channel<T>) {
    super();
    this._channel = channel;
  }
  attempt(): Received<T> | typeof MUST_WAIT {
    const channel = this._channel;
    if (channel._drained()) return CLOSED;
    const value = channel._take();
    return value === MUST_WAIT ? MUST_WAIT : { ok: true, value };
  }
  override attemptParked(): Received<T> | typeof CLAIM | typeof MUST_WAIT {
    const channel = this._channel;
    if (channel._drained()) return CLOSED;
    return channel._reserve() ? CLAIM : MUST_WAIT;
  }
  override claim(): Received<T> {
    return { ok: true, value: this._channel._claim() };
  }
  enqueue(): void {
    this._channel._receivers.push(this);
  }
  override release(_task: Task<unknown>, outcome?: Outcome): void {
    if (this._task !== null) this._channel._receivers.drop(this);
    else if (outcome?.ok === true && outcome.value === CLAIM) this._channel._unclaim();
  }
  _closed(): void {
    this._complete(false, CLOSED);
  }
  describe(): string {
    return `receive from ${this._channel.describe()}`;
  }
}

const CLOSED: { ok: false; closed: true } = Object.freeze({ ok: false, closed: true });

type AnyReceive<T> = Receive<T> | ReceiveOrClosed<T>;

class Send<T> extends Operation<void> {
  readonly _channel: Channel<T>;
  readonly _value: T;
  constructor(channel: Channel<T>, value: T) {
    super();
    this._channel = channel;
    this._value = value;
  }
  attempt(): undefined | typeof MUST_WAIT {
    return this._channel._put(this._value);
  }
  enqueue(): void {
    this._channel._senders.push(this);
  }
  override release(): void {
    // Still queued: the send never happened. Already served: the value is in the channel.
    if (this._task !== null) this._channel._senders.drop(this);
  }
  describe(): string {
    return `send to ${this._channel.describe()}`;
  }
}

/**
 * A first-in first-out channel between tasks.
 *
 * @example
 * const jobs = new Channel<string>(10);
 * function* producer() {
 *   for (const url of urls) yield* jobs.send(url);
 *   jobs.close();
 * }
 * function* consumer() {
 *   for (;;) {
 *     const next = yield* jobs.receiveOrClosed();
 *     if (!next.ok) return; // closed and drained
 *     yield* check(next.value);
 *   }
 * }
 */
export class Channel<T> {
  /** How many values the buffer holds. */
  readonly capacity: number;
  /** @internal Every value in the channel, oldest first (promised ones included). */
  readonly _values = new Ring<T>();
  /** @internal How many of them are promised to woken receivers that have not run yet. */
  _promised = 0;
  /** @internal Parked receivers. */
  readonly _receivers = new WaitQueue<AnyReceive<T>>();
  /** @internal Parked senders, each with its value. */
  readonly _senders = new WaitQueue<Send<T>>();
  #closed = false;

  /** `capacity` 0 (the default) makes an unbuffered channel: a send waits for a receiver. */
  constructor(capacity = 0) {
    if (typeof capacity !== "number" || !Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(
        `new Channel() expects a capacity that is a whole number, 0 or more, got ${describeValue(capacity)}`,
      );
    }
    this.capacity = capacity;
    if (!shapesKept) {
      shapesKept = true;
      keepShapes(function* keep() {
        // A receive parked in a child, and its parent joining it.
        const channel = new Channel<number>();
        yield* spawn(
          (function* keep() {
            yield* channel.receive();
          })(),
        ).join();
      });
    }
  }

  /** Sends a value: waits while the channel is full; throws ChannelClosedError once it is closed. */
  send(value: T): Generator<unknown, void, any> {
    return new Send(this, value);
  }

  /** Receives the oldest value: waits while there is none; throws ChannelClosedError once closed and drained. */
  receive(): Generator<unknown, T, any> {
    return new Receive(this);
  }

  /**
   * Receives the oldest value as `{ ok: true, value }`, waiting while there
   * is none; once the channel is closed and drained, gives `{ ok: false,
   * closed: true }` instead of throwing (Go's `v, ok := <-ch`).
   *
   * @example
   * for (let next = yield* jobs.receiveOrClosed(); next.ok; next = yield* jobs.receiveOrClosed()) {
   *   yield* handle(next.value);
   * }
   */
  receiveOrClosed(): Generator<unknown, Received<T>, any> {
    return new ReceiveOrClosed(this);
  }

  /** Sends without waiting: false if it would have to wait. Throws ChannelClosedError once closed. */
  trySend(value: T): boolean {
    return this._put(value) !== MUST_WAIT;
  }

  /**
   * Receives without waiting: `{ ok: true, value }`, or `{ ok: false,
   * closed }` where `closed` tells a closed and drained channel from one
   * that is only empty for now.
   */
  tryReceive(): Received<T> {
    if (this._values.size === this._promised && this._senders.live === 0) {
      return this._drained() ? CLOSED : { ok: false, closed: false };
    }
    return { ok: true, value: this._take() as T };
  }

  /**
   * Closes the channel: sends fail from now on, and so do the waiting
   * senders; values already buffered can still be received, after which
   * receives fail with ChannelClosedError (or give `{ ok: false }`).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // One at a time: failing one case of a select withdraws its other cases, which may wait here too.
    for (let send = this._senders.shift(); send !== undefined; send = this._senders.shift()) {
      send._complete(
        true,
        new ChannelClosedError(`${this.describe()}: it was closed while the task waited to send`),
      );
    }
    if (this._values.size === 0) this.#failReceivers();
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Values buffered now (not counting those promised to receivers about to run). */
  get size(): number {
    return this._values.size - this._promised;
  }

  /** "a channel (3/10 buffered, closed)", for dump() and messages. */
  describe(): string {
    const state = `${this.size}/${this.capacity} buffered${this.#closed ? ", closed" : ""}`;
    return `a channel (${state})`;
  }

  /**
   * @internal Closed, and nothing left to receive, ever: no value at all
   * (a value promised to a receiver could still come back if it is
   * cancelled). Senders are gone once it is closed.
   */
  _drained(): boolean {
    return this.#closed && this._values.size === 0;
  }

  /** @internal A receive by the running task, now: the oldest value, or MUST_WAIT. */
  _take(): T | typeof MUST_WAIT {
    if (!this.#makeFree()) return MUST_WAIT;
    const value = this._values.shift() as T;
    this.#refill();
    return value;
  }

  /** @internal A receive by a task that is parking: promises it the next value (true), or MUST_WAIT (false). */
  _reserve(): boolean {
    if (!this.#makeFree()) return false;
    this._promised++;
    this.#refill();
    return true;
  }

  /** @internal A woken receiver runs: it takes the oldest value. */
  _claim(): T {
    this._promised--;
    const value = this._values.shift() as T; // its slot was freed when it was promised
    if (this.#closed && this._values.size === 0) this.#failReceivers();
    return value;
  }

  /** @internal A woken receiver was cancelled before it ran: its value goes to the next receiver. */
  _unclaim(): void {
    this._promised--;
    const receive = this._receivers.shift();
    if (receive !== undefined) {
      this._promised++;
      receive._complete(false, CLAIM);
    }
  }

  /** @internal A send, now: undefined when done, or MUST_WAIT. */
  _put(value: T): undefined | typeof MUST_WAIT {
    if (this.#closed)
      throw new ChannelClosedError(
        `cannot send ${describeValue(value)}: ${this.describe()} is closed`,
      );
    const receive = this._receivers.shift();
    if (receive !== undefined) {
      // Receivers wait only while nothing is free: the value is promised to the oldest.
      this._values.push(value);
      this._promised++;
      receive._complete(false, CLAIM);
      return undefined;
    }
    if (this._values.size - this._promised < this.capacity) {
      this._values.push(value);
      return undefined;
    }
    return MUST_WAIT;
  }

  /**
   * Makes sure a value is free to take: true if one is, or a waiting
   * sender's value was moved in behind the others (so values still come
   * out in order); false if none can be; throws once closed and drained.
   */
  #makeFree(): boolean {
    if (this._values.size > this._promised) return true;
    const send = this._senders.shift();
    if (send !== undefined) {
      this._values.push(send._value);
      send._complete(false, undefined);
      return true;
    }
    if (this._drained()) {
      throw new ChannelClosedError(`cannot receive: ${this.describe()} is closed and drained`);
    }
    return false;
  }

  /** Closed and drained: parked receivers will never get a value. */
  #failReceivers(): void {
    const receivers = this._receivers;
    for (let receive = receivers.shift(); receive !== undefined; receive = receivers.shift())
      receive._closed("it was closed while the task waited to receive");
  }

  /** A value was taken or promised: the slot it frees goes at once to the oldest waiting sender. */
  #refill(): void {
    if (this._values.size - this._promised < this.capacity) {
      const send = this._senders.shift();
      if (send !== undefined) {
        this._values.push(send._value);
        send._complete(false, undefined);
      }
    }
  }
}
