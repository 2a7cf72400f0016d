/**
 * clockwork: microthreads for TypeScript.
 *
 * A routine is a generator function; a running routine is a task; a Worker
 * steps tasks round-robin. `yield` gives up control, `yield child()` calls
 * a subroutine on the task's own stack, and the worker is driven by
 * `tick()` (a game loop), `work()` (to the end) or `run()` (alongside the
 * event loop).
 *
 * This file is the table of contents.
 */

// The scheduler and its tasks.
export {
  type AssignOptions,
  type SlowStep,
  Worker,
  type WorkerCounters,
  type WorkerOptions,
} from "./worker.ts";
export { currentTask, Task, type TaskState } from "./task.ts";
// Simulation: the Worker option "schedule" (the rest is in clockwork-microthreads/sim).
export type { Schedule, SimEnv } from "./schedule.ts";
export { type SpawnOptions, spawn } from "./spawn.ts";
// Naming routines, so tasks and stacks read as the program does.
export { routine } from "./names.ts";

// Time.
export { type Clock, realClock, VirtualClock } from "./clock.ts";
export { repeat, sleep } from "./sleep.ts";
export { Ticker } from "./ticker.ts";

// Running routines together.
export { all } from "./all.ts";
export { race } from "./race.ts";
export { timeout } from "./timeout.ts";

// Coordination between tasks.
export { Channel, ChannelClosedError, type Received } from "./channel.ts";
export { each } from "./each.ts";
export {
  type ResultOf,
  type SelectKeyedResult,
  type SelectResult,
  select,
  trySelect,
} from "./select.ts";
export { Broadcast, type Overflow, type SubscribeOptions, Subscription } from "./broadcast.ts";
export { Semaphore } from "./semaphore.ts";
export { Future } from "./future.ts";

// Lifetimes: cleanup a cancel cannot cut, values with a lifetime, task-local values.
export { shield } from "./shield.ts";
export { type Provide, resource } from "./resource.ts";
export { Context } from "./context.ts";

// Bridges to plain code and promises.
export { type Callable, call } from "./call.ts";
export type { RunOptions } from "./program.ts";
export { run } from "./run.ts";
export { wrap } from "./wrap.ts";
export { Result } from "./result.ts";

// Errors.
export { CancelledError, TimeoutError, WouldBlockError } from "./errors.ts";

// The low-level park/wake API that every wait is built on.
export { type Outcome, park, suspend, Wait, type Waker } from "./wait.ts";

/** A routine: a generator object as made by calling a generator function. */
export type Routine<R = void> = Generator<unknown, R, any>;
