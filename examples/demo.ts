/**
 * The terminal demo run by `npm start`: a few microthreads interleaving.
 *
 * - two workers on a round-robin "assembly line" yield after each part,
 * - an inspector calls a nested routine (on its own stack, no callbacks),
 * - a sleeper naps and wakes on time,
 * - a clock ticks with `repeat`,
 * - a supervisor spawns helpers and joins them (structured concurrency),
 * and at the end the worker's own dump and counters are printed.
 */
import { repeat, routine, sleep, spawn, Worker } from "clockwork-microthreads";

const start = performance.now();
const stamp = () => `${((performance.now() - start) / 1000).toFixed(2).padStart(5)}s`;
const say = (who: string, what: string) => console.log(`${stamp()}  ${who.padEnd(11)} ${what}`);

const assembler = routine(function* assembler(name: string, parts: string[]) {
  for (const part of parts) {
    say(name, `fits the ${part}`);
    yield; // give up control: the other tasks get a step
  }
  say(name, "is done");
});

const measure = routine(function* measure(part: string) {
  yield sleep(0.2);
  return part.length * 7;
});

const inspector = routine(function* inspector() {
  for (const part of ["wheel", "gearbox"]) {
    // Yielding a generator calls it as a subroutine, and gives its return value.
    const size: number = yield measure(part);
    say("inspector", `measured the ${part}: ${size} mm`);
  }
});

const sleeper = routine(function* sleeper() {
  say("sleeper", "naps for 0.5 s");
  yield sleep(0.5);
  say("sleeper", "wakes up");
});

const helper = routine(function* helper(n: number) {
  yield sleep(0.1 * n);
  return n * n;
});

const supervisor = routine(function* supervisor() {
  const helpers = [1, 2, 3].map((n) => spawn(helper(n)));
  say("supervisor", `spawned ${helpers.length} helpers`);
  const results: number[] = [];
  for (const task of helpers) results.push(yield* task.join());
  say("supervisor", `joined them: ${results.join(", ")}`);
});

const worker = new Worker();
worker.assign(assembler("alice", ["frame", "seat", "bell"]));
worker.assign(assembler("bob", ["chain", "pedals"]));
worker.assign(inspector());
worker.assign(sleeper());
worker.assign(supervisor());
let ticks = 0;
const clockTask = worker.assign(
  repeat(0.25, () => say("clock", `tick ${++ticks}`)),
  { name: "clock" },
);

const stopper = routine(function* stopper() {
  yield sleep(1.1);
  console.log(`\n${worker.dump()}\n`);
  clockTask.cancel();
});
worker.assign(stopper());

worker.work();
const { steps, tasksCreated, tasksFinished } = worker.counters;
console.log(
  `${stamp()}  all done: ${steps} steps, ${tasksCreated} tasks created, ${tasksFinished} finished`,
);
