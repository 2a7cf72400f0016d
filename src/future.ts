/**
 * Future: a one-shot value, set once from anywhere (a callback, another
 * task, plain code) and waited for by any number of tasks.
 *
 * A task cancelled while it waits simply leaves; the value stays for the
 * others. Settling a future twice is a mistake and throws.
 */
import { describeValue } from "./describe.ts";
import { MUST_WAIT, Operation, WaitQueue } from "./operation.ts";
import { keepShapes } from "./shapes.ts";

let shapesKept = false;

const PENDING = 0;
const RESOLVED = 1;
const REJECTED = 2;

class FutureWait<T> extends Operation<T> {
  readonly _future: Future<T>;
  constructor(future: Future<T>) {
    super();
    this._future = future;
  }
  attempt(): T | typeof MUST_WAIT {
    return this._future._read();
  }
  enqueue(): void {
    this._future._waiters.push(this);
  }
  override release(): void {
    if (this._task !== null) this._future._waiters.drop(this);
  }
  describe(): string {
    return "a future";
  }
}

/**
 * A value that arrives later.
 *
 * @example
 * const reply = new Future<string>();
 * socket.once("data", (data) => reply.resolve(String(data)));
 * const text = yield* reply.wait();
 */
export class Future<T> {
  /** @internal Parked waiters. */
  readonly _waiters = new WaitQueue<FutureWait<T>>();
  #state = PENDING;
  #value: unknown = undefined;

  constructor() {
    if (!shapesKept) {
      shapesKept = true;
      keepShapes(() => new Future<never>().wait());
    }
  }

  /** Sets the value and wakes every waiter. Throws if the future was already settled. */
  resolve(value: T): void {
    this.#settle(RESOLVED, value, "resolve");
  }

  /** Sets an error, thrown into every waiter. Throws if the future was already settled. */
  reject(error: unknown): void {
    this.#settle(REJECTED, error, "reject");
  }

  /** Waits for the value (or throws the error). */
  wait(): Generator<unknown, T, any> {
    return new FutureWait(this);
  }

  /** Whether resolve() or reject() was called. */
  get settled(): boolean {
    return this.#state !== PENDING;
  }

  /** @internal The value now, the error thrown, or MUST_WAIT. */
  _read(): T | typeof MUST_WAIT {
    if (this.#state === RESOLVED) return this.#value as T;
    if (this.#state === REJECTED) throw this.#value;
    return MUST_WAIT;
  }

  #settle(state: number, value: unknown, call: string): void {
    if (this.#state !== PENDING) {
      const was = this.#state === RESOLVED ? "resolved" : "rejected";
      throw new Error(`Future.${call}(${describeValue(value)}): the future was already ${was}`);
    }
    this.#state = state;
    this.#value = value;
    // One at a time: waking one case of a select withdraws its other cases, which may wait here too.
    const waiters = this._waiters;
    for (let op = waiters.shift(); op !== undefined; op = waiters.shift())
      op._complete(state !== RESOLVED, value);
  }
}
