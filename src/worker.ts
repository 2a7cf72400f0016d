/**
 * Worker: the scheduler. It holds the run queue of tasks and resumes them
 * one step at a time.
 *
 * Glossary (the same words in code, docs and messages):
 * - routine: a generator function; a generator object is one call of it.
 * - task: a running routine, with its own call stack of generators.
 * - step: one resume (`next`, `throw` or `return`) of the top generator of
 *   the first task in the run queue.
 * - run queue: the tasks that can take a step, first come first served.
 * - park: a task that yields a wait object leaves the run queue until the
 *   wait wakes it; a parked task costs no steps.
 * - timer queue: parked sleepers by deadline.
 * - tick: one step, driven from outside (a game loop calls `tick()`).
 *
 * Invariants:
 * - A task is in the run queue exactly when its state is RUNNABLE and it
 *   is not the task stepping now.
 * - A queued task has a top generator, and `_mode`/`_input` say how it is
 *   resumed next.
 * - A task ends (done, failed, cancelled) only once its call stack is empty
 *   and its children have ended.
 * - The loop itself never throws: every outcome of a step (a value, an
 *   error, a cancel) is turned into the task's next resume or its end, and
 *   an error nobody handles is handed to `onError` or thrown by the driving
 *   call after the step has finished its bookkeeping.
 *
 * Why a trampoline: a routine that yields a generator does not call it on
 * the JavaScript stack; the worker pushes it on the task's own call stack
 * (an array) and resumes only the top. Resuming costs the same at any depth,
 * and a recursion a million levels deep does not overflow. Native `yield*`
 * also works, but it resumes through every level.
 *
 * Why fairness is simple: a task that yields goes to the back of the queue,
 * and wakes (timers, I/O, joins) go to the back too, so every runnable task
 * gets a step before any task gets two.
 */
import { type Clock, checkSeconds, realClock, VirtualClock } from "./clock.ts";
import { UNWIND } from "./delegation.ts";
import { checkRoutine, describeError, describeValue, isGenerator } from "./describe.ts";
import { Driver } from "./driver.ts";
import { CHILDREN, ENDED } from "./join.ts";
import {
  badYieldMessage,
  checkName,
  describeState,
  dumpWorker,
  noteRoutineStack,
} from "./report.ts";
import { Ring } from "./ring.ts";
import {
  checkChoice,
  checkSchedule,
  chooseChecked,
  type Schedule,
  ScheduledRing,
  type SimEnv,
} from "./schedule.ts";
import { setShapeKeeper } from "./shapes.ts";
import {
  BODY_ENDED,
  byAge,
  CANCEL_PENDING,
  CANCELLED,
  CANCELLING,
  CLAIMED,
  CLEANUP_FAILED,
  DONE,
  FAILED,
  HANDLED,
  INTERRUPTED as INTERRUPTED_IMPORTED,
  NEXT as NEXT_IMPORTED,
  RESOURCE,
  RETURN as RETURN_IMPORTED,
  RUNNABLE,
  running as running_IMPORTED,
  Task,
  type TaskExtra,
  THROW as THROW_IMPORTED,
  UNWINDING as UNWINDING_IMPORTED,
  WAITING,
} from "./task.ts";

// Copies of the imports the step loop reads on every step. An imported binding is read through
// a cell, with a check for its temporal dead zone, at each use (about 5 instructions each, 25 a
// step); a const of this module's own is folded into the optimised code.
const INTERRUPTED = INTERRUPTED_IMPORTED;
const NEXT = NEXT_IMPORTED;
const RETURN = RETURN_IMPORTED;
const THROW = THROW_IMPORTED;
const UNWINDING = UNWINDING_IMPORTED;
const running = running_IMPORTED;

import { type TimerEntry, TimerQueue } from "./timer-queue.ts";
import { CLAIM, type Outcome, PromiseWait, Wait } from "./wait.ts";

/** Options for `new Worker()`. */
export interface WorkerOptions {
  /** Where time comes from; default: the host's monotonic clock. */
  clock?: Clock;
  /** Receives every task error nobody handled; without it, driving calls throw them. */
  onError?: (error: unknown, task: Task<unknown>) => void;
  /** Time every step to keep `counters.longestStep` (costs about 0.1 us a step). */
  profile?: boolean;
  /**
   * The slow-step alarm: a step that takes longer than this many seconds
   * of real time (while it runs, every other task waits) is reported,
   * naming the task and the routines on its stack. Off by default (and
   * then free); on, each step is timed as with `profile`.
   */
  slowStep?: number;
  /** Receives each slow step; default: a `console.warn` line. */
  onSlowStep?: (report: SlowStep) => void;
  /**
   * Simulation: chooses which runnable task steps next (asked only when
   * two or more are), and every choice `sim()` offers (see sim.ts). Off
   * (undefined), the worker never looks for it.
   */
  schedule?: Schedule;
}

/** A step that took longer than the `slowStep` option allows. */
export interface SlowStep {
  /** The task whose step it was. */
  task: Task<unknown>;
  /** How long the step took, in seconds of real time. */
  seconds: number;
  /** The routines on the task's stack where the step ended, outermost first. */
  stack: string[];
  /** All of it in a line: `a step of task "parse" took 0.120 s (over 0.050 s), at main > parse`. */
  message: string;
}

