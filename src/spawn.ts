/**
 * spawn: launch a task without waiting for it.
 *
 * Called while a task is stepping, `spawn` creates a child of that task
 * (structured concurrency): the parent is done only once its children have
 * ended, a child's error nobody joins is thrown into the parent, and
 * cancelling the parent cancels its children. `detached: true` makes a
 * top-level task on the same worker instead.
 */
import { describeValue } from "./describe.ts";
import { running, type Task } from "./task.ts";
import type { AssignOptions } from "./worker.ts";

/** Options for `spawn()`. */
export interface SpawnOptions extends AssignOptions {
  /**
   * Make a top-level task on the same worker instead of a child: it
   * outlives its creator and reports its errors like any top-level task.
   */
  detached?: boolean;
}

/**
 * Starts `routine` as a child task of the current task and returns it at
 * once; the child's first step comes later. Throws outside a step (use
 * `worker.assign()` there).
 *
 * @example
 * function* main() {
 *   const a = spawn(fetchPage("/a"));
 *   const b = spawn(fetchPage("/b"));
 *   return [yield* a.join(), yield* b.join()];
 * }
 */
export function spawn<R>(routine: Generator<unknown, R, any>, options?: SpawnOptions): Task<R> {
  const parent = running.task;
  if (parent === undefined) {
    throw new Error(
      `spawn() called outside a step: there is no current task to be the parent of ${describeValue(routine)}; ` +
        "use worker.assign() to start a top-level task",
    );
  }
  return parent._worker._spawn(parent, routine, options);
}
