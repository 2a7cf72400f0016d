/**
 * Task: a running routine, with its own call stack of generators.
 *
 * A task is created by `worker.assign()` or `spawn()`. Its state is one of
 * runnable, waiting (parked on something, or waiting for its children after
 * its routine returned), done, failed or cancelled. The worker owns every
 * state change; this class is the task's public face plus the fields the
 * worker keeps on it. Fields starting with `_` belong to the worker.
 *
 * Memory matters here (a program may park a hundred thousand tasks), so
 * fields needed only by some tasks (children, a join, a promise, an abort
 * controller) are allocated on first use.
 */
import { CancelledError } from "./errors.ts";
import { JoinWait } from "./join.ts";
import { nameOf, routineName } from "./names.ts";
import {
  CANCELLED,
  CANCELLING,
  DONE,
  FAILED,
  INTERRUPTED,
  NEXT,
  RUNNABLE,
  running,
  stateNames,
  type TaskState,
} from "./task-state.ts";
import type { Wait } from "./wait.ts";
import type { Worker } from "./worker.ts";
import { ENDED, FRESH, YieldOnce } from "./yield-once.ts";

export * from "./task-state.ts";

/** @internal What a promise made by `toPromise()` needs. */
export interface Deferred {
  promise: Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * @internal Told how a task ends, synchronously: when its routine has
 * ended (before its children have), and when the task itself has ended.
 * all/race/timeout observe their member tasks this way, resource() its
 * resource tasks. `_taskEnded` says whether it took the task's error (to
 * hand on or report); if not, the error goes on as any unjoined error.
 */
export interface TaskObserver {
  _bodyEnded(task: Task<unknown>, end: number): void;
  _taskEnded(task: Task<unknown>): boolean;
}

/** @internal The rarely used parts of a task, allocated on first use. */
export interface TaskExtra {
  /** Its unfinished children, in no order (each child's `_slot` is its index here). */
  children: Task<unknown>[] | null;
  /** While unwinding: frames at this index and above were pushed by cleanup and resume normally. */
  unwindFrom: number;
  /** The first error a cleanup threw while it was cancelled. */
  cleanupError: unknown;
  /** After its body ended, while its children end: the state it will end in (DONE, FAILED or CANCELLED). */
  end: number;
  /** What joiners park on (made on the first join). */
  join: JoinWait | null;
  /** Made by toPromise(). */
  deferred: Deferred | null;
  /** Children's errors waiting to be thrown in at the task's next yield. */
  pendingErrors: unknown[] | null;
  /** Aborted when the task is cancelled. */
  controller: AbortController | null;
  /** Told how it ends (all/race/timeout members). */
  observer: TaskObserver | null;
  /** How many shield() frames it is inside: while above 0, a cancel waits (CANCEL_PENDING). */
  shield: number;
  /** While its children are torn down, the ones left, oldest first: the youngest is cancelled next. */
  teardown: Task<unknown>[] | null;
  /** Its Context bindings (see context.ts). */
  contexts: Map<object, unknown> | null;
  /** For a detached task: the task that spawned it (context lookups continue there). */
  creator: Task<unknown> | null;
  /** How many of its live children are resources (closed once only they are left after its body ended). */
  resources: number;
  /** Called once it has ended, however (see Task._whenEnded). */
  onEnd: (() => void)[] | null;
}

/**
 * The task whose step is running now, or undefined outside a step.
 *
 * @example
 * function* main() {
 *   console.log(currentTask()?.name); // "main"
 * }
 */
export function currentTask(): Task<unknown> | undefined {
  return running.task;
}

/**
 * A running routine. Made by `worker.assign()` or `spawn()`; never
 * constructed directly.
 */
