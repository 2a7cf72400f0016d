/**
 * Broadcast: a multicast stream. Every subscriber gets every value sent
 * while it is subscribed, in the order sent.
 *
 * A subscription is a Channel of its own (a receive-only one): the
 * broadcast puts each value into every subscription, and each reader reads
 * its subscription with `each()`, `receive()`, `receiveOrClosed()`,
 * `tryReceive()` or `select`, with everything a channel guarantees (values
 * claimed as the reader runs, so a cancelled reader takes nothing).
 *
 * Why a send waits for room in every subscription, and reaches them all at
 * one moment: a send is one event for the whole broadcast, never half
 * done. `send()` waits until every subscription that chose back-pressure
 * (`overflow: "wait"`, the default) has room for one more value, then puts
 * the value into every subscription in the same moment. So a send
 * cancelled while it waits has reached nobody, and a send that has
 * happened has reached every subscriber of that moment; a subscriber joins
 * from the next send that happens after `subscribe()`. Sends that wait are
 * served oldest first, and a later send or `trySend` cannot pass them.
 *
 * Why each subscription holds at least one value: a send happens at one
 * moment for every subscriber, so each needs a place for the value at that
 * moment. Unbuffered subscriptions would make a send wait until every
 * subscriber sat in a receive at the same time, so one busy reader would
 * hold up the rest even while they wait. A buffer of one (the default) is
 * the least that works: the slowest reader sets the pace, one value
 * behind, as close to an unbuffered channel as a multicast gets. A larger
 * buffer absorbs bursts; only the subscriber knows how far it may lag, so
 * it is the subscriber's choice.
 *
 * Nothing is lost silently: a subscriber that would rather skip values
 * than hold up the sender says so when it subscribes (`overflow:
 * "drop-oldest"` keeps the newest values, `"drop-newest"` keeps the oldest
 * ones, as Go's `select` with a `default` does), and `dropped` counts what
 * it missed. A send never waits for such a subscriber.
 *
 * Lifetime: a subscription made inside a task belongs to that task. It
 * ends (is closed) at once when the task is cancelled (a listener on the
 * task's abort signal, one per task), and in the step where the task ends
 * however it ends (the task's end hook): a send waiting for room in it
 * goes on then. `close()` ends it earlier, so a subscription a task stops
 * reading early is best closed (or read to the end with each()).
 * Invariants, after every
 * operation: the subscriptions in `_subscriptions` are open (ended ones
 * are closed and removed as they are found); a send waits only while some
 * open "wait" subscription (`_blocker`) is full.
 */
import { Channel, ChannelClosedError } from "./channel.ts";
import { describeValue } from "./describe.ts";
import { MUST_WAIT, Operation, WaitQueue } from "./operation.ts";
import { running, type Task } from "./task.ts";

/**
 * What a send does when a subscription's buffer is full: wait for room,
 * or drop the oldest or the newest value (counted in `dropped`).
 */
export type Overflow = "wait" | "drop-oldest" | "drop-newest";

const OVERFLOWS: readonly Overflow[] = ["wait", "drop-oldest", "drop-newest"];

/** How a subscriber wants its values: `broadcast.subscribe({ buffer, overflow })`. */
export interface SubscribeOptions {
  /** How many values it holds that its reader has not taken yet: 1 or more (default 1). */
  buffer?: number;
  /**
   * When the buffer is full: `"wait"` (default), a send waits for room;
   * `"drop-oldest"`, the oldest value waiting is dropped for the new one
   * (the newest are kept); `"drop-newest"`, the new value is dropped (the
   * oldest are kept). Dropped values are counted in `dropped`.
   */
  overflow?: Overflow;
}

/** One `broadcast.send(value)`: waits for room in every "wait" subscription, then reaches them all at once. */
class BroadcastSend<T> extends Operation<void> {
  readonly _broadcast: Broadcast<T>;
  readonly _value: T;
  constructor(broadcast: Broadcast<T>, value: T) {
    super();
    this._broadcast = broadcast;
    this._value = value;
  }
  attempt(): undefined | typeof MUST_WAIT {
    return this._broadcast._send(this._value);
  }
  enqueue(): void {
    this._broadcast._senders.push(this);
  }
  override release(): void {
    // Still queued: it reached nobody. Already served: it reached every subscriber.
    if (this._task !== null) this._broadcast._senders.drop(this);
  }
  describe(): string {
    const broadcast = this._broadcast;
    const blocker = broadcast._blocker;
    const full =
      this._task === null || blocker === null
        ? ""
        : `, until ${blocker._owner === undefined ? "a subscription" : `the subscription of ${blocker._owner.label()}`} has room`;
    return `send to ${broadcast.describe()}${full}`;
  }
}

