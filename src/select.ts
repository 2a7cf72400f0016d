/**
 * select: wait for the first of several channel operations, and do exactly
 * that one (Go's `select`, js-csp's `alts`, Concurrent ML's `choose`).
 *
 * The cases are operations that have not started: `channel.receive()`,
 * `channel.receiveOrClosed()`, `channel.send(v)`, `semaphore.acquire()`,
 * `future.wait()`, and `sleep(s)` as a timeout case. The result says
 * which case happened and what it gave, typed per case: `{ index, value }`
 * for an array of cases, `{ key, value }` for an object of named cases.
 *
 * How exactly one case happens: first every case is tried at once, in an
 * order that starts at a random case (so that when several are ready, none
 * starves); a due sleep counts only when no operation is ready. If none is
 * ready, every operation is parked in its owner's queue, tagged with this
 * select, and the earliest sleep is set as one timer. The first owner to
 * serve one of them commits the select to it (`_commit`), and in that same
 * moment the other operations leave their queues and the timer is
 * cancelled, before anything else can serve them. A receive only claims
 * its value when the task runs, so a select cancelled after its receive
 * was served takes nothing (the value goes to the next receiver); a permit
 * it was handed is given back; a send that was served has happened.
 *
 * `race()` and `timeout()` over operations alone are built on this too, so
 * they never consume a value they then drop.
 */
import { checkSeconds } from "./clock.ts";
import { describeValue } from "./describe.ts";
import { TimeoutError } from "./errors.ts";
import { routineName } from "./names.ts";
import { type Choice, MUST_WAIT, Operation } from "./operation.ts";
import { isSleep, type Sleep } from "./sleep.ts";
import { running, type Task } from "./task.ts";
import type { TimerEntry } from "./timer-queue.ts";
import { CLAIM, type Outcome, Wait } from "./wait.ts";

/**
 * What a routine returns; over a union of routines, the union of what each
 * returns. So what a select case gives when it happens, and what a race
 * gives: `ResultOf<ReturnType<typeof fetchPage>>` is a page.
 */
export type ResultOf<G> = G extends Generator<unknown, infer R, any> ? R : never;

/** The result of `select([...])`: which case (by index) and its value, typed per case. */
export type SelectResult<C extends readonly unknown[]> = number extends C["length"]
  ? {
      /** Which case happened: its index. */
      index: number;
      /** What it gave. */
      value: ResultOf<C[number]>;
    } // an array, not a tuple: any index
  : {
      [I in keyof C]: I extends `${infer N extends number}`
        ? {
            /** Which case happened: its index. */
            index: N;
            /** What it gave. */
            value: ResultOf<C[I]>;
          }
        : never;
    }[number];

/** The result of `select({...})`: which case (by key) and its value, typed per case. */
export type SelectKeyedResult<C extends Record<string, unknown>> = {
  [K in keyof C]: {
    /** Which case happened: its key. */
    key: K;
    /** What it gave. */
    value: ResultOf<C[K]>;
  };
}[keyof C];

/** What a Select gives when a case happens. */
const SELECT = 0; // { index, value } or { key, value }
const RACE = 1; // the value; a case's error is thrown
const TIMEOUT = 2; // the value; the timer throws TimeoutError

type Case = Operation<unknown> | Sleep;

