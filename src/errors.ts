/**
 * The error classes of clockwork.
 *
 * Cancellation is its own class, kept apart from failures: a task that is
 * cancelled did not fail, and `CancelledError` is what a joiner of a
 * cancelled task sees. `WouldBlockError` is thrown by the synchronous driver
 * `work()` when the tasks left can only be woken by the host's event loop,
 * and rejects `run()` when not even the event loop can wake them.
 */

/** Thrown into a task that joins (or awaits) a task that was cancelled. */
export class CancelledError extends Error {
  /** "CancelledError". */
  override name = "CancelledError";
}

/** Thrown when a deadline passes before the work it guards finished. */
export class TimeoutError extends Error {
  /** "TimeoutError". */
  override name = "TimeoutError";
}

/**
 * Thrown by `worker.work()` when no task is runnable, no timer is pending,
 * and the tasks left wait on things only the event loop can deliver
 * (promises, I/O): use `await worker.run()` for such programs. `run()`
 * rejects with it when the tasks wait on each other (a deadlock): nothing
 * is runnable, no timer is pending, and the host's event loop has run out
 * of work, so nothing is left that could wake them.
 */
export class WouldBlockError extends Error {
  /** "WouldBlockError". */
  override name = "WouldBlockError";
  /** The names of the tasks that were left waiting. */
  readonly tasks: readonly string[];
  constructor(message: string, tasks: readonly string[]) {
    super(message);
    this.tasks = tasks;
  }
}
