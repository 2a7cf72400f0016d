/**
 * The drivers: the four ways a host makes a worker take steps (`tick`,
 * `tickFor`, `work`, `run` with `deliver`), with everything they need from
 * the host (its clock, its timers, its event loop). The worker's kernel
 * (worker.ts) knows nothing of them but two things: whether an idle run()
 * waits for a wake (`idle`, then `kick()`), and that an error nobody
 * handles goes to `fail()`, to be thrown by the driving call.
 *
 * One driver belongs to one worker, for its whole life; the `Worker`
 * methods of the same names forward here.
 */
import { checkSeconds, hostNow, VirtualClock } from "./clock.ts";
import { describeValue } from "./describe.ts";
import { type ExitCheck, unwatchExit, watchExit } from "./host-exit.ts";
import { wouldBlockError } from "./report.ts";
import { running, type Task } from "./task.ts";
import type { SlowStep, Worker } from "./worker.ts";

/** How long run() steps before it lets the event loop in, in milliseconds. */
const RUN_SLICE_MS = 1;

/** @internal Drives one worker's steps from the host. */
export class Driver {
  /** @internal True while run() is idle, waiting for a wake, a cancel, an error or its timer. */
  idle = false;
  readonly #worker: Worker;
  /** Whether driving calls time each step (profile, or the slow-step alarm). */
  readonly #profile: boolean;
  /** The slow-step alarm's threshold in milliseconds; Infinity when it is off. */
  readonly #slowStepMs: number;
  /** Receives slow steps. */
  readonly #onSlowStep: (report: SlowStep) => void;
  /** Unhandled errors waiting to be thrown by a driving call (when there is no onError). */
  readonly #errors: unknown[] = [];
  /** Set while an error of the driving call's own (a task's, a WouldBlockError) is on its way out. */
  #ownError = false;
  /** The driving call in progress (tick, work, run ...), or null. */
  #driving: string | null = null;
  /** True while deliver() runs its callback: a wake is noted in #delivered instead of queued. */
  #delivering = false;
  /** Set when deliver()'s callback woke an idle run(). */
  #delivered = false;
  /** run()'s host timer for the earliest deadline while it is idle. */
  #idleTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** Settles the promise of the run() in progress. */
  #runSettle: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  /** run()'s callbacks, made once: a wake must not cost an allocation. */
  readonly #runResume: () => void;
  readonly #runNextSlice: () => void;
  readonly #runTimeJump: () => void;
  readonly #runTimerDue: () => void;
  readonly #runTurnDue: () => void;
  /** Asked by the host when its event loop has run out of work (see host-exit.ts). */
  readonly #runExitCheck: ExitCheck;
  /** The step count when the event loop was seen empty while run() idled with no timer; -1: not seen. */
  #exitSteps = -1;