/** Subscriptions by the task they belong to, each task's closed at once when it is cancelled. */
const byOwner = new WeakMap<Task<unknown>, Set<Subscription<unknown>>>();

/**
 * A subscriber's own stream of a broadcast's values: a Channel that only
 * receives. Read it as any channel (`each`, `receive`, `receiveOrClosed`,
 * `tryReceive`, `select`); `close()` ends it. Made by `broadcast.subscribe()`.
 */
export class Subscription<T> extends Channel<T> {
  /** What a send does when its buffer is full. */
  readonly overflow: Overflow;
  /** @internal */
  readonly _broadcast: Broadcast<T>;
  /** @internal The task it belongs to (it ends with it), or undefined if made outside a task. */
  readonly _owner: Task<unknown> | undefined;
  /** @internal Values it missed ("drop-oldest", "drop-newest"). */
  _dropped: number;

  /** @internal Use `broadcast.subscribe()`. */
  constructor(broadcast: Broadcast<T>, buffer: number, overflow: Overflow, owner?: Task<unknown>) {
    if (!(broadcast instanceof Broadcast)) {
      throw new TypeError("a Subscription is made by broadcast.subscribe(), not with new");
    }
    super(buffer);
    this.overflow = overflow;
    this._broadcast = broadcast;
    this._owner = owner;
    this._dropped = 0;
  }

  /** How many values it missed because its buffer was full ("drop-oldest" and "drop-newest" only; else 0). */
  get dropped(): number {
    return this._dropped;
  }

  /** A subscription only receives: send to the broadcast, so that every subscriber gets the value. */
  override send(value: T): never {
    throw notForSubscriptions("send", value);
  }

  /** A subscription only receives: send to the broadcast, so that every subscriber gets the value. */
  override trySend(value: T): never {
    throw notForSubscriptions("trySend", value);
  }

  /**
   * Unsubscribes: no more values come; those already in it can still be
   * received, then each() returns (and receives fail, or give `{ ok: false }`).
   * A send waiting for room in it goes on. Closing twice does nothing.
   */
  override close(): void {
    if (this.closed) return;
    super.close();
    if (this._owner !== undefined) byOwner.get(this._owner)?.delete(this);
    this._broadcast._left(this);
  }

  /** "a subscription (1/1 buffered, drop-oldest, 3 dropped)", for dump() and messages. */
  override describe(): string {
    let state = `${this.size}/${this.capacity} buffered`;
    if (this.overflow !== "wait") state += `, ${this.overflow}, ${this._dropped} dropped`;
    if (this.closed) state += ", closed";
    return `a subscription (${state})`;
  }

  /** @internal A receive took a value: room for a waiting send, perhaps. */
  override _take(): T | typeof MUST_WAIT {
    const value = super._take();
    if (value !== MUST_WAIT) this._broadcast._roomIn(this);
    return value;
  }

  /** @internal A parking receive was promised a value: room for a waiting send, perhaps. */
  override _reserve(): boolean {
    if (!super._reserve()) return false;
    this._broadcast._roomIn(this);
    return true;
  }

  /** @internal Over: closed, or the task it belongs to has ended. */
  _ended(): boolean {
    return this.closed || this._owner?.isDone() === true;
  }

  /** @internal A send must wait for it: it chose back-pressure and its buffer is full. */
  _full(): boolean {
    return this.overflow === "wait" && this.size >= this.capacity;
  }

  /** @internal A send that happens: the value goes to a waiting reader or into the buffer, or per `overflow`. */
  _offer(value: T): void {
    if (this._put(value) !== MUST_WAIT) return;
    if (this.overflow === "drop-newest") {
      this._dropped++;
      return;
    }
    if (this.overflow === "drop-oldest") {
      // The oldest value goes. A reader woken but not yet run takes the oldest value left when it
      // runs (values are claimed, not handed over), so it gets a newer one: never nothing.
      while (this.size >= this.capacity) {
        this._values.shift();
        this._dropped++;
      }
      this._put(value);
      return;
    }
    // "wait": the send waited until there was room, so this never happens; nothing is lost if it does.
    this._values.push(value);
  }
}

/**
 * A multicast stream: every subscriber gets every value sent while it is
 * subscribed, in order. `subscribe()` gives a subscription, a channel the
 * subscriber reads (`each`, `receive`, `select`); `send()` waits for room
 * in every subscription that wants back-pressure, then reaches every
 * subscriber at once; `close()` ends every subscription after the values
 * already sent.
 *
 * @example
 * const news = new Broadcast<string>();
 *
 * function* reader(name: string) {
 *   const sub = news.subscribe();      // from the next value on; ends with this task
 *   yield* each(sub, (headline) => console.log(name, headline));
 * }
 * function* editor() {
 *   yield* news.send("extra!");        // waits until every reader has room
 *   news.close();                      // each() returns in every reader
 * }
 *
 * // A reader that must never hold up the others keeps the latest value only:
 * const latest = news.subscribe({ buffer: 1, overflow: "drop-oldest" }); // latest.dropped counts the skipped
 */