/** @internal One select (or race, or timeout) over operations and timers. */
export class Select
  extends Wait<unknown>
  implements Generator<unknown, unknown, any>, Choice, TimerEntry<Task<unknown>>
{
  readonly _cases: readonly Case[];
  /** The keys of named cases, by index; null for an array of cases. */
  readonly _keys: readonly string[] | null;
  /** SELECT, RACE or TIMEOUT. */
  readonly _kind: number;
  /** For TIMEOUT: the index of the timer case, and its seconds. */
  readonly _timeoutSeconds: number;
  /** 0: not started; 1: tried, parked or parking; 2: ended. */
  _phase: number;
  /** The parked task while its cases wait; null otherwise. */
  _task: Task<unknown> | null;
  /** The case that happened, or -1. */
  _winner: number;
  _winnerIsError: boolean;
  /** What the case gave (CLAIM: a receive's value, taken when the task runs), or its error. */
  _winnerValue: unknown;
  /** The timer entry (the earliest sleep case): when, its order, the task while set, and which case. */
  deadline: number;
  seq: number;
  owner: Task<unknown> | null;
  _timerCase: number;

  constructor(cases: readonly Case[], keys: readonly string[] | null, kind: number, seconds = 0) {
    super();
    this._cases = cases;
    this._keys = keys;
    this._kind = kind;
    this._timeoutSeconds = seconds;
    this._phase = 0;
    this._task = null;
    this._winner = -1;
    this._winnerIsError = false;
    this._winnerValue = undefined;
    this.deadline = 0;
    this.seq = 0;
    this.owner = null;
    this._timerCase = -1;
  }

  /** Its frames are named after the call. */
  get [routineName](): string {
    return this._kind === SELECT ? "select" : this._kind === RACE ? "race" : "timeout";
  }

  // ----------------------------------------------------------- as a routine

  next(input?: unknown): IteratorResult<unknown, unknown> {
    if (this._phase === 0) {
      this._phase = 1;
      const task = running.task;
      if (task === undefined) {
        throw new Error(`${this[routineName]}() runs inside a task: yield* it from a routine`);
      }
      if (this._tryNow(task, false)) {
        this._phase = 2;
        return { value: this._outcome(this._winnerValue), done: true };
      }
      return { value: this, done: false }; // park on it: park() registers every case
    }
    // Resumed by its own task once woken (`_task` is cleared then); while set, another task reached it.
    const waiting = this._task;
    if (waiting !== null) throw this._taken(running.task, waiting);
    this._phase = 2;
    return { value: input, done: true }; // what claim() gave
  }

  /** @internal The error for a task that reached a select another task waits in. */
  _taken(task: Task<unknown> | undefined, holder: Task<unknown>): Error {
    const who = task === undefined ? "code outside any task" : task.label();
    const call = `${this[routineName]}()`;
    return new Error(
      `${who} reached a ${call} that ${holder.label()} is waiting in: a ${call} is one task's ` +
        "wait; make one in each task",
    );
  }

  return(value?: unknown): IteratorResult<unknown, unknown> {
    this._phase = 2;
    return { value, done: true };
  }

  throw(error: unknown): IteratorResult<unknown, unknown> {
    this._phase = 2;
    throw error;
  }

  override [Symbol.iterator](): Generator<unknown, unknown, any> {
    return this;
  }

  get [Symbol.toStringTag](): string {
    return "Generator";
  }

  // -------------------------------------------------------------- as a wait

  park(task: Task<unknown>): void {
    const waiting = this._task;
    if (waiting !== null) throw this._taken(task, waiting);
    if (this._phase === 2) {
      // Ended already (a case happened, even if its task has not run yet): it gives undefined, as a
      // finished generator does; no case happens again.
      this.wake(task, undefined);
      return;
    }
    if (this._phase === 0) {
      // Yielded directly: try now; a case that happened is delivered on the task's next step.
      this._phase = 1;
      if (this._tryNow(task, true)) {
        this.#deliver(task);
        return;
      }
    }
    this._task = task;
    const cases = this._cases;
    let timerDeadline = Number.POSITIVE_INFINITY;
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i] as Case;
      if (c instanceof Operation) {
        if (c._phase !== 0) {
          // The same operation twice would wait twice in one queue; one started since the select
          // was made (yielded, or a case of another select) is another wait's: refused, at the yield.
          this.#withdraw(task);
          const why =
            c._choice === this ? "is the same operation as an earlier case" : "was already used";
          throw new TypeError(
            `${this[routineName]}(): case ${i} (${c.describe()}) ${why}; each case must be a fresh operation`,
          );
        }
        c._phase = 1;
        c._task = task;
        c._choice = this;
        c._index = i;
        c.enqueue();
      } else {
        const deadline = this.#deadlineOf(c, task);
        if (deadline < timerDeadline) {
          timerDeadline = deadline;
          this._timerCase = i;
        }
      }
    }
    if (this._kind === TIMEOUT) {
      const deadline = task._worker.clock.now() + this._timeoutSeconds;
      // At the same instant, the operation's own timer (a sleep) wins over the timeout.
      if (deadline < timerDeadline) {
        timerDeadline = deadline;
        this._timerCase = cases.length;
      }
    }
    if (this._timerCase >= 0) {
      this.deadline = timerDeadline;
      this.owner = task;
      task._worker._addTimer(this);
    }
  }

  /** An owner served one of the parked operations: it is the one; the others leave at once. */
  _commit(op: Operation<unknown>, isError: boolean, value: unknown): void {
    const task = this._task as Task<unknown>;
    this._winner = op._index;
    this._winnerIsError = isError;
    this._winnerValue = value;
    this.#withdraw(task);
    this.#deliver(task);
  }

  /** The earliest timer case is due: it is the one. */
  fire(task: Task<unknown>): void {
    if (this._task !== task) return;
    this._winner = this._timerCase;
    this._winnerIsError = this._timerCase === this._cases.length; // a timeout's own timer
    this._winnerValue = this._winnerIsError ? this.#timeoutError() : undefined;
    this.#withdraw(task);
    this.#deliver(task);
  }

  /** The task runs again: the result of the case that happened (a receive takes its value now). */
  override claim(task: Task<unknown>): unknown {
    const value = this._winnerValue;
    const winner = this._cases[this._winner];
    return this._outcome(value === CLAIM ? (winner as Operation<unknown>).claim(task) : value);
  }

  /**
   * The task stopped waiting without taking the outcome (it was cancelled):
   * undo every registration, or, if a case had happened, undo what can be
   * undone of it (a receive takes nothing; a permit goes back).
   */
  override release(task: Task<unknown>, outcome?: Outcome): void {
    if (this._task !== null) {
      this.#withdraw(task);
      return;
    }
    const winner = this._cases[this._winner];
    if (outcome !== undefined && winner instanceof Operation) {
      winner.release(
        task,
        this._winnerIsError
          ? { ok: false, error: this._winnerValue }
          : { ok: true, value: this._winnerValue },
      );
    }
  }

  describe(): string {
    const parts = this._cases.map((c) => c.describe());
    if (this._kind === TIMEOUT) parts.push(`a timeout of ${this._timeoutSeconds} s`);
    return `${this[routineName]} of ${parts.join(", ")}`;
  }

  // -------------------------------------------------------------- internals

  /**
   * Tries every case now, starting at a random one; a due timer only when
   * no operation is ready. `parked`: the task is parking, so a receive
   * reserves its value (CLAIM) instead of taking it. True when one happened.
   */
  _tryNow(task: Task<unknown> | undefined, parked: boolean): boolean {
    const cases = this._cases;
    const n = cases.length;
    const start = n > 1 && task !== undefined ? task._worker._random(n, "select start") : 0;
    let sleeps = 0;
    for (let k = 0, i = start; k < n; k++, i = i + 1 === n ? 0 : i + 1) {
      const c = cases[i] as Case;
      if (!(c instanceof Operation)) {
        sleeps++;
        continue;
      }
      let value: unknown;
      try {
        value = parked ? c.attemptParked() : c.attempt();
      } catch (error) {
        c._phase = 2; // it happened (with an error): spent, as when it happens after a wait
        this.#settle(i, true, error);
        return true;
      }
      if (value !== MUST_WAIT) {
        c._phase = 2; // it happened: spent, as when it happens after a wait
        this.#settle(i, false, value);
        return true;
      }
    }
    if (sleeps > 0 && task !== undefined) {
      const now = task._worker.clock.now();
      for (let k = 0, i = start; k < n; k++, i = i + 1 === n ? 0 : i + 1) {
        const c = cases[i] as Case;
        if (c instanceof Operation || this.#deadlineOf(c, task as Task<unknown>) > now) continue;
        this.#settle(i, false, undefined);
        return true;
      }
    }
    if (this._kind === TIMEOUT && this._timeoutSeconds === 0) {
      this.#settle(n, true, this.#timeoutError());
      return true;
    }
    return false;
  }

  /** The final value of the call, from what the winning case gave (throws its error). */
  _outcome(value: unknown): unknown {
    if (this._winnerIsError) throw this._winnerValue;
    if (this._kind !== SELECT) return value;
    const keys = this._keys;
    return keys === null ? { index: this._winner, value } : { key: keys[this._winner], value };
  }

  #settle(index: number, isError: boolean, value: unknown): void {
    this._winner = index;
    this._winnerIsError = isError;
    this._winnerValue = value;
  }

  /** Wakes the task with the case that happened (its error, or CLAIM: claim() builds the result). */
  #deliver(task: Task<unknown>): void {
    this._phase = 2;
    if (this._winnerIsError) this.fail(task, this._winnerValue);
    else this.wake(task, CLAIM);
  }

  /** Takes every parked operation out of its queue and cancels the timer. */
  #withdraw(task: Task<unknown>): void {
    this._task = null;
    for (const c of this._cases) {
      // Not a case another task waits on, refused in park(): it is left as it is.
      if (c instanceof Operation && (c._choice === this || c._phase === 0)) {
        if (c._task !== null) c.release(task);
        c._phase = 2;
      }
    }
    if (this.owner !== null) task._worker._cancelTimer(this);
  }

  #deadlineOf(sleep: Sleep, task: Task<unknown>): number {
    return sleep._resolve(task);
  }

  #timeoutError(): TimeoutError {
    const what = this._cases.map((c) => c.describe()).join(", ");
    return new TimeoutError(`${what} timed out after ${this._timeoutSeconds} s`);
  }
}

