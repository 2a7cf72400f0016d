/**
 * all: routines run at once as child tasks; all their results, or the
 * first failure (after the others have unwound). See group.ts for how.
 */
import { ALL, checkRoutines, Group, settle, startMembers } from "./group.ts";
import { routine } from "./names.ts";
import { keepShapes } from "./shapes.ts";
import { suspend } from "./wait.ts";

let shapesKept = false;

const allRoutine = routine(function* all(bodies: Generator<unknown, unknown, any>[]) {
  const group = new Group(ALL, bodies.length);
  startMembers(group, bodies);
  yield* settle(group);
  if (group._decided >= 0) throw (group._endings[group._decided] as { error: unknown }).error;
  return group._endings.map((e) => (e as { value: unknown }).value);
});

/**
 * Runs routines at once as child tasks and gives all their results, in
 * order. The first failure cancels the others at once and is thrown (after
 * they have finished unwinding).
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
  const checked = checkRoutines("all()", routines);
  if (!shapesKept) {
    shapesKept = true;
    keepShapes(() => all([suspend()[Symbol.iterator]()]));
  }
  return allRoutine(checked) as never;
}
