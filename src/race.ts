/**
 * race: the first routine to end wins; the others are cancelled at once.
 * Over operations alone, a select (select.ts); otherwise member tasks
 * (group.ts).
 */
import { checkRoutines, type Ending, Group, RACE, settle, startMembers } from "./group.ts";
import { routine } from "./names.ts";
import { type ResultOf, raceOperations, selectable } from "./select.ts";

const raceRoutine = routine(function* race(bodies: Generator<unknown, unknown, any>[]) {
  const group = new Group(RACE, bodies.length);
  startMembers(group, bodies);
  yield* settle(group);
  const winner = group._endings[group._decided] as Ending;
  if (!winner.ok) throw winner.error;
  return winner.value;
});

/**
 * The first routine to end wins: its value, or its error thrown. The
 * others are cancelled in that same moment, and race() returns only once
 * their `finally` blocks have run. Over channel operations (and sleeps)
 * alone it is a select: exactly one of them happens, so a race of two
 * receives never takes a value it then drops.
 *
 * @example
 * const reply = yield* race([askServer(a), askServer(b)]);
 * const next = yield* race([urgent.receive(), normal.receive()]);
 * const either = yield* race([count(), name()]); // number | string
 */
export function race<G extends readonly Generator<unknown, unknown, any>[]>(
  routines: G,
): Generator<unknown, ResultOf<G[number]>, any>;
/**
 * The same, with the result type given: `race<Read | Write>([...])`
 * checks each routine against it.
 */
export function race<T>(
  routines: readonly Generator<unknown, T, any>[],
): Generator<unknown, T, any>;
export function race(
  routines: readonly Generator<unknown, unknown, any>[],
): Generator<unknown, unknown, any> {
  const bodies = checkRoutines("race()", routines);
  if (bodies.length === 0)
    throw new TypeError("race() needs at least one routine: a race of none never ends");
  const cases = selectable(bodies);
  if (cases !== null) return raceOperations(cases);
  return raceRoutine(bodies);
}