/**
 * @internal The values as cases, for race() and timeout() over operations,
 * or null when they cannot be a select: one is not an operation or a
 * sleep, was already started, or comes twice (those run as tasks).
 */
export function selectable(values: readonly unknown[]): Case[] | null {
  return firstBadCase(values) < 0 ? (values as Case[]) : null;
}

function checkCases(call: string, given: unknown): { cases: Case[]; keys: string[] | null } {
  let values: unknown[];
  let keys: string[] | null = null;
  if (Array.isArray(given)) values = given;
  else if (typeof given === "object" && given !== null && !isGeneratorLike(given)) {
    keys = Object.keys(given);
    values = keys.map((k) => (given as Record<string, unknown>)[k]);
  } else {
    throw new TypeError(
      `${call} expects an array or an object of channel operations, got ${describeValue(given)}`,
    );
  }
  if (values.length === 0) {
    throw new TypeError(`${call} needs at least one case: a select of none never ends`);
  }
  const bad = firstBadCase(values);
  if (bad >= 0) {
    const v = values[bad];
    const where = keys === null ? `case ${bad}` : `case "${keys[bad]}"`;
    if (!isCase(v)) {
      throw new TypeError(
        `${call} expects channel operations (receive(), receiveOrClosed(), send(v)), semaphore.acquire(), ` +
          `future.wait() or sleep(s) as cases; ${where} is ${describeValue(v)}`,
      );
    }
    throw new TypeError(
      `${call}: ${where} (${v.describe()}) was already used; each case must be a fresh operation`,
    );
  }
  return { cases: values as Case[], keys };
}

