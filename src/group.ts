/**
 * all, race and timeout: routines run together as child tasks.
 *
 * Each routine runs in a child task of the calling task (so `task.stack`,
 * `worker.dump()` and error stacks show it), named after the routine. The
 * children report how they ended to a shared group and never fail
 * themselves; the calling routine parks on the group until it has an
 * answer, cancels the children it no longer needs, waits until they have
 * finished unwinding, and only then returns or throws.
 */
import { checkSeconds } from "./clock.ts";
import { describeValue, isGenerator } from "./describe.ts";
import { CancelledError, TimeoutError } from "./errors.ts";
import { nameOf, routine } from "./names.ts";
import { sleep } from "./sleep.ts";
import { spawn } from "./spawn.ts";
import type { Task } from "./task.ts";
import { Wait } from "./wait.ts";

type Ending = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Where members report, and what the calling task parks on until they do. */
class Group extends Wait<void> {
  /** How each member ended, by index; undefined while it runs. */
  readonly endings: (Ending | undefined)[];
  /** Members still running. */
  running: number;
  /** The index of the first member to end, or -1. */
  first = -1;
  /** The first member to fail, or -1. */
  firstFailure = -1;
  /** The calling task while it is parked here. */
  #waiter: Task<unknown> | null = null;

  constructor(size: number) {
    super();
    this.endings = new Array(size).fill(undefined);
    this.running = size;
  }

  end(index: number, ending: Ending): void {
    if (this.endings[index] !== undefined) return;
    this.endings[index] = ending;
    this.running--;
    if (this.first < 0) this.first = index;
    if (!ending.ok && this.firstFailure < 0) this.firstFailure = index;
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      this.wake(waiter, undefined);
    }
  }

  park(task: Task<unknown>): void {
    this.#waiter = task;
  }

  override release(): void {
    this.#waiter = null;
  }

  describe(): string {
    return `${this.running} of ${this.endings.length} routines`;
  }
}

const cancelledEnding = (): Ending => ({
  ok: false,
  error: new CancelledError("cancelled before it ended"),
});

/** The body of each member task: runs the routine, reports how it ended, never fails. */
function* runMember(body: Generator<unknown, unknown, any>, group: Group, index: number) {
  let ended = false;
  try {
    const value: unknown = yield body;
    ended = true;
    group.end(index, { ok: true, value });
  } catch (error) {
    ended = true;
    group.end(index, { ok: false, error });
  } finally {
    if (!ended) group.end(index, cancelledEnding());
  }
}

type Member = (body: Generator<unknown, unknown, any>, group: Group, index: number) => Generator;

// A member task's outer frame is named after the call that started it: "all > fetchPage".
const members: Record<"all" | "race" | "timeout", Member> = {
  all: routine(function* all(body: Generator<unknown, unknown, any>, group: Group, index: number) {
    yield* runMember(body, group, index);
  }),
  race: routine(function* race(
    body: Generator<unknown, unknown, any>,
    group: Group,
    index: number,
  ) {
    yield* runMember(body, group, index);
  }),
  timeout: routine(function* timeout(
    body: Generator<unknown, unknown, any>,
    group: Group,
    index: number,
  ) {
    yield* runMember(body, group, index);
  }),
};

function startMembers(
  kind: keyof typeof members,
  bodies: readonly Generator<unknown, unknown, any>[],
  group: Group,
): Task<unknown>[] {
  return bodies.map((body, index) => {
    const name = nameOf(body);
    return spawn(members[kind](body, group, index), name === undefined ? undefined : { name });
  });
}

/** Parks the calling routine until every member has ended. */
function* settle(group: Group) {
  while (group.running > 0) yield group;
}

function checkRoutines(call: string, routines: unknown): Generator<unknown, unknown, any>[] {
  if (!Array.isArray(routines)) {
    throw new TypeError(
      `${call} expects an array of routines (generator objects), got ${describeValue(routines)}`,
    );
  }
  routines.forEach((r, i) => {
    if (!isGenerator(r)) {
      throw new TypeError(
        `${call} expects an array of routines (generator objects); item ${i} is ${describeValue(r)}`,
      );
    }
  });
  return routines as Generator<unknown, unknown, any>[];
}

const allRoutine = routine(function* all(bodies: Generator<unknown, unknown, any>[]) {
  const group = new Group(bodies.length);
  const tasks = startMembers("all", bodies, group);
  while (group.running > 0 && group.firstFailure < 0) yield group;
  if (group.firstFailure >= 0) {
    for (const task of tasks) task.cancel();
    yield* settle(group);
    throw (group.endings[group.firstFailure] as { error: unknown }).error;
  }
  return group.endings.map((e) => (e as { value: unknown }).value);
});

/**
 * Runs routines at once as child tasks and gives all their results, in
 * order. The first failure cancels the others and is thrown (after they
 * have finished unwinding).
 *
 * @example
 * const [home, about] = yield* all([fetchPage("/"), fetchPage("/about")]);
 */
export function all<const T extends readonly Generator<unknown, unknown, any>[]>(
  routines: T,
): Generator<
  unknown,
  { -readonly [K in keyof T]: T[K] extends Generator<unknown, infer R, any> ? R : never },
  any
> {
  return allRoutine(checkRoutines("all()", routines)) as never;
}

const raceRoutine = routine(function* race(bodies: Generator<unknown, unknown, any>[]) {
  if (bodies.length === 0)
    throw new TypeError("race() needs at least one routine: a race of none never ends");
  const group = new Group(bodies.length);
  const tasks = startMembers("race", bodies, group);
  while (group.first < 0) yield group;
  for (const task of tasks) task.cancel();
  yield* settle(group);
  const winner = group.endings[group.first] as Ending;
  if (!winner.ok) throw winner.error;
  return winner.value;
});

/**
 * Runs routines at once as child tasks; the first to end wins (its value,
 * or its error thrown). The others are cancelled, and race() returns only
 * once their `finally` blocks have run.
 *
 * @example
 * const reply = yield* race([askServer(a), askServer(b)]);
 */
export function race<T>(routines: Generator<unknown, T, any>[]): Generator<unknown, T, any> {
  return raceRoutine(checkRoutines("race()", routines)) as Generator<unknown, T, any>;
}

const timeoutRoutine = routine(function* timeout(
  seconds: number,
  body: Generator<unknown, unknown, any>,
) {
  const group = new Group(2);
  const [task] = startMembers("timeout", [body], group) as [Task<unknown>];
  const timer = spawn(members.timeout(sleep(seconds), group, 1), { name: "timer" });
  while (group.first < 0) yield group;
  task.cancel();
  timer.cancel();
  yield* settle(group);
  if (group.first === 1) {
    throw new TimeoutError(`${task.label()} timed out after ${seconds} s (it was cancelled)`);
  }
  const ending = group.endings[0] as Ending;
  if (!ending.ok) throw ending.error;
  return ending.value;
});

/**
 * Runs a routine as a child task with a time limit (in the worker's
 * clock): its value, or its error, or a TimeoutError once `seconds` have
 * passed, after the routine was cancelled and its `finally` blocks ran.
 *
 * @example
 * const page = yield* timeout(10, fetchPage(url));
 */
export function timeout<R>(
  seconds: number,
  routine: Generator<unknown, R, any>,
): Generator<unknown, R, any> {
  checkSeconds("timeout()", seconds);
  checkRoutines("timeout()", [routine]);
  return timeoutRoutine(seconds, routine) as Generator<unknown, R, any>;
}