export class Broadcast<T> {
  /** @internal The open subscriptions (ended ones are closed and removed as they are found). */
  readonly _subscriptions = new Set<Subscription<T>>();
  /** @internal Sends waiting for room, oldest first. */
  readonly _senders = new WaitQueue<BroadcastSend<T>>();
  /** @internal The full "wait" subscription the oldest waiting send waits for, or null. */
  _blocker: Subscription<T> | null = null;
  #closed = false;
  /** True while waiting sends are being served (so that nothing serves them twice over). */
  #serving = false;
  /** How many subscriptions there may be before subscribe() looks for ended ones. */
  #pruneAt = 32;

  /** A broadcast with no subscribers yet. Each subscriber chooses its own buffer: `subscribe({ buffer })`. */
  constructor(...none: []) {
    if (none.length > 0) {
      const given = (none as unknown[])[0];
      const hint =
        typeof given === "number"
          ? `: broadcast.subscribe({ buffer: ${given} })`
          : " in subscribe()";
      throw new TypeError(
        `new Broadcast() takes no arguments, got ${describeValue(given)}; each subscriber chooses its buffer${hint}`,
      );
    }
  }

  /**
   * A new subscription: it gets every value sent from now on, until it is
   * closed, the broadcast is closed, or the task that made it ends. Made on
   * a closed broadcast, it is closed already (each() returns at once).
   */
  subscribe(options: SubscribeOptions = {}): Subscription<T> {
    const { buffer, overflow } = checkOptions(options);
    const owner = running.task;
    const subscription = new Subscription<T>(this, buffer, overflow, owner);
    if (this.#closed) {
      subscription.close();
      return subscription;
    }
    const subscriptions = this._subscriptions;
    if (subscriptions.size >= this.#pruneAt) {
      this.#prune();
      this.#pruneAt = Math.max(32, 2 * subscriptions.size);
    }
    subscriptions.add(subscription);
    if (owner !== undefined) endOnCancel(owner, subscription as Subscription<unknown>);
    this.#serveIfBlockerEnded();
    return subscription;
  }

  /**
   * Sends a value to every subscriber: waits while a subscription that
   * chose back-pressure is full, then puts the value into every
   * subscription at once. Cancelled while it waits, it has reached nobody.
   * With no subscribers it is done at once (there is nobody to tell).
   * Throws ChannelClosedError once the broadcast is closed. An operation:
   * it goes in a `select`.
   */
  send(value: T): Generator<unknown, void, any> {
    return new BroadcastSend(this, value);
  }

  /**
   * Sends without waiting, to every subscriber or to none: false if the
   * send would have to wait (a "wait" subscription is full, or earlier
   * sends wait). Throws ChannelClosedError once the broadcast is closed.
   */
  trySend(value: T): boolean {
    return this._send(value) !== MUST_WAIT;
  }

  /**
   * Closes the broadcast: sends fail from now on, and so do the waiting
   * ones (they reached nobody); every subscription is closed, so its reader
   * still gets the values already sent, then each() returns.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this._blocker = null;
    // One at a time: failing one case of a select withdraws its other cases, which may wait here too.
    const senders = this._senders;
    for (let send = senders.shift(); send !== undefined; send = senders.shift()) {
      send._complete(
        true,
        new ChannelClosedError(`${this.describe()}: it was closed while the task waited to send`),
      );
    }
    for (const subscription of this._subscriptions) subscription.close();
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** How many subscriptions are open now (ended ones are counted out, and a send waiting for them goes on). */
  get subscribers(): number {
    this.#prune();
    return this._subscriptions.size;
  }

