/**
 * wrap: runs a routine to its end from plain synchronous code.
 */
import { Program, type RunOptions } from "./program.ts";

/**
 * Runs a routine to its end on a fresh Worker, synchronously, and returns
 * its return value (or throws its error). Timers are waited for (a
 * VirtualClock is jumped); promises cannot be waited for here (use `run`).
 *
 * The program ends when the routine does (after its children, which it
 * waits for), as a Go program ends when main returns: every task left on
 * the worker (a detached task, a forgotten ticker) is then cancelled, and
 * wrap() returns once their `finally` blocks have run.
 *
 * Errors are never lost, and one is thrown. An error another task left
 * unhandled goes to `options.onError` if given; otherwise it ends the
 * program too: every task left, the routine included, is cancelled and
 * unwinds. What is thrown is the first error (the original object): the
 * routine's, or another task's that came before it. Any others (say, a
 * `finally` that threw while it was cancelled) are attached to it, as
 * Java does with suppressed exceptions: listed in its `suppressed` array
 * and appended to its `stack` text as "Suppressed: ...". When the first
 * error cannot carry them (a string, a frozen object), an AggregateError
 * of all of them is thrown instead. If the cleanup of the tasks left
 * waits on something only the event loop could bring, they are left as
 * they are and a WouldBlockError is among the errors.
 *
 * @example
 * const squares = wrap(collectSquares(4)); // [0, 1, 4, 9]
 */
export function wrap<R>(routine: Generator<unknown, R, any>, options: RunOptions = {}): R {
  const program = new Program(routine, options);
  for (;;) {
    try {
      program.worker.work();
      break;
    } catch (error) {
      if (!program.failed(error)) break;
    }
  }
  return program.outcome("wrap()");
}
