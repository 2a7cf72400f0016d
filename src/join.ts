/**
 * Join: waiting for a task to end is a wait like any other. `yield task`
 * (and `yield* task.join()`) parks on the task's JoinWait, made on the
 * first join; the worker wakes every joiner when the task has ended,
 * with its result or its error (which then counts as handled), or a
 * CancelledError.
 *
 * Joining a task that has ended already is a re-read: the joiner is
 * queued at once with the outcome, from ENDED, a wait that is owed
 * nothing (the error, if any, went on when the task ended): a cancel
 * drops it silently, and a child's error thrown in replaces it.
 *
 * Also here: CHILDREN, what a task "waits on" while its children end
 * (after its routine returned, or before it unwinds from a cancel).
 */
import type { Task } from "./task.ts";
import { DONE, FAILED } from "./task-state.ts";
import { type Outcome, Wait } from "./wait.ts";

/** @internal How an ended task ended, as a join gives it. */
export function outcomeFor(task: Task<unknown>): Outcome {
  if (task._state === DONE) return { ok: true, value: task._input };
  return { ok: false, error: task._endError() };
}

/** @internal The tasks parked on one task until it ends. */
export class JoinWait extends Wait<unknown> {
  readonly #target: Task<unknown>;
  /** The tasks parked here, first come first: none, one (most joins), or several in an array. */
  #joiners: Task<unknown> | Task<unknown>[] | null = null;
  /** Joiners woken with the target's error that have not taken it yet (see release). */
  #handed: Task<unknown>[] | null = null;

  constructor(target: Task<unknown>) {
    super();
    this.#target = target;
  }

  /** Registers a joiner (the worker parks a task here only while the target is live). */
  park(task: Task<unknown>): void {
    const target = this.#target;
    if (target === task) throw new Error(`${task.label()} cannot join itself`);
    for (let t = task._parent; t !== null; t = t._parent) {
      if (t === target)
        throw new Error(
          `${task.label()} cannot join ${target.label()}: it is its ancestor, which ends only after it`,
        );
    }
    const joiners = this.#joiners;
    if (joiners === null) this.#joiners = task;
    else if (Array.isArray(joiners)) joiners.push(task);
    else this.#joiners = [joiners, task];
  }

  /**
   * A joiner stops waiting without taking the outcome. Every joiner that
   * was handed the target's error dropping it unseen (all were cancelled
   * before they ran) means nobody saw it: it is reported, not lost.
   */
  override release(task: Task<unknown>, outcome?: Outcome): void {
    if (outcome === undefined) {
      const joiners = this.#joiners;
      if (joiners === task) this.#joiners = null;
      else if (Array.isArray(joiners)) {
        const index = joiners.indexOf(task);
        if (index >= 0) joiners.splice(index, 1);
      }
      return;
    }
    const handed = this.#handed;
    if (outcome.ok || handed === null) return;
    const index = handed.indexOf(task);
    if (index < 0) return;
    handed.splice(index, 1);
    // Joiners that took it stay in the list: it empties only if every one dropped it.
    if (handed.length === 0) task._worker._report(outcome.error, this.#target);
  }

  describe(): string {
    return this.#target.label();
  }

  /**
   * @internal The target has ended: wakes every joiner with its outcome.
   * Returns whether its error (if it failed) went to a joiner.
   */
  _targetEnded(): boolean {
    const joined = this.#joiners;
    if (joined === null || (Array.isArray(joined) && joined.length === 0)) return false;
    this.#joiners = null;
    const target = this.#target;
    const outcome = outcomeFor(target);
    if (outcome.ok && !Array.isArray(joined)) {
      this.wake(joined, outcome.value); // one joiner, as in most joins: no array made
      return false;
    }
    const joiners = Array.isArray(joined) ? joined : [joined];
    if (outcome.ok) {
      for (const joiner of joiners) this.wake(joiner, outcome.value);
      return false;
    }
    if (target._state === FAILED) this.#handed = joiners.slice();
    for (const joiner of joiners) this.fail(joiner, outcome.error);
    return target._state === FAILED;
  }
}

/** @internal Where the outcome of a re-read comes from. */
class Ended extends Wait<unknown> {
  park(): void {}
  describe(): string {
    return "an ended task";
  }
}

/** @internal */
export const ENDED: Wait<unknown> = new Ended();

/** @internal What a task waits on while its children end. */
class Children extends Wait<never> {
  park(): void {}
  describe(): string {
    return "its children";
  }
}

/** @internal */
export const CHILDREN: Wait<never> = new Children();