/** Counters a worker keeps, for stats pages, consoles and benchmarks. */
export interface WorkerCounters {
  /** Steps taken. */
  steps: number;
  /** Tasks created by assign() and spawn(). */
  tasksCreated: number;
  /** Tasks that ended (done, failed or cancelled). */
  tasksFinished: number;
  /** The longest single step, in seconds (0 unless the worker was made with `profile: true`). */
  longestStep: number;
}

/** Options for `worker.assign()`. */
export interface AssignOptions {
  /** The task's name; default: its routine's name, else `task#N`. */
  name?: string;
}

/** @internal Options for creating a task. */
export interface SpawnOptions extends AssignOptions {
  /** Make a top-level task that outlives its creator. */
  detached?: boolean;
}

/** How often (in steps) the real clock is read for due timers: each read costs ~0.1 us. */
const REAL_CLOCK_POLL_STEPS = 16;

/**
 * Holds tasks and steps them round-robin.
 *
 * This module is the kernel: the step loop and what a yielded value means
 * (dispatch), the one way onto the run queue (#reschedule), and the task
 * lifecycle (cancel, unwind, teardown, end, errors handed on). Beside it:
 * driver.ts (tick, tickFor, work, run, deliver and the host's timers and
 * event loop), report.ts (dumps and messages), join.ts (join as a wait).
 * Tasks, waits and the coordination types reach the kernel only through
 * its `_`-prefixed methods.
 *
 * @example
 * const worker = new Worker();
 * worker.assign(letters());
 * worker.assign(numbers());
 * worker.tick();          // one step, e.g. once per game frame
 * worker.work();          // or: run until every task has ended
 * await worker.run();     // or: alongside the event loop (promises, I/O)
 */
export class Worker {
  /** The clock timers read. */
  readonly clock: Clock;
  /** Steps, tasks created and finished, longest step. */
  readonly counters: WorkerCounters = {
    steps: 0,
    tasksCreated: 0,
    tasksFinished: 0,
    longestStep: 0,
  };

  /** Receives unhandled task errors, if given. */
  readonly #onError: ((error: unknown, task: Task<unknown>) => void) | undefined;
  /** Drives the steps from the host: tick, tickFor, work, run, deliver. */
  readonly #driver: Driver;
  /** @internal The task of the latest step (for the slow-step alarm). */
  _stepped: Task<unknown> | undefined = undefined;
  /** @internal The task stepping now, while this worker drives (see `running` in task-state.ts). */
  _current: Task<unknown> | undefined = undefined;
  /** Tasks that can take a step, in order. Only #reschedule adds to it. */
  readonly #runQueue: Ring<Task<unknown>>;
  /** The schedule option: who picks among runnable tasks under simulation. */
  readonly #schedule: Schedule | undefined;
  /** What sim() gives routines of this worker (made on first use). */
  #simEnv: SimEnv | null = null;
  /** Sleeping tasks, by deadline. */
  readonly #timers = new TimerQueue<Task<unknown>>();
  /** Steps between two reads of the clock for due timers (1 unless the clock is the real one). */
  readonly #timerPollSteps: number;
  /** Steps left until the next read of the clock for due timers. */
  #timerPollCountdown = 0;
  /** Live top-level tasks, in no order (each task's `_slot` is its index here; children live in their parents). */
  readonly #roots: Task<unknown>[] = [];
  /** Number of live tasks. */
  #live = 0;
  /** The id the next task gets. */
  #nextId = 1;
  /** The state of _random() (xorshift32). */
  #seed = 0x2545f491;
  /** The task of wrap() or run(): when it ends, every task left is cancelled. */
  #main: Task<unknown> | null = null;
  /** Set when the loop broke its own invariant: the worker is disabled and says so at every call. */
  #broken: Error | null = null;