export class Task<R = unknown> {
  /** @internal The worker that steps this task. */
  readonly _worker: Worker;
  /** A number unique within its worker, in order of creation. */
  readonly id: number;
  /** @internal The name given in options, or the routine's; undefined: "task#N". */
  _name: string | undefined;
  /** @internal The generator that runs on this task's next step; null once its body ended. */
  _top: Generator<unknown, unknown, unknown> | null;
  /** @internal The generators below the top, outermost first; null while there are none. */
  _callers: Generator<unknown, unknown, unknown>[] | null = null;
  /** @internal RUNNABLE, WAITING, DONE, FAILED or CANCELLED. */
  _state = RUNNABLE;
  /** @internal How the top generator is resumed next: NEXT, THROW, RETURN or CLAIMED. */
  _mode = NEXT;
  /** @internal The value (or error) for the next resume; once the body ended, its result (or error). */
  _input: unknown = undefined;
  /** @internal Flag bits (CANCELLING, BODY_ENDED, ...). */
  _flags = 0;
  /** @internal The wait it is parked on (CHILDREN while its children end), or was woken by and takes its outcome from next step; else null. */
  _waitingOn: Wait<unknown> | null = null;
  /** @internal The task that spawned it; null for top-level and detached tasks. */
  readonly _parent: Task<unknown> | null;
  /** @internal Its index in its parent's children, or in the worker's top-level tasks, while it is live. */
  _slot = 0;
  /** @internal */
  _extra: TaskExtra | null = null;

  /** @internal Use worker.assign() or spawn(). */
  constructor(
    worker: Worker,
    id: number,
    generator: Generator<unknown, R, unknown>,
    parent: Task<unknown> | null,
    name: string | undefined,
  ) {
    this._worker = worker;
    this.id = id;
    this._top = generator;
    this._parent = parent;
    this._name = name ?? nameOf(generator);
  }

  /** The worker that steps it. */
  get worker(): Worker {
    return this._worker;
  }

  /** Its name: `options.name`, else its routine's name, else `task#N`. */
  get name(): string {
    return this._name ?? `task#${this.id}`;
  }

  /** Runnable (stepping now or queued), waiting, done, failed or cancelled. */
  get state(): TaskState {
    return stateNames[this._state] as TaskState;
  }

  /** True once done, failed or cancelled. */
  isDone(): boolean {
    return this._state >= DONE;
  }

  /** What its routine returned. Throws unless the state is "done". */
  get result(): R {
    if (this._state === DONE) return this._input as R;
    if (this._state === FAILED) {
      throw new Error(`${this.label()} has no result: it failed`, { cause: this._input });
    }
    if (this._state === CANCELLED)
      throw new CancelledError(`${this.label()} has no result: it was cancelled`);
    throw new Error(`${this.label()} has no result yet: it is ${this.state}`);
  }

  /** The error it failed with, when the state is "failed"; otherwise undefined. */
  get error(): unknown {
    return this._state === FAILED ? this._input : undefined;
  }

  /** The routine names on its call stack, outermost first ("<anonymous>" where unknown). */
  get stack(): string[] {
    const frames: string[] = [];
    if (this._callers !== null)
      for (const g of this._callers) frames.push(nameOf(g) ?? "<anonymous>");
    if (this._top !== null) frames.push(nameOf(this._top) ?? "<anonymous>");
    return frames;
  }

  /** Its live children, oldest first. */
  get children(): Task<unknown>[] {
    const children = this._extra?.children;
    return children == null ? [] : byAge(children);
  }

  /** The task that spawned it, or undefined for a top-level or detached task. */
  get parent(): Task<unknown> | undefined {
    return this._parent ?? undefined;
  }

  /**
   * An AbortSignal aborted when this task is cancelled, for promise-based
   * APIs: `yield* call(fetch(url, { signal: currentTask()!.signal }))`.
   */
  get signal(): AbortSignal {
    const extra = this._extraFields();
    if (extra.controller === null) {
      extra.controller = new AbortController();
      if (this._flags & CANCELLING || this._state === CANCELLED) {
        extra.controller.abort(this._cancelledError());
      }
    }
    return extra.controller.signal;
  }

  /**
   * Waits for the task to end: `const value = yield* task.join()`. Gives its
   * result, throws its error (which then counts as handled), or throws
   * `CancelledError` if it was cancelled. `yield task` does the same.
   */
  join(): Generator<unknown, R, any> {
    return new JoinRoutine<R>(this);
  }

  /**
   * Starts `routine` as a child of this task, like `spawn()` inside its
   * step, but callable from anywhere: a host callback (a request, a
   * connection) can hand work to a long-lived task, which then cannot end
   * before the child, and whose cancellation cancels it. Throws if this task
   * has ended; a child spawned into a task being cancelled is cancelled too.
   */
  spawn<T>(routine: Generator<unknown, T, any>, options?: { name?: string }): Task<T> {
    if (this._state >= DONE) {
      throw new Error(`cannot spawn a child of ${this.label()}: it has ended (${this.state})`);
    }
    // Only the name: a child spawned here is never detached.
    return this._worker._spawn(
      this,
      routine,
      options?.name === undefined ? undefined : { name: options.name },
    );
  }