function isCase(value: unknown): value is Case {
  return value instanceof Operation || isSleep(value);
}

/**
 * The index of the first value that cannot be a case (not an operation or
 * a sleep, or already used), or -1. The same operation given twice is
 * harmless while the select tries its cases, and is refused where it would
 * do harm, when the select parks (see park()): checking each pair here
 * would cost a third of a select over 8 cases.
 */
function firstBadCase(values: readonly unknown[]): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v instanceof Operation ? v._phase !== 0 : !isSleep(v) || v._used()) return i;
  }
  return -1;
}

function isGeneratorLike(value: object): boolean {
  return typeof (value as { next?: unknown }).next === "function";
}

/**
 * Waits until one of several channel operations can happen, and does
 * exactly that one; the result says which (`index` for an array, `key` for
 * an object of cases) and what it gave, typed per case. A `sleep(s)` case
 * is a timeout. When several are ready at once, one is picked at random,
 * so none starves. Cancelling the task while it waits leaves no trace.
 *
 * @example
 * const next = yield* select({ job: jobs.receive(), quit: quit.receive(), idle: sleep(5) });
 * switch (next.key) {
 *   case "job": yield* handle(next.value); break;
 *   case "quit": return;
 *   case "idle": console.log("nothing for 5 s"); break;
 * }
 */
export function select<const C extends readonly Generator<unknown, unknown, any>[]>(
  cases: C,
): Generator<unknown, SelectResult<C>, any>;
export function select<const C extends Record<string, Generator<unknown, unknown, any>>>(
  cases: C,
): Generator<unknown, SelectKeyedResult<C>, any>;
export function select(cases: unknown): Generator<unknown, unknown, any> {
  // An array of fresh operations, the common case, is checked in one pass and used as it is.
  if (Array.isArray(cases) && cases.length > 0 && firstBadCase(cases) < 0) {
    return new Select(cases as Case[], null, SELECT);
  }
  const { cases: checked, keys } = checkCases("select()", cases);
  return new Select(checked, keys, SELECT);
}

/**
 * The select that never waits (Go's `select` with a `default`): does one
 * of the operations that can happen now, picked at random among them, and
 * gives which and its value; `undefined` when none can. Sleep cases make
 * no sense here and are refused.
 *
 * @example
 * const got = trySelect([urgent.receive(), normal.receive()]);
 * if (got === undefined) idle();
 */
export function trySelect<const C extends readonly Generator<unknown, unknown, any>[]>(
  cases: C,
): SelectResult<C> | undefined;
export function trySelect<const C extends Record<string, Generator<unknown, unknown, any>>>(
  cases: C,
): SelectKeyedResult<C> | undefined;
export function trySelect(cases: unknown): unknown {
  const { cases: checked, keys } = checkCases("trySelect()", cases);
  if (checked.some(isSleep)) {
    throw new TypeError("trySelect() never waits: a sleep() case makes no sense there");
  }
  const select = new Select(checked, keys, SELECT);
  select._phase = 2;
  return select._tryNow(running.task, false) ? select._outcome(select._winnerValue) : undefined;
}

/** @internal race() over operations and sleeps alone: a select that gives the value. */
export function raceOperations(cases: Case[]): Generator<unknown, unknown, any> {
  return new Select(cases, null, RACE);
}

/** @internal timeout() around one operation: a select with a timer that throws TimeoutError. */
export function timeoutOperation(seconds: number, op: Case): Generator<unknown, unknown, any> {
  checkSeconds("timeout()", seconds);
  return new Select([op], null, TIMEOUT, seconds);
}
