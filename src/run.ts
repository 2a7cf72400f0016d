/**
 * run: runs a routine to its end alongside the event loop; a promise of
 * its value.
 */
import { Program, type RunOptions } from "./program.ts";

/**
 * Runs a routine on a fresh Worker alongside the event loop; resolves with
 * its return value or rejects with its error. Like `wrap()`, it ends when
 * the routine does (the tasks left are cancelled and their cleanup runs
 * first), and an error nobody handled ends it too, in the same way: it
 * rejects with one error, the first, with any others attached to it (its
 * `suppressed` array), or with an AggregateError when the first cannot
 * carry them. No rejection is ever left unhandled.
 *
 * @example
 * const title = await run(fetchTitle("http://127.0.0.1:8080/"));
 */
export async function run<R>(
  routine: Generator<unknown, R, any>,
  options: RunOptions = {},
): Promise<R> {
  const program = new Program(routine, options);
  for (;;) {
    try {
      await program.worker.run();
      break;
    } catch (error) {
      if (!program.failed(error)) break;
    }
  }
  return program.outcome("run()");
}
