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
import { Future } from "./future.ts";
import { routine } from "./names.ts";
import { spawn } from "./spawn.ts";
import { DONE, type Task, type TaskObserver } from "./task.ts";
import { suspend } from "./wait.ts";

/** How a resource routine hands out its value: `yield* provide(value)`. */
export type Provide<T> = (value: T) => Generator<unknown, void, any>;

/**
 * What one resource routine shares with its `provide`, and how its task's
 * end is seen: an end before the value was provided fails the asking
 * task's wait (the routine's error, or a routine that returned without
 * providing); after it, the resource task's error goes on as any child's.
 */
class Provision<T> implements TaskObserver {
  readonly name: string;
  readonly handed = new Future<T>();
  provided = false;
  constructor(name: string) {
    this.name = name;
  }

  _bodyEnded(_task: Task<unknown>, end: number): void {
    if (!this.provided && end === DONE && !this.handed.settled) {
      this.handed.reject(new Error(`resource "${this.name}" returned without providing a value`));
    }
  }

  _taskEnded(task: Task<unknown>): boolean {
    if (this.provided || this.handed.settled) return false;
    this.handed.reject(
      task.state === "failed"
        ? task.error
        : new CancelledError(`resource "${this.name}" was cancelled before it provided a value`),
    );
    return true;
  }
}

const provideRoutine = routine(function* provide<T>(
  provision: Provision<T>,
  value: T,
): Generator<unknown, void, any> {
  if (provision.provided) throw new Error(`resource "${provision.name}" provided a value twice`);
  provision.provided = true;
  provision.handed.resolve(value);
  yield suspend(); // until the task that asked is done with it
});

const resourceRoutine = routine(function* resource<T>(
  body: (provide: Provide<T>) => Generator<unknown, void, any>,
): Generator<unknown, T, any> {
  const provision = new Provision<T>(body.name || "resource");
  const task = spawn(
    body((value: T) => provideRoutine(provision, value)),
    { name: provision.name },
  );
  task._extraFields().observer = provision;
  task._worker._markResource(task);
  return yield* provision.handed.wait();
});

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
  return resourceRoutine(body) as Generator<unknown, T, any>;
}