  /** "a broadcast (3 subscribers, 1 send waiting)", for dump() and messages. */
  describe(): string {
    let open = 0;
    for (const subscription of this._subscriptions) if (!subscription._ended()) open++;
    let state = `${open} subscriber${open === 1 ? "" : "s"}`;
    if (this._senders.live > 0)
      state += `, ${this._senders.live} send${this._senders.live === 1 ? "" : "s"} waiting`;
    if (this.#closed) state += ", closed";
    return `a broadcast (${state})`;
  }

  /** @internal A send, now: undefined when it reached every subscriber, or MUST_WAIT. */
  _send(value: T): undefined | typeof MUST_WAIT {
    if (this.#closed) {
      throw new ChannelClosedError(
        `cannot send ${describeValue(value)}: ${this.describe()} is closed`,
      );
    }
    if (this._senders.live > 0) {
      // No barging: earlier sends go first (if they can go now, they do).
      this.#serve();
      if (this._senders.live > 0) return MUST_WAIT;
    }
    if (!this.#roomForAll()) return MUST_WAIT;
    this.#deliver(value);
    return undefined;
  }

  /** @internal A subscription's reader took a value: if a send waits for that room, serve it. */
  _roomIn(subscription: Subscription<T>): void {
    if (this._senders.live === 0) return;
    const blocker = this._blocker;
    if (blocker === subscription || blocker === null || blocker._ended()) this.#serve();
  }

  /** @internal A subscription was closed: it is no longer a subscriber, and sends stop waiting for it. */
  _left(subscription: Subscription<T>): void {
    this._subscriptions.delete(subscription);
    if (this._blocker === subscription) this._blocker = null;
    if (this._senders.live > 0) this.#serve();
  }

  /** Serves the waiting sends, oldest first, while every subscription has room. */
  #serve(): void {
    if (this.#serving) return;
    this.#serving = true;
    try {
      const senders = this._senders;
      while (senders.live > 0 && this.#roomForAll()) {
        const send = senders.shift() as BroadcastSend<T>;
        // Completed first: if it is a case of a select, the select's other cases leave their
        // queues now, before any reader woken below could commit the select to one of them.
        send._complete(false, undefined);
        this.#deliver(send._value);
      }
    } finally {
      this.#serving = false;
    }
  }

  /** Whether every open subscription has room (a full one becomes the blocker); ends the ended ones. */
  #roomForAll(): boolean {
    for (const subscription of this._subscriptions) {
      if (subscription._ended()) subscription.close();
      else if (subscription._full()) {
        this._blocker = subscription;
        return false;
      }
    }
    this._blocker = null;
    return true;
  }

  /** The value goes into every open subscription, in the same moment. */
  #deliver(value: T): void {
    for (const subscription of this._subscriptions) {
      if (subscription._ended()) subscription.close();
      else subscription._offer(value);
    }
  }

  /** Closes and removes the subscriptions whose task has ended. */
  #prune(): void {
    for (const subscription of this._subscriptions) {
      if (subscription._ended()) subscription.close();
    }
  }

  #serveIfBlockerEnded(): void {
    const blocker = this._blocker;
    if (this._senders.live > 0 && (blocker === null || blocker._ended())) this.#serve();
  }
}

/** A subscription made in a task is closed when the task is cancelled, or ends (one listener per task). */
function endOnCancel(owner: Task<unknown>, subscription: Subscription<unknown>): void {
  let subscriptions = byOwner.get(owner);
  if (subscriptions === undefined) {
    const those = new Set<Subscription<unknown>>();
    const end = () => {
      byOwner.delete(owner);
      for (const s of those) s.close();
    };
    const signal = owner.signal;
    // Subscribed while its task is being cancelled (in a finally): it ends when the task ends.
    if (!signal.aborted) signal.addEventListener("abort", end, { once: true });
    owner._whenEnded(end); // it returned or failed without closing it
    byOwner.set(owner, those);
    subscriptions = those;
  }
  subscriptions.add(subscription);
}

function checkOptions(options: unknown): { buffer: number; overflow: Overflow } {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(
      `Broadcast.subscribe() expects an options object ({ buffer, overflow }), got ${describeValue(options)}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (key !== "buffer" && key !== "overflow") {
      throw new TypeError(
        `Broadcast.subscribe() has no option ${JSON.stringify(key)}; the options are buffer and overflow`,
      );
    }
  }
  const { buffer = 1, overflow = "wait" } = options as SubscribeOptions;
  if (typeof buffer !== "number" || !Number.isInteger(buffer) || buffer < 1) {
    const why =
      buffer === 0
        ? " (a send reaches every subscriber at one moment, so each needs room for a value)"
        : "";
    throw new RangeError(
      `Broadcast.subscribe() expects a buffer that is a whole number, 1 or more, got ${describeValue(buffer)}${why}`,
    );
  }
  if (!OVERFLOWS.includes(overflow)) {
    throw new TypeError(
      `Broadcast.subscribe() expects overflow "wait", "drop-oldest" or "drop-newest", got ${describeValue(overflow)}`,
    );
  }
  return { buffer, overflow };
}

function notForSubscriptions(call: string, value: unknown): TypeError {
  return new TypeError(
    `cannot ${call} ${describeValue(value)} to a subscription: it only receives; send to its broadcast (broadcast.send(value)), so that every subscriber gets it`,
  );
}
