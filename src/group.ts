/**
 * Group: how all, race and timeout (all.ts, race.ts, timeout.ts) run
 * routines together.
 *
 * Over operations alone (channel receives and sends, acquires, future
 * waits, sleeps), `race` and `timeout` are a select (select.ts): exactly
 * one operation happens, atomically, and nothing is taken that is then
 * dropped.
 *
 * Otherwise each routine runs as a child task of the calling task, named
 * after the routine (so `task.stack`, `worker.dump()` and error stacks show
 * it). A Group observes the member tasks and decides synchronously, in the
 * step where a member's routine ends: the first to end wins a race (its
 * value or its error), the first failure ends an all. The members no longer
 * needed are cancelled in that same moment, before any of them can take
 * another step, and so before they can take anything more. The calling
 * routine parks until every member has finished unwinding, and only then
 * returns or throws. Members of a race start in an order that begins at a
 * random one, so that among routines that end at once none is always
 * favoured. An error a member ends with that the call does not hand on
 * (a loser whose cleanup threw) is reported, never dropped.
 */
import { ASYNC_GENERATOR_HINT, describeValue, isAsyncGenerator, isGenerator } from "./describe.ts";
import { nameOf } from "./names.ts";
import { spawn } from "./spawn.ts";
import { DONE, running, type Task, type TaskObserver } from "./task.ts";
import type { TimerEntry } from "./timer-queue.ts";
import { Wait } from "./wait.ts";

/** @internal How a member ended. */
export type Ending = { ok: true; value: unknown } | { ok: false; error: unknown };

/** @internal Group kinds. */
export const ALL = 0;
/** @internal */
export const RACE = 1;
/** @internal */
export const TIMEOUT = 2;

/** For a timeout: `decided` when the timer went off first. */
export const TIMER = -2;

/** Observes one member task for its group. */
class Member implements TaskObserver {
  readonly _group: Group;
  readonly _index: number;
  constructor(group: Group, index: number) {
    this._group = group;
    this._index = index;
  }
  _bodyEnded(_task: Task<unknown>, end: number): void {
    this._group._bodyEnded(this._index, end);
  }
  _taskEnded(task: Task<unknown>): boolean {
    this._group._taskEnded(this._index, task);
    return true; // the group hands it on or reports it
  }
}

/** The member tasks of one call, how they ended, and what the calling task parks on. */
/** @internal */
export class Group extends Wait<void> implements TimerEntry<Task<unknown>> {
  readonly _kind: number;
  /** The member tasks, by index. */
  readonly _tasks: Task<unknown>[];
  /** How each member task ended, by index; undefined while it runs. */
  readonly _endings: (Ending | undefined)[];
  /** Members not yet ended. */
  _running: number;
  /** RACE: the first member to end; ALL: the first to fail; TIMEOUT: 0, or TIMER. -1 until then. */
  _decided: number;
  /** The calling task while it is parked here. */
  _waiter: Task<unknown> | null;
  /** TIMEOUT: the seconds, and the timer entry (deadline, order, the waiter while set). */
  readonly _seconds: number;
  deadline: number;
  seq: number;
  owner: Task<unknown> | null;
  /** TIMEOUT: the timer was set (it is set once, when the caller first parks). */
  _timerSet: boolean;
  /** The caller will never take the call's outcome (it was cancelled, or threw something else). */
  _abandoned: boolean;

  constructor(kind: number, size: number, seconds = 0) {
    super();
    this._kind = kind;
    this._tasks = [];
    this._endings = new Array(size).fill(undefined);
    this._running = size;
    this._decided = -1;
    this._waiter = null;
    this._seconds = seconds;
    this.deadline = 0;
    this.seq = 0;
    this.owner = null;
    this._timerSet = false;
    this._abandoned = false;
  }

  /** A member's routine ended (its children may still run): the call may be decided now. */
  _bodyEnded(index: number, end: number): void {
    if (this._decided !== -1) return;
    if (this._kind === ALL) {
      if (end === DONE) return;
      this._decided = index;
      this.#cancelAll(index);
    } else if (this._kind === RACE) {
      this._decided = index;
      this.#cancelAll(index);
    } else {
      this._decided = 0;
      this.#stopTimer();
    }
  }

