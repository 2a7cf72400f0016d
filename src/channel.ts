/**
 * Channel: values passed between tasks, first in first out.
 *
 * A channel has a buffer of `capacity` values (0: unbuffered, a send waits
 * for a receiver) and two queues of parked operations, receivers and
 * senders. Invariants, after every operation:
 * - receivers wait only while the buffer is empty and no sender waits;
 * - senders wait only while the buffer is full (or, unbuffered, while no
 *   receiver waits);
 * so at most one of the two queues holds live operations.
 *
 * No barging: a slot freed by a receive goes at once to the oldest waiting
 * sender (its value moves into the buffer), so a later `trySend` cannot
 * take it. Cancellation leaves no trace: a parked operation that is
 * released drops out of its queue (a cancelled send sends nothing), and a
 * value handed to a receiver that is cancelled before it could take it goes
 * back to the head of the channel, so it is received exactly once.
 */
import { describeValue } from "./describe.ts";
import { MUST_WAIT, Operation, WaitQueue } from "./operation.ts";
import { Ring } from "./ring.ts";
import type { Task } from "./task.ts";
import type { Outcome } from "./wait.ts";

/** Thrown by sends on a closed channel, and by receives once it is closed and drained. */
export class ChannelClosedError extends Error {
  override name = "ChannelClosedError";
}

class Receive<T> extends Operation<T> {
  readonly _channel: Channel<T>;
  /** The place in line of the value handed to it, should it have to give the value back. */
  _seq: number;
  constructor(channel: Channel<T>) {
    super();
    this._channel = channel;
    this._seq = 0;
  }
  attempt(): T | typeof MUST_WAIT {
    const value = this._channel._take();
    this._seq = this._channel._takenSeq;
    return value;
  }
  enqueue(): void {
    this._channel._receivers.push(this);
  }
  override release(_task: Task<unknown>, outcome?: Outcome): void {
    if (this._task !== null) this._channel._receivers.drop(this);
    else if (outcome?.ok === true) this._channel._giveBack(outcome.value as T, this._seq);
  }
  describe(): string {
    return `receive from ${this._channel.describe()}`;
  }
}

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
    // Still queued: the send never happened. Already served: the value was taken.
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
 *     const url = yield* jobs.receive(); // throws ChannelClosedError once closed and drained
 *     yield* check(url);
 *   }
 * }
 */
export class Channel<T> {
  /** How many values the buffer holds. */
  readonly capacity: number;
  /** @internal Buffered values, oldest first. */
  readonly _buffer = new Ring<T>();
  /**
   * @internal Values taken back from receivers cancelled before they took
   * them, by their place in line: they come out before the buffer.
   */
  readonly _returned: { seq: number; value: T }[] = [];
  /** @internal The place in line of the value the last take gave out. */
  _takenSeq = 0;
  /** How many values have been taken (places in line are numbered by it). */
  #takes = 0;
  /** @internal Parked receivers. */
  readonly _receivers = new WaitQueue<Receive<T>>();
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
  }

  /** Sends a value: waits while the channel is full; throws ChannelClosedError once it is closed. */
  send(value: T): Generator<unknown, void, any> {
    return new Send(this, value);
  }

  /** Receives the oldest value: waits while there is none; throws ChannelClosedError once closed and drained. */
  receive(): Generator<unknown, T, any> {
    return new Receive(this);
  }

  /** Sends without waiting: false if it would have to wait. Throws ChannelClosedError once closed. */
  trySend(value: T): boolean {
    return this._put(value) !== MUST_WAIT;
  }

  /** Receives without waiting. */
  tryReceive(): { ok: true; value: T } | { ok: false } {
    if (this.size === 0 && this._senders.live === 0) return { ok: false };
    return { ok: true, value: this._take() as T };
  }

  /**
   * Closes the channel: sends fail from now on, and so do the waiting
   * senders; values already buffered can still be received, after which
   * receives fail with ChannelClosedError.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const send of this._senders.drain())
      this.#fail(send, "it was closed while the task waited to send");
    if (this.size === 0) {
      for (const receive of this._receivers.drain())
        this.#fail(receive, "it was closed while the task waited to receive");
    }
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Values buffered now. */
  get size(): number {
    return this._buffer.size + this._returned.length;
  }

  /** "a channel (3/10 buffered, closed)", for dump() and messages. */
  describe(): string {
    const state = `${this.size}/${this.capacity} buffered${this.#closed ? ", closed" : ""}`;
    return `a channel (${state})`;
  }

  /** @internal A receive, now: a value, or MUST_WAIT. */
  _take(): T | typeof MUST_WAIT {
    let value: T;
    const returned = this._returned.shift();
    if (returned !== undefined) {
      value = returned.value;
      this._takenSeq = returned.seq;
    } else if (this._buffer.size > 0) {
      value = this._buffer.shift() as T;
      this._takenSeq = ++this.#takes;
    } else {
      const send = this._senders.shift();
      if (send !== undefined) {
        this._takenSeq = ++this.#takes;
        this.#serve(send, undefined);
        return send._value;
      }
      if (this.#closed) {
        throw new ChannelClosedError(`cannot receive: ${this.describe()} is closed and drained`);
      }
      return MUST_WAIT;
    }
    // A freed slot goes at once to the oldest waiting sender (there is none to give while
    // values taken back from cancelled receivers still hold the buffer at or over capacity).
    if (this.size < this.capacity) {
      const send = this._senders.shift();
      if (send !== undefined) {
        this._buffer.push(send._value);
        this.#serve(send, undefined);
      }
    }
    return value;
  }

  /** @internal A send, now: undefined when done, or MUST_WAIT. */
  _put(value: T): undefined | typeof MUST_WAIT {
    if (this.#closed)
      throw new ChannelClosedError(
        `cannot send ${describeValue(value)}: ${this.describe()} is closed`,
      );
    const receive = this._receivers.shift();
    if (receive !== undefined) {
      receive._seq = ++this.#takes;
      this.#serve(receive, value);
      return undefined;
    }
    if (this.size < this.capacity) {
      this._buffer.push(value);
      return undefined;
    }
    return MUST_WAIT;
  }

  /** @internal A value handed to a receiver that was cancelled before it took it: it goes back to its place in line. */
  _giveBack(value: T, seq: number): void {
    const receive = this._receivers.shift();
    if (receive !== undefined) {
      receive._seq = seq;
      this.#serve(receive, value);
      return;
    }
    // Ahead of the buffer, among the other values taken back, in the order they were first taken.
    const returned = this._returned;
    let i = returned.length;
    while (i > 0 && (returned[i - 1] as { seq: number }).seq > seq) i--;
    returned.splice(i, 0, { seq, value });
  }

  #serve<V>(op: Operation<V>, value: V): void {
    const task = op._task as Task<unknown>;
    op._task = null;
    op.wake(task, value);
  }

  #fail(op: Operation<unknown>, why: string): void {
    const task = op._task as Task<unknown>;
    op._task = null;
    op.fail(task, new ChannelClosedError(`${this.describe()}: ${why}`));
  }
}