  /** Cancels it: its children first, then its stack unwinds top-down so every `finally` runs. */
  cancel(): void {
    this._worker._cancel(this);
  }

  /** A promise of its result; rejects with its error, or with CancelledError. Its error counts as handled. */
  toPromise(): Promise<R> {
    const extra = this._extraFields();
    if (extra.deferred === null) {
      let resolve!: (value: unknown) => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<unknown>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      extra.deferred = { promise, resolve, reject };
      if (this._state >= DONE) this._settleDeferred();
    }
    return extra.deferred.promise as Promise<R>;
  }

  /** @internal The error that says it was cancelled (for joiners, promises, signals). */
  _cancelledError(): CancelledError {
    return new CancelledError(`${this.label()} was cancelled`);
  }

  /** @internal What a join of it throws once it has ended other than done: its error, or a CancelledError. */
  _endError(): unknown {
    return this._state === FAILED ? this._input : this._cancelledError();
  }

  /** `task "name"` (or `task#N`), for messages. */
  label(): string {
    return this._name === undefined ? `task#${this.id}` : `task "${this._name}"`;
  }

  toString(): string {
    return `${this.label()} (${this.state})`;
  }

  /**
   * @internal Calls `callback` once the task has ended (done, failed or
   * cancelled), in the step where it ends; at once if it has. For library
   * objects that belong to a task (a broadcast subscription). An error the
   * callback throws is reported.
   */
  _whenEnded(callback: () => void): void {
    if (this._state >= DONE) {
      callback();
      return;
    }
    const extra = this._extraFields();
    if (extra.onEnd === null) extra.onEnd = [callback];
    else extra.onEnd.push(callback);
  }

  /** @internal The wait its joiners park on. */
  _joinWait(): JoinWait {
    const extra = this._extraFields();
    if (extra.join === null) extra.join = new JoinWait(this);
    return extra.join;
  }

  /** @internal Whether it has unfinished children. */
  _hasChildren(): boolean {
    const children = this._extra?.children;
    return children != null && children.length > 0;
  }

  /** @internal */
  _extraFields(): TaskExtra {
    if (this._extra === null) {
      this._extra = {
        children: null,
        unwindFrom: 0,
        cleanupError: undefined,
        end: DONE,
        join: null,
        deferred: null,
        pendingErrors: null,
        controller: null,
        observer: null,
        shield: 0,
        teardown: null,
        contexts: null,
        creator: null,
        resources: 0,
        onEnd: null,
      };
    }
    return this._extra;
  }

  /** @internal Settles the toPromise() promise once the task has ended. */
  _settleDeferred(): void {
    const deferred = this._extra?.deferred;
    if (deferred == null) return;
    if (this._state === DONE) deferred.resolve(this._input);
    else deferred.reject(this._endError());
  }
}

/** @internal Tasks sorted oldest first. */
export function byAge(tasks: readonly Task<unknown>[]): Task<unknown>[] {
  return [...tasks].sort((a, b) => a.id - b.id);
}

/**
 * The frame of `task.join()`: yields the task, returns its result.
 *
 * A task that has ended already is read without a step: the first next()
 * returns its result (or throws its error) inside the joiner's step, so
 * `yield* task.join()` goes straight on, as `wg.Wait()` does in Go once the
 * count is zero. The outcome is the one a yield would bring (the error of
 * a failed task went on when it ended). Not while the joiner has an
 * interrupt waiting (a cancel, a child's error): then it yields, and the
 * worker delivers the interrupt at that yield, as at any other.
 */
class JoinRoutine<R> extends YieldOnce<R> {
  /** @internal Its frames are named "join". */
  get [routineName](): string {
    return "join";
  }

  constructor(task: Task<R>) {
    super(task);
  }

  override next(input?: unknown): IteratorResult<unknown, R> {
    if (this._holder === FRESH) {
      const target = this._value as Task<R>;
      if (target._state >= DONE) {
        const joiner = running.task;
        if (joiner !== undefined && !(joiner._flags & INTERRUPTED)) {
          this._holder = ENDED;
          if (target._state === DONE) return { value: target._input as R, done: true };
          throw target._endError();
        }
      }
    }
    return super.next(input);
  }
}