  /** A member task ended: note how; wake the caller once all have. */
  _taskEnded(index: number, task: Task<unknown>): void {
    const state = task.state;
    const ending: Ending =
      state === "done"
        ? { ok: true, value: task.result }
        : state === "failed"
          ? { ok: false, error: task.error }
          : { ok: false, error: task._cancelledError() };
    this._endings[index] = ending;
    this._running--;
    // A failure this call will not hand on (a loser's cleanup threw, or the caller will never
    // throw it): reported, never dropped.
    if (state === "failed" && (index !== this._decided || this._abandoned)) {
      task._worker._report(task.error, task);
    }
    if (this._running === 0 && this._waiter !== null) {
      const waiter = this._waiter;
      this._waiter = null;
      this.#stopTimer();
      this.wake(waiter, undefined);
    }
  }

  park(task: Task<unknown>): void {
    this._waiter = task;
    if (this._kind === TIMEOUT && !this._timerSet && this._decided === -1) {
      this._timerSet = true;
      this.deadline = task._worker.clock.now() + this._seconds;
      this.owner = task;
      task._worker._addTimer(this);
    }
  }

  override release(): void {
    this._waiter = null;
    this.#stopTimer();
  }

  /**
   * The caller will never take this call's outcome: every member is
   * cancelled (a cancel of the caller tears them down anyway), and the
   * error the call decided on, if a member already ended with it, is
   * reported; one that comes later is reported by _taskEnded.
   */
  _abandon(): void {
    if (this._abandoned) return;
    this._abandoned = true;
    this.#stopTimer();
    const decided = this._decided;
    const ending = decided >= 0 ? this._endings[decided] : undefined;
    const task = decided >= 0 ? this._tasks[decided] : undefined;
    if (ending !== undefined && !ending.ok && task !== undefined && task.state === "failed") {
      task._worker._report(ending.error, task);
    }
    this.#cancelAll(-1);
  }

  /** TIMEOUT: the deadline passed before the routine ended: it is cancelled now. */
  fire(_task: Task<unknown>): void {
    if (this._decided !== -1) return;
    this._decided = TIMER;
    this.#cancelAll(-1);
  }

  describe(): string {
    return `${this._running} of ${this._endings.length} routines`;
  }

  #cancelAll(except: number): void {
    this._tasks.forEach((task, i) => {
      if (i !== except) task.cancel();
    });
  }

  #stopTimer(): void {
    const owner = this.owner;
    if (owner !== null) owner._worker._cancelTimer(this);
  }
}

/** Starts the members as child tasks of the running task, observed by the group; a race's in a rotated order. */
export function startMembers(
  group: Group,
  bodies: readonly Generator<unknown, unknown, any>[],
): void {
  const n = bodies.length;
  const start =
    group._kind === RACE && n > 1
      ? (running.task as Task<unknown>)._worker._random(n, "race start")
      : 0;
  for (let k = 0; k < n; k++) {
    const index = (start + k) % n;
    const body = bodies[index] as Generator<unknown, unknown, any>;
    const name = nameOf(body);
    const task = spawn(body, name === undefined ? undefined : { name });
    task._extraFields().observer = new Member(group, index);
    group._tasks[index] = task;
  }
}

/**
 * Parks the calling routine until every member has ended. An error thrown
 * into the caller meanwhile (a sibling task failed, say) does not end the
 * call at once: the members are cancelled, the call waits until they have
 * unwound (as it promises), then throws that error; the call's own
 * outcome is reported if it was an error, and so is any further error
 * thrown in while it waits.
 */
export function* settle(group: Group): Generator<unknown, void, any> {
  let thrown: { error: unknown } | null = null;
  let settled = false;
  try {
    for (;;) {
      try {
        while (group._running > 0) yield group;
        break;
      } catch (error) {
        if (thrown === null) {
          thrown = { error };
          group._abandon();
        } else report(error);
      }
    }
    settled = true;
  } finally {
    if (!settled) {
      // Cancelled (or returned) before the call could end: what it held is reported, not
      // dropped: an error thrown in meanwhile, and the error the call had decided on.
      if (thrown !== null) report(thrown.error);
      group._abandon();
    }
  }
  if (thrown !== null) throw thrown.error;
}

function report(error: unknown): void {
  const task = running.task as Task<unknown>;
  task._worker._report(error, task);
}

/** @internal */
export function checkRoutines(call: string, routines: unknown): Generator<unknown, unknown, any>[] {
  if (!Array.isArray(routines)) {
    throw new TypeError(
      `${call} expects an array of routines (generator objects), got ${describeValue(routines)}`,
    );
  }
  routines.forEach((r, i) => {
    if (!isGenerator(r)) {
      const hint = isAsyncGenerator(r) ? `: ${ASYNC_GENERATOR_HINT}` : "";
      throw new TypeError(
        `${call} expects an array of routines (generator objects); item ${i} is ${describeValue(r)}${hint}`,
      );
    }
  });
  return routines as Generator<unknown, unknown, any>[];
}
