/**
 * each: a loop over a channel until it is closed and drained.
 */
import type { Channel } from "./channel.ts";
import { describeValue, isGenerator } from "./describe.ts";
import { routine } from "./names.ts";

const eachRoutine = routine(function* each(
  channel: Channel<unknown>,
  body: (value: unknown) => unknown,
) {
  for (;;) {
    const next = yield* channel.receiveOrClosed();
    if (!next.ok) return;
    const result = body(next.value);
    // A generator runs as a subroutine, a promise is waited for, before the next value.
    if (isGenerator(result) || isThenable(result)) yield result;
  }
});

/**
 * Receives every value of `channel`, in order, and calls `body` with each,
 * until the channel is closed and drained; then returns. If `body` returns
 * a generator it runs as a subroutine (and a promise is waited for) before
 * the next value is received, so the loop goes at the body's pace.
 *
 * @example
 * yield* each(jobs, function* (url) {
 *   yield* check(url);
 * });
 */
export function each<T>(
  channel: Channel<T>,
  body: (value: T) => unknown,
): Generator<unknown, void, any> {
  const c = channel as { receiveOrClosed?: unknown };
  if (typeof c !== "object" || c === null || typeof c.receiveOrClosed !== "function") {
    throw new TypeError(`each() expects a Channel, got ${describeValue(channel)}`);
  }
  if (typeof body !== "function") {
    throw new TypeError(
      `each() expects a function to call with each value, got ${describeValue(body)}`,
    );
  }
  return eachRoutine(channel as Channel<unknown>, body as (value: unknown) => unknown);
}

function isThenable(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