  constructor(options: WorkerOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`new Worker() expects an options object, got ${describeValue(options)}`);
    }
    const { clock = realClock, onError, profile = false, slowStep, onSlowStep } = options;
    const schedule = options.schedule === undefined ? undefined : checkSchedule(options.schedule);
    if (typeof clock?.now !== "function") {
      throw new TypeError(
        `Worker option "clock" expects an object with now(), got ${describeValue(clock)}`,
      );
    }
    if (onError !== undefined && typeof onError !== "function") {
      throw new TypeError(
        `Worker option "onError" expects a function, got ${describeValue(onError)}`,
      );
    }
    if (slowStep !== undefined) {
      checkSeconds('Worker option "slowStep"', slowStep);
      if (slowStep === 0)
        throw new RangeError('Worker option "slowStep" expects seconds above 0, got 0');
    }
    if (onSlowStep !== undefined && typeof onSlowStep !== "function") {
      throw new TypeError(
        `Worker option "onSlowStep" expects a function, got ${describeValue(onSlowStep)}`,
      );
    }
    this.clock = clock;
    this.#onError = onError;
    this.#schedule = schedule;
    // A scheduled worker's queue asks the schedule; the plain one is a Ring, so no step pays for simulation.
    this.#runQueue =
      schedule === undefined
        ? new Ring<Task<unknown>>()
        : new ScheduledRing(schedule, (error, task) => this._report(error, task));
    this.#timerPollSteps = clock === realClock ? REAL_CLOCK_POLL_STEPS : 1;
    this.#driver = new Driver(this, profile, slowStep, onSlowStep);
  }

  // ---------------------------------------------------------------- tasks

  /**
   * Adds a top-level task running `routine` (a generator object) and
   * returns it. Its first step comes on a later tick.
   */
  assign<R>(routine: Generator<unknown, R, any>, options?: AssignOptions): Task<R> {
    checkRoutine("assign()", routine);
    return this.#createTask(routine, null, checkName("assign()", options));
  }

  /**
   * @internal Assigns the routine of `wrap()` or `run()`: when its task
   * ends (its children with it), every task left (detached ones, tasks
   * assigned to this worker) is cancelled, as a Go program ends when main
   * returns; their cleanup runs as ordinary steps. Its error is never
   * reported (to onError or a driving call): the caller reads it.
   */
  _assignMain<R>(routine: Generator<unknown, R, any>): Task<R> {
    const task = this.assign(routine);
    this.#main = task;
    return task;
  }

  /** Live (unfinished) tasks, oldest first. */
  get tasks(): readonly Task<unknown>[] {
    const out: Task<unknown>[] = [];
    const pending = [...this.#roots];
    for (let t = pending.pop(); t !== undefined; t = pending.pop()) {
      out.push(t);
      const children = t._extra?.children;
      if (children != null) pending.push(...children);
    }
    return byAge(out);
  }

  /** Cancels every live top-level task (and so every task). */
  cancelAll(): void {
    const roots = byAge(this.#roots);
    for (let i = roots.length - 1; i >= 0; i--) this._cancel(roots[i] as Task<unknown>);
  }

  // --------------------------------------------------------------- driving

  /** One step of the next runnable task; false if none was runnable. */
  tick(): boolean {
    return this.#driver.tick();
  }

  /** Like tick(), but throws an Error if no task is runnable. */
  doNextTask(): void {
    if (!this.tick()) {
      const waiting = this.#live === 0 ? "no task is left" : `${this.#live} tasks are waiting`;
      throw new Error(`doNextTask(): no task is runnable (${waiting})`);
    }
  }

  /**
   * Steps until `seconds` of real time are spent or nothing is runnable;
   * returns the number of steps taken. It reads the host clock between
   * batches of steps sized to a quarter of the budget left, so the budget
   * is overrun by at most about one slow step.
   */
  tickFor(seconds: number): number {
    return this.#driver.tickFor(seconds);
  }

  /**
   * Runs until no task is left, synchronously. While nothing is runnable
   * but tasks sleep, it waits for the earliest timer without spinning (with
   * a VirtualClock it jumps the clock instead). If the tasks left wait on
   * things only the event loop can deliver, it throws WouldBlockError.
   */
  work(): void {
    this.#driver.work();
  }

  /**
   * Runs until no task is left, alongside the event loop: it steps in
   * slices of about a millisecond, lets the event loop in between, sleeps
   * on one host timer for the earliest deadline, and wakes when a promise or
   * I/O wakes a task. With a VirtualClock, idle time is skipped. If the
   * tasks left wait on each other (a deadlock: nothing runnable, no timer,
   * and the host's event loop out of work), it rejects with WouldBlockError
   * naming them, and leaves them as they are (Node hosts: see host-exit.ts).
   */
  run(): Promise<void> {
    return this.#driver.run();
  }

  /**
   * Runs `callback`, code from outside the worker that spawns or wakes
   * tasks (an I/O handler, say), and, if that woke an idle `run()`, steps
   * the tasks it made runnable before returning, instead of in a
   * microtask: an HTTP request is answered in the same turn it was read.
   * Returns what the callback returned, and throws what it threw (after
   * the step). When no `run()` is idle, or inside a step, it only calls the
   * callback. Call it where running task code is safe: at the top of a
   * host callback, not halfway through updating shared state.
   *
   * @example
   * // A task per request, its first step taken inside node:http's callback:
   * httpServer.on("request", (req, res) => worker.deliver(() => serverTask.spawn(handle(req, res))));
   */
  deliver<T>(callback: () => T): T {
    return this.#driver.deliver(callback);
  }

  // --------------------------------------------------------- introspection

  /** Each live task, its state, what it waits on, and its call stack; children indented under parents. */
  dump(): string {
    return dumpWorker(this);
  }

  /** A task's state and what it waits on, in words: "waiting on sleep until 3.000". */
  describeState(task: Task<unknown>): string {
    return describeState(task);
  }

  /** @internal Live tasks. */
  _live(): number {
    return this.#live;
  }

  /** @internal Tasks in the run queue. */
  _runnable(): number {
    return this.#runQueue.size;
  }

  /** @internal Tasks parked with a timer. */
  _sleeping(): number {
    return this.#timers.size;
  }

  /** @internal The earliest timer's deadline (only while some task sleeps). */
  _nextDeadline(): number {
    return this.#timers.nextDeadline();
  }

  /** @internal Live top-level tasks, oldest first. */
  _topLevel(): Task<unknown>[] {
    return byAge(this.#roots);
  }

  // ------------------------------------------------------------- internals

  /** @internal One step; false when no task was runnable. Never throws (see #internalError). */
  _step(): boolean {
    if (this.#timers.size !== 0 && --this.#timerPollCountdown <= 0) this._expireTimers();
    let task = this.#runQueue.shift();
    if (task === undefined) {
      if (this.#timers.size === 0) return false;
      this._expireTimers();
      task = this.#runQueue.shift();
      if (task === undefined) return false;
    }
    this.counters.steps++;
    this._stepped = task;
    const generator = task._top as Generator<unknown, unknown, unknown>;
    const mode = task._mode;
    const input = task._input;
    task._mode = NEXT;
    task._input = undefined;
    task._waitingOn = null;
    const outer = this._current;
    this._current = task;
    let done: boolean | undefined;
    let value: unknown;
    try {
      const result =
        mode === NEXT ? generator.next(input) : resumeOther(generator, mode, input, task);
      // Read inside the try: a hand-made iterator's result may be no object, or have a getter that
      // throws; as with native yield*, that error is the frame's. (Telling the two apart with a flag
      // or a second try costs ~30 instructions a step: npm run bench:instructions.)
      done = result.done;
      value = result.value;
    } catch (error) {
      this._current = outer;
      this.#frameThrew(task, error);
      return true;
    }
    this._current = outer;
    if (done === true) this.#frameReturned(task, value);
    else if (task._flags & INTERRUPTED) this.#interruptAtYield(task, value);
    else if (value == null) this.#reschedule(task, NEXT, undefined);
    else this.#dispatch(task, value);
    return true;
  }

  /**
   * The only way onto the run queue: `task` takes its next step with the
   * resume `mode` (NEXT, THROW, RETURN or CLAIMED) and `input`. Its state
   * is RUNNABLE and it is in no other queue.
   */
  #reschedule(task: Task<unknown>, mode: number, input: unknown): void {
    task._mode = mode;
    task._input = input;
    this.#runQueue.push(task);
  }

  /**
   * @internal An error escaped a step, whose loop never throws by design
   * (user code is always caught): a bug in clockwork, or a clock whose
   * now() threw. A task may now be in no queue, so the worker is disabled,
   * loudly: the driving call and every later one throw an error that says
   * so, with the escaped error as its cause.
   */
  _internalError(error: unknown): Error {
    if (this.#broken === null) {
      this.#broken = new Error(
        "clockwork: an error escaped the worker's loop, which never throws by design (a bug in " +
          "clockwork, or a clock that threw), so this worker is disabled and its tasks are left " +
          `as they are: ${describeError(error)}`,
        { cause: error },
      );
    }
    return this.#broken;
  }

  /** @internal Throws if the worker was disabled by an internal error. */
  _checkBroken(): void {
    if (this.#broken !== null) throw this.#broken;
  }

  /** @internal Resumes a task parked on `wait` (see Wait.wake). */
  _wake(task: Task<unknown>, wait: unknown, isError: boolean, value: unknown): boolean {
    if (task._waitingOn !== wait || task._state !== WAITING) return false;
    task._state = RUNNABLE;
    // A CLAIM's value is taken only as the task runs: the step asks the wait (kept in _input) for it.
    if (value === CLAIM) this.#reschedule(task, CLAIMED, wait);
    else this.#reschedule(task, isError ? THROW : NEXT, value);
    if (this.#driver.idle) this.#driver.kick();
    return true;
  }

  /** @internal Creates a child task (spawn). */
  _spawn<R>(
    parent: Task<unknown>,
    routine: Generator<unknown, R, any>,
    options: SpawnOptions | undefined,
  ): Task<R> {
    checkRoutine("spawn()", routine);
    const name = checkName("spawn()", options);
    const detached = options?.detached === true;
    const task = this.#createTask(routine, detached ? null : parent, name);
    if (detached) task._extraFields().creator = parent; // its Context lookups continue there
    if (task._parent !== null && parent._flags & CANCELLING) {
      // A child its own cleanup starts belongs to the cleanup (and ends with it at the latest);
      // one handed to a task being cancelled from outside (task.spawn) is cancelled at once.
      const byCleanup = parent === running.task && parent._flags & UNWINDING;
      if (!byCleanup) this._cancel(task);
    } else if (task._parent !== null && parent._extra?.teardown != null) {
      this._cancel(task); // its siblings are being torn down
    }
    return task;
  }

  /** @internal An error nobody handles: to onError, else thrown by the driving call. */
  _report(error: unknown, task: Task<unknown>): void {
    if (this.#onError === undefined) {
      this.#driver.fail(error);
      return;
    }
    try {
      this.#onError(error, task);
    } catch (thrown) {
      this.#driver.fail(thrown);
    }
  }

  /**
   * @internal A pseudo-random whole number from 0 to n - 1, for the choices
   * a program must not depend on (which of several ready cases a select
   * takes, the order race members start in). Seeded the same in every
   * worker, so that a program's runs repeat exactly.
   */
  _random(n: number, label: string): number {
    let x = this.#seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#seed = x;
    const plain = (x & 0x7fffffff) % n; // a small integer: no floating-point modulo
    if (this.#schedule === undefined) return plain;
    // Under a schedule, choice 0 is what the plain worker would take.
    const task = running.task as Task<unknown>;
    const report = (error: unknown) => this._report(error, task);
    return (plain + chooseChecked(this.#schedule, n, label, report)) % n;
  }

  /** @internal What `sim()` gives a routine of this worker: null unless it has a schedule. */
  _sim(): SimEnv | null {
    const schedule = this.#schedule;
    if (schedule === undefined) return null;
    if (this.#simEnv === null) {
      const choose = (options: number, label: string): number => {
        const task = running.task;
        const report = (error: unknown) => {
          if (task === undefined) throw error;
          this._report(error, task);
        };
        return chooseChecked(schedule, options, label, report);
      };
      this.#simEnv = {
        fault: (label: string): boolean => {
          checkChoice("sim().fault()", 2, label);
          return choose(2, `fault ${label}`) === 1;
        },
        choose: (options: number, label: string): number => {
          checkChoice("sim().choose()", options, label);
          return choose(options, label);
        },
      };
    }
    return this.#simEnv;
  }

  /** @internal Adds a timer for a parked task. */
  _addTimer(entry: TimerEntry<Task<unknown>>): void {
    this.#timers.add(entry);
  }

  /** @internal Drops the timer of a task that stopped waiting. */
  _cancelTimer(entry: TimerEntry<Task<unknown>>): void {
    this.#timers.cancel(entry);
  }

  /** @internal Wakes the tasks whose timers are due (their waits wake them). */
  _expireTimers(): void {
    this.#timerPollCountdown = this.#timerPollSteps;
    this.#timers.expire(this.clock.now());
  }

  /**
   * @internal Cancels a task and its children. The tree is marked first;
   * then each task, children before parents, is released from what it waits
   * on and starts unwinding, or (when it has live children) waits for them.
   */
  _cancel(task: Task<unknown>): void {
    if (task._state >= DONE || task._flags & CANCELLING) return;
    const extra = task._extra;
    if (extra !== null && extra.shield > 0) {
      task._flags |= CANCEL_PENDING; // _shieldEnded() cancels it
      return;
    }
    task._flags = (task._flags | CANCELLING) & ~CANCEL_PENDING;
    this.#beginCancel(task);
    if (this.#driver.idle) this.#driver.kick();
  }

  /** @internal Makes a child task a resource of its parent (see resource.ts). */
  _markResource(task: Task<unknown>): void {
    const parent = task._parent;
    if (parent === null || task._flags & RESOURCE) return;
    task._flags |= RESOURCE;
    parent._extraFields().resources++;
  }

  /** @internal The last shield() frame of a task has ended: a cancel that waited for it comes now. */
  _shieldEnded(task: Task<unknown>): void {
    if (task._flags & CANCEL_PENDING) this._cancel(task);
  }

  /** @internal A cleanup (a `finally` run by cancel) threw: the task will fail with the first such error. */
  _cleanupFailed(task: Task<unknown>, error: unknown): void {
    if (task._flags & CLEANUP_FAILED) {
      this._report(error, task);
      return;
    }
    task._flags |= CLEANUP_FAILED;
    task._extraFields().cleanupError = error;
  }

  // ------------------------------------------------------ step outcomes

  /**
   * The step ended with `yield value` (not null). Looking at the value runs
   * user code (getters, Proxy traps) that may throw: then the value is
   * refused like any bad yield, at the yield (nothing about the task had
   * changed yet), and the loop goes on.
   */
  #dispatch(task: Task<unknown>, value: unknown): void {
    try {
      this.#dispatchValue(task, value);
    } catch (error) {
      const refusal = new TypeError(badYieldMessage(task, value, { error }), { cause: error });
      this.#reschedule(task, THROW, refusal);
    }
  }

  /** Call, park (a wait, a task to join, a promise), or refuse a yielded value. */
  #dispatchValue(task: Task<unknown>, value: unknown): void {
    if (typeof value === "object" && value !== null) {
      if (value === UNWIND) {
        // A cleanup reached through yield* has ended: the frame's return() goes on.
        this.#reschedule(task, RETURN, undefined);
        return;
      }
      // Waits first: a sleep is also a generator, but yielding it parks.
      if (value instanceof Wait) {
        this.#park(task, value);
        return;
      }
      if (value instanceof Task) {
        this.#join(task, value);
        return;
      }
      if (isGenerator(value)) {
        // Call: push the generator; it starts on this task's next step.
        const top = task._top as Generator<unknown, unknown, unknown>;
        if (task._callers === null) task._callers = [top];
        else task._callers.push(top);
        task._top = value as Generator<unknown, unknown, unknown>;
        this.#reschedule(task, NEXT, undefined);
        return;
      }
      if (typeof (value as { then?: unknown }).then === "function") {
        if (this.#schedule !== undefined) {
          discard(value);
          const refusal = new TypeError(
            `${task.label()} waits on a promise under a schedule: a promise settles outside the ` +
              "simulation, which can neither order nor replay it. Simulate what it stands for " +
              "(a sleep, a channel, sim().choose() for its result) instead",
          );
          this.#reschedule(task, THROW, refusal);
          return;
        }
        this.#park(task, new PromiseWait(value as PromiseLike<unknown>));
        return;
      }
    }
    this.#reschedule(task, THROW, new TypeError(badYieldMessage(task, value)));
  }

  #park(task: Task<unknown>, wait: Wait<unknown>): void {
    task._state = WAITING;
    task._waitingOn = wait;
    try {
      wait.park(task);
    } catch (error) {
      if (task._state === WAITING && task._waitingOn === wait) {
        // The wait failed at once: like a wake with an error (so a cancel drops it, as it would a wake's).
        task._state = RUNNABLE;
        this.#reschedule(task, THROW, error);
      } else {
        this._report(error, task);
      }
    }
  }

  /** `yield target`: parks on its join, or, when it has ended, re-reads its outcome (see join.ts). */
  #join(task: Task<unknown>, target: Task<unknown>): void {
    if (target._state < DONE) {
      this.#park(task, target._joinWait());
      return;
    }
    // A re-read (most joins of a task spawned earlier): no outcome object is made.
    task._waitingOn = ENDED;
    if (target._state === DONE) this.#reschedule(task, NEXT, target._input);
    else this.#reschedule(task, THROW, target._endError());
  }

  /** The top generator returned `value`: pop it; the caller resumes with the value next step. */
  #frameReturned(task: Task<unknown>, value: unknown): void {
    const callers = task._callers;
    if (callers === null || callers.length === 0) {
      this.#bodyEnded(task, DONE, value);
      return;
    }
    task._top = callers.pop() as Generator<unknown, unknown, unknown>;
    if (task._flags & (INTERRUPTED | UNWINDING)) this.#afterPop(task, NEXT, value);
    else this.#reschedule(task, NEXT, value);
  }

  /** The top generator threw: pop it; the error is thrown into the caller next step. */
  #frameThrew(task: Task<unknown>, error: unknown): void {
    noteRoutineStack(error, task);
    const callers = task._callers;
    if (callers === null || callers.length === 0) {
      this.#bodyEnded(task, FAILED, error);
      return;
    }
    task._top = callers.pop() as Generator<unknown, unknown, unknown>;
    if (task._flags & (INTERRUPTED | UNWINDING)) this.#afterPop(task, THROW, error);
    else this.#reschedule(task, THROW, error);
  }

  /** A frame was popped from a task that is unwinding or has an interrupt pending. */
  #afterPop(task: Task<unknown>, mode: number, value: unknown): void {
    const index = (task._callers as unknown[]).length;
    const extra = task._extra;
    if (task._flags & UNWINDING && extra !== null && index < extra.unwindFrom) {
      // The caller was on the stack when the cancel came: return() it too.
      if (mode === THROW) this._cleanupFailed(task, value);
      extra.unwindFrom = index;
      task._mode = RETURN;
      task._input = undefined;
    } else {
      task._mode = mode;
      task._input = value;
    }
    if (task._flags & INTERRUPTED && !this.#applyInterrupt(task)) return;
    this.#reschedule(task, task._mode, task._input);
  }

  /** The step ended at a yield while a cancel or a child's error was pending: apply it there instead. */
  #interruptAtYield(task: Task<unknown>, yielded: unknown): void {
    if (yielded === UNWIND)
      task._mode = RETURN; // the return() comes first
    else discard(yielded);
    if (this.#applyInterrupt(task)) this.#reschedule(task, task._mode, task._input);
  }

  /**
   * Applies a pending interrupt to a task between steps (not parked), by
   * setting its next resume. Returns whether the task should be queued
   * (false: it now waits for its children before unwinding).
   */
  #applyInterrupt(task: Task<unknown>): boolean {
    task._flags &= ~INTERRUPTED;
    if (task._flags & CANCELLING) {
      if (task._flags & UNWINDING) return true;
      this.#dropNextResume(task);
      if (task._hasChildren()) {
        task._state = WAITING;
        task._waitingOn = CHILDREN;
        this.#tearDown(task);
        return false;
      }
      markUnwinding(task);
      task._mode = RETURN;
      task._input = undefined;
      return true;
    }
    const pending = task._extra?.pendingErrors;
    if (pending == null || pending.length === 0) return true;
    if (task._waitingOn !== null || task._mode !== NEXT) {
      // It has an outcome to take first (a woken value, an error): the child's error comes at its next yield.
      task._flags |= INTERRUPTED;
      return true;
    }
    task._mode = THROW;
    task._input = pending.shift();
    if (pending.length > 0) task._flags |= INTERRUPTED;
    return true;
  }

  /** The task's call stack is empty: it ends now, or waits for its children. */
  #bodyEnded(task: Task<unknown>, kind: number, value: unknown): void {
    task._top = null;
    task._callers = null;
    const flags = task._flags;
    task._flags = (flags | BODY_ENDED) & ~(UNWINDING | INTERRUPTED);
    let end = kind;
    let outcome = value;
    if (flags & CANCELLING) {
      if (kind === FAILED) this._cleanupFailed(task, value);
      end = task._flags & CLEANUP_FAILED ? FAILED : CANCELLED;
      outcome = end === FAILED ? task._extra?.cleanupError : undefined;
    }
    const pending = task._extra?.pendingErrors;
    if (pending != null && pending.length > 0) {
      // Children's errors that never reached the body.
      if (end === DONE) {
        end = FAILED;
        outcome = pending.shift();
      }
      for (const error of pending.splice(0)) this._report(error, task);
    }
    task._mode = NEXT;
    task._input = outcome;
    const observer = task._extra?.observer;
    if (observer != null) observer._bodyEnded(task, end);
    if (task._hasChildren()) {
      const extra = task._extra as TaskExtra;
      extra.end = end;
      task._state = WAITING;
      task._waitingOn = CHILDREN;
      if (end !== DONE || onlyResourcesLeft(task)) this.#tearDown(task);
      return;
    }
    this.#finalize(task, end);
  }

  /**
   * Ends a task whose body ended and whose children have ended, in the
   * state `end`. Then wakes its joiners, settles its promise, hands an
   * unhandled error on, and ends its parent too if the parent was only
   * waiting for it (a loop, not recursion, so deep trees are fine).
   */
  #finalize(first: Task<unknown>, firstEnd: number): void {
    let task: Task<unknown> | null = first;
    let end = firstEnd;
    while (task !== null) {
      task._state = end;
      task._waitingOn = null;
      this.#unlink(task);
      this.counters.tasksFinished++;
      const parent: Task<unknown> | null = task._parent;
      if (task._flags & RESOURCE && parent !== null) (parent._extra as TaskExtra).resources--;

      const extra = task._extra;
      if (extra !== null) {
        if (extra.controller !== null && end === CANCELLED && !extra.controller.signal.aborted) {
          extra.controller.abort(task._cancelledError());
        }
        if (extra.join?._targetEnded()) task._flags |= HANDLED; // a joiner has its error
        if (extra.deferred !== null) {
          if (end === FAILED) task._flags |= HANDLED;
          task._settleDeferred();
        }
        if (extra.observer?._taskEnded(task) && end === FAILED) {
          task._flags |= HANDLED; // the observer hands it on or reports it
        }
        const onEnd = extra.onEnd;
        if (onEnd !== null) {
          extra.onEnd = null;
          for (const callback of onEnd) {
            try {
              callback();
            } catch (error) {
              this._report(error, task);
            }
          }
        }
      }
      if (task === this.#main) {
        task._flags |= HANDLED; // its outcome is for the caller of wrap() or run()
        this.cancelAll();
      }
      if (end === FAILED && !(task._flags & HANDLED)) this.#propagate(task);
      task = null;
      if (parent !== null && parent._extra?.teardown != null) this.#tearDownNext(parent);
      else if (parent !== null && parent._flags & BODY_ENDED && onlyResourcesLeft(parent)) {
        this.#tearDown(parent); // its routine has ended and only its resources are left: they close
      }
      if (parent !== null && !parent._hasChildren() && parent._waitingOn === CHILDREN) {
        if (parent._flags & BODY_ENDED) {
          task = parent;
          end = (parent._extra as TaskExtra).end;
        } else {
          // A cancelled parent waited for its children before unwinding.
          parent._state = RUNNABLE;
          parent._waitingOn = null;
          markUnwinding(parent);
          this.#reschedule(parent, RETURN, undefined);
        }
      }
    }
    if (this.#live === 0 && this.#schedule?.end !== undefined) this.#scheduleEnded(first);
  }

  /** The last task has ended under a schedule with end(): it is told (a replay checks its choices were all used). */
  #scheduleEnded(last: Task<unknown>): void {
    try {
      this.#schedule?.end?.();
    } catch (error) {
      this._report(error, last);
    }
  }

  /** A task failed and nobody joined it: its parent gets the error, else the worker reports it. */
  #propagate(task: Task<unknown>): void {
    const error = task._input;
    const parent = task._parent;
    task._flags |= HANDLED;
    if (parent === null || parent._state >= DONE || parent._flags & CANCELLING) {
      this._report(error, task);
      return;
    }
    if (parent._flags & BODY_ENDED) {
      // Its routine has returned, so it cannot catch: it fails, and its other children are cancelled.
      const extra = parent._extra as TaskExtra;
      if (extra.end !== DONE) {
        this._report(error, task);
        return;
      }
      extra.end = FAILED;
      parent._input = error;
      this.#tearDown(parent);
      return;
    }
    // Thrown into the parent at its current yield.
    if (
      parent === running.task ||
      (parent._state === RUNNABLE &&
        ((parent._waitingOn !== null && parent._waitingOn !== ENDED) || parent._mode !== NEXT))
    ) {
      const extra = parent._extraFields();
      if (extra.pendingErrors === null) extra.pendingErrors = [error];
      else extra.pendingErrors.push(error);
      parent._flags |= INTERRUPTED;
      return;
    }
    if (parent._state === WAITING) {
      this.#releaseParked(parent);
      parent._state = RUNNABLE;
      this.#reschedule(parent, THROW, error);
      return;
    }
    // Queued with nothing owed (a plain resume, a re-read): the error replaces that.
    parent._waitingOn = null;
    parent._mode = THROW;
    parent._input = error;
  }

  /**
   * Starts cancelling one task (just marked CANCELLING): it is released from
   * what it waits on and unwinds, or, when it has live children, waits while
   * they are torn down first (#tearDown).
   */
  #beginCancel(task: Task<unknown>): void {
    task._flags &= ~INTERRUPTED; // set again below if it is stepping now
    const extra = task._extra;
    if (extra !== null) {
      if (extra.controller !== null && !extra.controller.signal.aborted) {
        extra.controller.abort(task._cancelledError());
      }
      if (extra.pendingErrors !== null)
        for (const error of extra.pendingErrors.splice(0)) this._report(error, task);
    }
    if (task._flags & BODY_ENDED) {
      // Its routine has returned; it only waits for its children: they go now.
      const ended = extra as TaskExtra;
      if (ended.end === DONE) ended.end = CANCELLED;
      this.#tearDown(task);
      return;
    }
    if (task === running.task) {
      task._flags |= INTERRUPTED;
      return;
    }
    const hasChildren = task._hasChildren();
    if (task._state === WAITING) {
      this.#releaseParked(task);
      if (hasChildren) {
        task._waitingOn = CHILDREN;
        this.#tearDown(task);
        return;
      }
      task._state = RUNNABLE;
      markUnwinding(task);
      this.#reschedule(task, RETURN, undefined);
      return;
    }
    // Queued.
    this.#dropNextResume(task);
    if (hasChildren) {
      this.#runQueue.remove(task);
      task._state = WAITING;
      task._waitingOn = CHILDREN;
      this.#tearDown(task);
      return;
    }
    // Still queued: its next resume becomes the unwind.
    markUnwinding(task);
    task._mode = RETURN;
    task._input = undefined;
  }

  /**
   * Tears a task's children down, last in first out: the youngest is
   * cancelled, and the next only once it has ended (#finalize calls
   * #tearDownNext), so a child started after another (a server after the
   * pool it uses) is gone before it. The task waits on CHILDREN meanwhile.
   */
  #tearDown(task: Task<unknown>): void {
    const extra = task._extraFields();
    if (extra.teardown !== null) return;
    const children = extra.children as Task<unknown>[];
    extra.teardown = children.length === 1 ? [children[0] as Task<unknown>] : byAge(children); // oldest first
    this.#tearDownNext(task);
  }

  /** Cancels the youngest child left (a shielded one's cancel waits); stops when none is left. */
  #tearDownNext(task: Task<unknown>): void {
    const extra = task._extra as NonNullable<Task<unknown>["_extra"]>;
    const left = extra.teardown as Task<unknown>[];
    for (let child = left.at(-1); child !== undefined; child = left.at(-1)) {
      if (child._state < DONE) {
        this._cancel(child); // it may be cancelling already: it is waited for all the same
        return;
      }
      left.pop();
    }
    extra.teardown = null;
  }

  /** A parked task stops waiting without a wake: undo its registration. */
  #releaseParked(task: Task<unknown>): void {
    const on = task._waitingOn;
    task._waitingOn = null;
    this.#release(task, on, undefined);
  }

  /**
   * A task that is about to unwind will never take its next resume: the
   * outcome it was woken with goes back to its wait (a permit is released
   * again; a value promised by a channel goes to the next receiver), and
   * an error on its way from a routine is reported rather than lost.
   */
  #dropNextResume(task: Task<unknown>): void {
    const on = task._waitingOn;
    if (on === null) {
      if (task._mode === THROW) this._report(task._input, task);
      return;
    }
    task._waitingOn = null;
    const mode = task._mode;
    const outcome: Outcome =
      mode === THROW
        ? { ok: false, error: task._input }
        : { ok: true, value: mode === CLAIMED ? CLAIM : task._input };
    this.#release(task, on, outcome);
  }

  #release(task: Task<unknown>, on: Wait<unknown> | null, outcome: Outcome | undefined): void {
    if (on === null) return;
    try {
      on.release(task, outcome);
    } catch (error) {
      this._report(error, task);
    }
  }

  // --------------------------------------------------------------- helpers

  #createTask<R>(
    routine: Generator<unknown, R, any>,
    parent: Task<unknown> | null,
    name: string | undefined,
  ): Task<R> {
    const task = new Task<R>(this, this.#nextId++, routine, parent, name);
    let siblings = this.#roots;
    if (parent !== null) {
      const extra = parent._extraFields();
      if (extra.children === null) extra.children = [];
      siblings = extra.children;
    }
    task._slot = siblings.length;
    siblings.push(task);
    this.#live++;
    this.counters.tasksCreated++;
    this.#reschedule(task, NEXT, undefined);
    if (this.#driver.idle) this.#driver.kick();
    return task;
  }

  #unlink(task: Task<unknown>): void {
    const siblings =
      task._parent === null ? this.#roots : (task._parent._extra?.children as Task<unknown>[]);
    const last = siblings.pop() as Task<unknown>;
    if (last !== task) {
      siblings[task._slot] = last;
      last._slot = task._slot;
    }
    this.#live--;
  }
}

