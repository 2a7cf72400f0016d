/**
 * resource: a value opened by a routine and closed when the task that
 * asked for it is done with it (a connection, a server, a subscription).
 *
 * The routine runs as a child task of the task that asked, marked as a
 * resource. It opens what it opens and calls `provide(value)`: the asking
 * task gets the value and goes on, while the resource task waits in
 * `provide` until it is cancelled. It is cancelled once the asking task's
 * own routine has ended and only resources are left among its children
 * (its other children may still use it), or when the asking task is
 * cancelled; either way its `finally` closes what it opened. Resources are
 * torn down like all children: last in, first out.
 */
import { describeValue } from "./describe.ts";
import { CancelledError } from "./errors.ts";
import { routineName } from "./names.ts";
import { spawn } from "./spawn.ts";
import { DONE, type Task, type TaskObserver } from "./task.ts";
import { suspend, Wait } from "./wait.ts";
import { ENDED, FRESH, YieldOnce } from "./yield-once.ts";

/** How a resource routine hands out its value: `yield* provide(value)`. */
export type Provide<T> = (value: T) => Generator<unknown, void, any>;

/** Provision states. */
const WAITING = 0;
const PROVIDED = 1;
const FAILED = 2;

/**
 * One resource: what the asking task parks on until the value comes, and
 * how the resource task's end is seen. An end before the value fails the
 * asking task (the routine's error, or a routine that returned without
 * providing); after it, the resource task's error goes on as any child's.
 * (A Wait of its own rather than a Future: a resource is asked for once,
 * by one task, so it needs no queue of waiters.)
 */
class Provision<T> extends Wait<T> implements TaskObserver {
  readonly name: string;
  /** The task that asked, while it is parked here. */
  asker: Task<unknown> | null = null;
  state = WAITING;
  /** The value once PROVIDED, the error once FAILED, for an asker not parked yet. */
  outcome: unknown = undefined;

  constructor(name: string) {
    super();
    this.name = name;
  }

  park(task: Task<unknown>): void {
    // The resource task's first step comes after this one, but one spawned into a cancelling task ends at once.
    if (this.state === PROVIDED) this.wake(task, this.outcome as T);
    else if (this.state === FAILED) this.fail(task, this.outcome);
    else this.asker = task;
  }

  override release(): void {
    this.asker = null;
  }

  describe(): string {
    return `resource "${this.name}"`;
  }

  /** `yield* provide(value)` reached: the asking task gets `value`. */
  provide(value: T): void {
    if (this.state === PROVIDED) throw new Error(`resource "${this.name}" provided a value twice`);
    this.state = PROVIDED;
    const asker = this.asker;
    this.asker = null;
    if (asker === null) this.outcome = value;
    else this.wake(asker, value);
  }

  #failAsker(error: unknown): void {
    this.state = FAILED;
    const asker = this.asker;
    this.asker = null;
    if (asker === null) this.outcome = error;
    else this.fail(asker, error);
  }

  _bodyEnded(_task: Task<unknown>, end: number): void {
    if (this.state === WAITING && end === DONE) {
      this.#failAsker(new Error(`resource "${this.name}" returned without providing a value`));
    }
  }

  _taskEnded(task: Task<unknown>): boolean {
    if (this.state !== WAITING) return false;
    this.#failAsker(
      task.state === "failed"
        ? task.error
        : new CancelledError(`resource "${this.name}" was cancelled before it provided a value`),
    );
    return true;
  }
}

/** The frame of `provide(value)`: hands the value over, then waits until its task is cancelled. */
class ProvideRoutine<T> extends YieldOnce<void> {
  /** @internal Its frames are named "provide". */
  get [routineName](): string {
    return "provide";
  }

  readonly _provision: Provision<T>;
  readonly _provided: T;

  constructor(provision: Provision<T>, value: T) {
    super(suspend());
    this._provision = provision;
    this._provided = value;
  }

  override next(input?: unknown): IteratorResult<unknown, void> {
    if (this._holder === FRESH) {
      try {
        this._provision.provide(this._provided);
      } catch (error) {
        this._holder = ENDED;
        throw error;
      }
    }
    return super.next(input);
  }
}

/** The frame of `resource(body)`: starts the resource task, then waits for its value. */
class ResourceRoutine<T> extends YieldOnce<T> {
  /** @internal Its frames are named "resource". */
  get [routineName](): string {
    return "resource";
  }

  readonly _body: (provide: Provide<T>) => Generator<unknown, void, any>;

  constructor(body: (provide: Provide<T>) => Generator<unknown, void, any>) {
    super(null);
    this._body = body;
  }

  override next(input?: unknown): IteratorResult<unknown, T> {
    if (this._holder === FRESH) {
      try {
        this._value = this._start();
      } catch (error) {
        this._holder = ENDED;
        throw error;
      }
    }
    return super.next(input);
  }

  /** Spawns the resource task (a child of the current task) and gives what to park on. */
  _start(): Provision<T> {
    const body = this._body;
    const provision = new Provision<T>(body.name || "resource");
    const task = spawn(
      body((value: T) => new ProvideRoutine(provision, value)),
      { name: provision.name },
    );
    task._extraFields().observer = provision;
    task._worker._markResource(task);
    return provision;
  }
}

/**
 * Runs `body` as a resource of the current task and gives the value it
 * provides. `body` opens something, calls `yield* provide(value)`, and
 * closes it in a `finally`: that runs once the current task's routine has
 * ended and its other children too (or when it is cancelled). An error the
 * body throws before it provides is thrown here; one it throws later is
 * thrown into the task at its current yield, like any child's.
 *
 * TypeScript cannot see the type of the value from inside the routine:
 * give it, `resource<Connection>(...)`, or type `provide: Provide<Connection>`.
 *
 * @example
 * const db = yield* resource<Connection>(function* database(provide) {
 *   const connection = yield* connect(url);
 *   try {
 *     yield* provide(connection);
 *   } finally {
 *     connection.close();
 *   }
 * });
 */
export function resource<T>(
  body: (provide: Provide<T>) => Generator<unknown, void, any>,
): Generator<unknown, T, any> {
  if (typeof body !== "function") {
    throw new TypeError(
      `resource() expects a generator function that takes provide, got ${describeValue(body)}`,
    );
  }
  return new ResourceRoutine<T>(body);
}