  constructor(
    worker: Worker,
    profile: boolean,
    slowStep: number | undefined,
    onSlowStep: ((report: SlowStep) => void) | undefined,
  ) {
    this.#worker = worker;
    this.#profile = profile || slowStep !== undefined;
    this.#slowStepMs = slowStep === undefined ? Number.POSITIVE_INFINITY : slowStep * 1000;
    this.#onSlowStep = onSlowStep ?? ((report) => console.warn(`clockwork: ${report.message}`));
    this.#runResume = () => {
      if (worker._sleeping() !== 0) worker._expireTimers();
      this.#runSlice();
    };
    this.#runNextSlice = () => this.#runSlice();
    this.#runTimeJump = () => {
      // Callbacks that were already due (settled promises, I/O) had their turn: now time jumps.
      if (worker._runnable() === 0 && worker._sleeping() !== 0) {
        (worker.clock as VirtualClock).advanceTo(worker._nextDeadline());
        worker._expireTimers();
      }
      this.#runSlice();
    };
    this.#runTimerDue = () => {
      this.#idleTimer = undefined;
      if (this.idle) this.kick();
    };
    this.#runTurnDue = () => {
      if (this.idle) this.kick();
    };
    this.#runExitCheck = () => {
      const steps = worker.counters.steps;
      const stuck = this.idle && this.#idleTimer === undefined && worker._sleeping() === 0;
      if (!stuck || this.#exitSteps !== steps) {
        // Not stuck, or stuck since the last look only: look again after another turn.
        this.#exitSteps = stuck ? steps : -1;
        return stuck;
      }
      this.#runEnd(wouldBlockError(worker, "run()"), true);
      return false;
    };
  }

  /** An error nobody handles and no onError takes: the driving call throws it. */
  fail(error: unknown): void {
    this.#errors.push(error);
    if (this.idle) this.kick(); // so that an idle run() rejects now
  }

  tick(): boolean {
    this.#enter("tick()");
    const outer = running.worker;
    running.worker = this.#worker;
    try {
      const stepped = this.#profile ? this.#timedStep() : this.#worker._step();
      this.#throwPending();
      return stepped;
    } catch (error) {
      throw this.#escaped(error);
    } finally {
      running.worker = outer;
      this.#driving = null;
    }
  }

  tickFor(seconds: number): number {
    checkSeconds("tickFor()", seconds);
    this.#enter("tickFor()");
    const outer = running.worker;
    running.worker = this.#worker;
    try {
      return this.#stepFor(seconds * 1000);
    } catch (error) {
      throw this.#escaped(error);
    } finally {
      running.worker = outer;
      this.#driving = null;
    }
  }

  work(): void {
    this.#enter("work()");
    const worker = this.#worker;
    const outer = running.worker;
    running.worker = worker;
    try {
      for (;;) {
        if (this.#profile) {
          while (this.#timedStep()) if (this.#errors.length !== 0) this.#throwPending();
        } else {
          while (worker._step()) if (this.#errors.length !== 0) this.#throwPending();
        }
        this.#throwPending();
        if (worker._live() === 0) return;
        if (worker._sleeping() === 0) this.#throwOwn(wouldBlockError(worker, "work()"));
        const deadline = worker._nextDeadline();
        const clock = worker.clock;
        if (clock instanceof VirtualClock) clock.advanceTo(deadline);
        else sleepSync(deadline - clock.now());
        worker._expireTimers();
      }
    } catch (error) {
      throw this.#escaped(error);
    } finally {
      running.worker = outer;
      this.#driving = null;
    }
  }

  run(): Promise<void> {
    try {
      this.#enter("run()");
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      this.#runSettle = { resolve, reject };
      watchExit(this.#runExitCheck);
      this.#runSlice();
    });
  }

  deliver<T>(callback: () => T): T {
    if (typeof callback !== "function") {
      throw new TypeError(`deliver() expects a function, got ${describeValue(callback)}`);
    }
    if (!this.idle || this.#delivering || running.task !== undefined) return callback();
    this.#delivering = true;
    try {
      return callback();
    } finally {
      this.#delivering = false;
      if (this.#delivered) {
        this.#delivered = false;
        this.#runResume();
      }
    }
  }

  /** Wakes an idle run(): its next slice comes in a microtask (or at the end of deliver()). */
  kick(): void {
    this.idle = false;
    if (this.#idleTimer !== undefined) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
    if (this.#delivering) {
      this.#delivered = true;
      return;
    }
    // A promise reaction rather than queueMicrotask(), which Node wraps in an async resource.
    void settled.then(this.#runResume);
  }

  /** Steps for up to `budgetMs` of host time; returns the steps taken. */
  #stepFor(budgetMs: number): number {
    const worker = this.#worker;
    const start = hostNow();
    const end = start + budgetMs;
    let steps = 0;
    let batch = 1;
    for (;;) {
      for (let i = 0; i < batch; i++) {
        if (!(this.#profile ? this.#timedStep() : worker._step())) {
          this.#throwPending();
          return steps + i;
        }
        if (this.#errors.length !== 0) {
          this.#throwPending();
        }
      }
      steps += batch;
      const now = hostNow();
      if (now >= end) return steps;
      const perStep = (now - start) / steps;
      batch = Math.max(1, Math.min(batch * 2, Math.floor((end - now) / (4 * perStep))));
    }
  }

  #timedStep(): boolean {
    const worker = this.#worker;
    const start = hostNow();
    const stepped = worker._step();
    const ms = hostNow() - start;
    const seconds = ms / 1000;
    if (stepped && seconds > worker.counters.longestStep) worker.counters.longestStep = seconds;
    if (stepped && ms > this.#slowStepMs) this.#slowStep(seconds);
    return stepped;
  }

  /** The slow-step alarm: reports the step that just took `seconds`. */
  #slowStep(seconds: number): void {
    const task = this.#worker._stepped as Task<unknown>;
    const stack = task.stack;
    const where = stack.length > 0 ? `, at ${stack.join(" > ")}` : ` (its routine had ended)`;
    const message =
      `a step of ${task.label()} took ${seconds.toFixed(3)} s ` +
      `(over ${(this.#slowStepMs / 1000).toFixed(3)} s; every other task waited)${where}`;
    try {
      this.#onSlowStep({ task, seconds, stack, message });
    } catch (error) {
      this.#worker._report(error, task);
    }
  }

  #enter(call: string): void {
    this.#worker._checkBroken();
    if (this.#driving !== null) {
      throw new Error(
        `${call} called while ${this.#driving} is driving this worker` +
          (running.task?._worker === this.#worker
            ? ` (from inside a step of ${running.task.label()})`
            : ""),
      );
    }
    this.#driving = call;
  }

  #throwPending(): void {
    if (this.#errors.length !== 0) this.#throwOwn(this.#errors.shift());
  }

  /** Throws an error the driving call is meant to throw (a task's, a WouldBlockError). */
  #throwOwn(error: unknown): never {
    this.#ownError = true;
    throw error;
  }

  /**
   * An error that left a driving loop: the driving call's own goes on;
   * anything else escaped the kernel's step, whose loop never throws, and
   * disables the worker (see Worker._internalError).
   */
  #escaped(error: unknown): unknown {
    if (this.#ownError) {
      this.#ownError = false;
      return error;
    }
    return this.#worker._internalError(error);
  }

  /**
   * run(): one slice of steps (about a millisecond), then what comes next:
   * the end; another slice after the event loop's turn; a jump of virtual
   * time; or idling until a wake, a cancel, an error or the earliest timer.
   * Driven by callbacks made once, not by an async loop: a request that
   * wakes an idle server costs a queued microtask, not a promise.
   */
  #runSlice(): void {
    const worker = this.#worker;
    const outer = running.worker; // what a host callback's own driving call had set, if any
    running.worker = worker;
    try {
      // A wake often makes one task runnable: its step needs no read of the clock.
      if (this.#profile ? this.#timedStep() : worker._step()) {
        this.#throwPending();
        if (worker._runnable() !== 0 || worker._sleeping() !== 0) this.#stepFor(RUN_SLICE_MS);
      } else this.#throwPending();
    } catch (error) {
      running.worker = outer;
      this.#runEnd(this.#escaped(error), true);
      return;
    }
    running.worker = outer;
    if (worker._live() === 0) {
      this.#runEnd(undefined, false);
    } else if (worker._runnable() !== 0) {
      scheduleMacrotask(this.#runNextSlice);
    } else if (worker._sleeping() !== 0 && worker.clock instanceof VirtualClock) {
      scheduleMacrotask(this.#runTimeJump);
    } else {
      this.idle = true;
      if (worker._sleeping() !== 0) {
        const ms = (worker._nextDeadline() - worker.clock.now()) * 1000;
        // Too close for a host timer (1 ms granularity): come back after the event loop's next turn.
        if (ms < 1) scheduleMacrotask(this.#runTurnDue);
        else this.#idleTimer = setTimeout(this.#runTimerDue, Math.floor(ms));
      }
    }
  }

  #runEnd(error: unknown, failed: boolean): void {
    unwatchExit(this.#runExitCheck);
    this.#exitSteps = -1;
    const settle = this.#runSettle as { resolve: () => void; reject: (error: unknown) => void };
    this.#runSettle = null;
    this.idle = false;
    this.#driving = null;
    if (failed) settle.reject(error);
    else settle.resolve();
  }
}

let sharedCell: Int32Array | null | undefined;

/** Blocks the thread for `seconds` without spinning (Atomics.wait), or spins where that is not allowed. */
function sleepSync(seconds: number): void {
  if (!(seconds > 0)) return;
  if (sharedCell === undefined) {
    try {
      sharedCell = new Int32Array(new SharedArrayBuffer(4));
      Atomics.wait(sharedCell, 0, 0, 0);
    } catch {
      sharedCell = null; // A browser's main thread: no blocking wait there.
    }
  }
  if (sharedCell !== null) {
    Atomics.wait(sharedCell, 0, 0, seconds * 1000);
    return;
  }
  const end = hostNow() + seconds * 1000;
  while (hostNow() < end) {
    // spin
  }
}

/** A settled promise: `then` on it queues a microtask. */
const settled: Promise<void> = Promise.resolve();

type HostScheduler = (callback: () => void) => void;

/** Runs a callback after the host's pending I/O and timers had their turn. */
const scheduleMacrotask: HostScheduler = (() => {
  const immediate = (globalThis as { setImmediate?: (cb: () => void) => unknown }).setImmediate;
  if (typeof immediate === "function") return (cb) => void immediate(cb);
  if (typeof MessageChannel === "function") {
    const channel = new MessageChannel();
    const queue: (() => void)[] = [];
    channel.port1.onmessage = () => queue.shift()?.();
    return (cb) => {
      queue.push(cb);
      channel.port2.postMessage(null);
    };
  }
  return (cb) => void setTimeout(cb, 0);
})();