/**
 * A resume other than next(value): throw, return, or next with the value
 * its wait gives now (CLAIMED). Out of `_step`, whose bytecode must stay
 * under V8's limit (460 bytes) for inlining it into the driving loops.
 */
function resumeOther(
  generator: Generator<unknown, unknown, unknown>,
  mode: number,
  input: unknown,
  task: Task<unknown>,
): IteratorResult<unknown, unknown> {
  if (mode === THROW) return generator.throw(input);
  if (mode === RETURN) return generator.return(input);
  return generator.next((input as Wait<unknown>).claim(task)); // CLAIMED: taken as it runs
}

/** Whether a task has live children and all of them are resources. */
function onlyResourcesLeft(task: Task<unknown>): boolean {
  const extra = task._extra;
  return extra !== null && extra.resources > 0 && extra.children?.length === extra.resources;
}

/** Marks the task's stack for unwinding: its top frame gets return() on its next step. */
function markUnwinding(task: Task<unknown>): void {
  task._flags |= UNWINDING;
  task._extraFields().unwindFrom = task._callers === null ? 0 : task._callers.length;
}

/** A yielded value the task will never wait for: keep a rejected promise from being reported as unhandled. */
function discard(value: unknown): void {
  try {
    if (typeof value === "object" && value !== null && !(value instanceof Wait)) {
      const then = (value as { then?: unknown }).then;
      if (typeof then === "function") then.call(value, undefined, () => {});
    }
  } catch {
    // A getter, a Proxy trap or the then() itself threw: nobody waits for this value anyway.
  }
}

/** The worker the shapes of hot objects are parked on for good (see shapes.ts), made on first use. */
let shapeKeeper: Worker | undefined;
setShapeKeeper((make) => {
  shapeKeeper ??= new Worker({ clock: new VirtualClock(0.25) });
  shapeKeeper.assign(make());
  while (shapeKeeper.tick()) {
    // park it; it is never woken
  }
});
