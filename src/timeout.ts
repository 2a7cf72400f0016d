/**
 * timeout: a routine with a time limit in the worker's clock. Around an
 * operation, a select with a timer (select.ts); otherwise a member task and
 * a timer entry of its group (group.ts).
 */
import { checkSeconds } from "./clock.ts";
import { TimeoutError } from "./errors.ts";
import {
  checkRoutines,
  type Ending,
  Group,
  settle,
  startMembers,
  TIMEOUT,
  TIMER,
} from "./group.ts";
import { routine } from "./names.ts";
import { selectable, timeoutOperation } from "./select.ts";
import type { Task } from "./task.ts";

const timeoutRoutine = routine(function* timeout(
  seconds: number,
  body: Generator<unknown, unknown, any>,
) {
  const group = new Group(TIMEOUT, 1, seconds);
  startMembers(group, [body]);
  yield* settle(group);
  if (group._decided === TIMER) {
    const task = group._tasks[0] as Task<unknown>;
    throw new TimeoutError(`${task.label()} timed out after ${seconds} s (it was cancelled)`);
  }
  const ending = group._endings[0] as Ending;
  if (!ending.ok) throw ending.error;
  return ending.value;
});

/**
 * Runs a routine with a time limit (in the worker's clock): its value, or
 * its error, or a TimeoutError once `seconds` have passed, after the
 * routine was cancelled and its `finally` blocks ran. Around a channel
 * operation it is a select with a timer: the value, or the timeout, never
 * both.
 *
 * @example
 * const page = yield* timeout(10, fetchPage(url));
 * const job = yield* timeout(1, jobs.receive());
 */
export function timeout<R>(
  seconds: number,
  routine: Generator<unknown, R, any>,
): Generator<unknown, R, any> {
  checkSeconds("timeout()", seconds);
  const [body] = checkRoutines("timeout()", [routine]) as [Generator<unknown, unknown, any>];
  const cases = selectable([body]);
  if (cases !== null) {
    return timeoutOperation(seconds, cases[0] as never) as Generator<unknown, R, any>;
  }
  return timeoutRoutine(seconds, body) as Generator<unknown, R, any>;
}
