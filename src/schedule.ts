/**
 * Schedules: who chooses, under simulation, which runnable task steps
 * next, and every other choice a program may leave open (data, faults).
 *
 * A worker made with the `schedule` option asks `pick(runnable)` before a
 * step whenever two or more tasks are runnable (the run queue's order:
 * index 0 is what the plain round-robin worker would step), and passes
 * `choose(options, label)` on for `sim().choose()`, `sim().fault()` and
 * its own choices among ready cases (select, race): 0 is always the
 * default. Without the option the worker never looks here: the run queue
 * is a plain Ring and no step pays for this file.
 *
 * The strategies (random, PCT), recording, replay and shrinking are in
 * sim.ts (`clockwork-microthreads/sim`).
 */
import { describeValue } from "./describe.ts";
import { Ring } from "./ring.ts";
import type { Task } from "./task.ts";

/** Chooses for a worker under simulation (the `schedule` option of `new Worker()`). */
export interface Schedule {
  /**
   * The index in `runnable` (the run queue, oldest first) of the task to
   * step next; asked only when 2+ are runnable. `runnable` is lent for the
   * call: the worker refills the same array for the next pick, so copy it
   * to keep it.
   */
  pick(runnable: readonly Task<unknown>[]): number;
  /** A choice among `options` (0 = the default): data, faults, ties. */
  choose(options: number, label: string): number;
  /**
   * Told when the worker's last task has ended (optional): a replay checks
   * there that the program used every choice it recorded. An error thrown
   * here is reported like a task's (to onError, else by the driving call).
   */
  end?(): void;
}

/** What a routine under a scheduled worker can ask its schedule for (see `sim()`). */
export interface SimEnv {
  /** Whether to inject a fault here (`label` names the place); drawn from the schedule, so a replay injects the same. */
  fault(label: string): boolean;
  /** A choice among `options` (a whole number above 0); 0 is the default. */
  choose(options: number, label: string): number;
}

/** @internal Checks a Schedule given to `new Worker()`. */
export function checkSchedule(schedule: unknown): Schedule {
  const s = schedule as Partial<Schedule> | null;
  if (
    typeof s !== "object" ||
    s === null ||
    typeof s.pick !== "function" ||
    typeof s.choose !== "function"
  ) {
    throw new TypeError(
      `Worker option "schedule" expects an object with pick() and choose(), got ${describeValue(schedule)}`,
    );
  }
  return s as Schedule;
}

/**
 * @internal The run queue of a scheduled worker: `shift()` asks the
 * schedule which task comes out when two or more are queued. A schedule
 * that throws or answers out of range is reported (through `report`, as
 * an error of the task at the head) and the head is taken: the loop itself
 * never throws.
 */
export class ScheduledRing extends Ring<Task<unknown>> {
  readonly #schedule: Schedule;
  readonly #report: (error: unknown, task: Task<unknown>) => void;
  /** What pick() is shown: one array refilled for each pick, rather than a new one per pick. */
  readonly #runnable: Task<unknown>[] = [];

  constructor(schedule: Schedule, report: (error: unknown, task: Task<unknown>) => void) {
    super();
    this.#schedule = schedule;
    this.#report = report;
  }

  override shift(): Task<unknown> | undefined {
    if (this.size < 2) return super.shift();
    const runnable = this.#runnable;
    this.copyInto(runnable);
    let index: unknown;
    try {
      index = this.#schedule.pick(runnable);
    } catch (error) {
      this.#report(error, runnable[0] as Task<unknown>);
      return super.shift();
    }
    if (
      typeof index !== "number" ||
      !Number.isInteger(index) ||
      index < 0 ||
      index >= runnable.length
    ) {
      this.#report(
        new RangeError(
          `a schedule's pick() must return a whole number from 0 to ${runnable.length - 1} ` +
            `(an index into the ${runnable.length} runnable tasks), got ${describeValue(index)}`,
        ),
        runnable[0] as Task<unknown>,
      );
      return super.shift();
    }
    return this.takeAt(index);
  }
}

/** @internal A choice from a schedule, checked: `0` when the schedule fails (the error is reported). */
export function chooseChecked(
  schedule: Schedule,
  options: number,
  label: string,
  report: (error: unknown) => void,
): number {
  let choice: unknown;
  try {
    choice = schedule.choose(options, label);
  } catch (error) {
    report(error);
    return 0;
  }
  if (typeof choice !== "number" || !Number.isInteger(choice) || choice < 0 || choice >= options) {
    report(
      new RangeError(
        `a schedule's choose(${options}, ${JSON.stringify(label)}) must return a whole number ` +
          `from 0 to ${options - 1}, got ${describeValue(choice)}`,
      ),
    );
    return 0;
  }
  return choice;
}

/** @internal Checks the arguments of `sim().choose()`. */
export function checkChoice(call: string, options: unknown, label: unknown): void {
  if (typeof options !== "number" || !Number.isInteger(options) || options < 1) {
    throw new RangeError(
      `${call} expects a whole number of options above 0, got ${describeValue(options)}`,
    );
  }
  if (typeof label !== "string") {
    throw new TypeError(`${call} expects a label (a string), got ${describeValue(label)}`);
  }
}
