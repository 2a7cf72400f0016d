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

export { Broadcast, type SubscribeOptions, Subscription } from "./broadcast.ts";
// Bridges to plain code and promises.
export { call, type RunOptions, run, wrap } from "./call.ts";
// Coordination between tasks.
export { Channel, ChannelClosedError, type Received } from "./channel.ts";
// Time.
export { type Clock, realClock, VirtualClock } from "./clock.ts";
export { Context } from "./context.ts";
export { each } from "./each.ts";
// Errors.
export { CancelledError, TimeoutError, WouldBlockError } from "./errors.ts";
export { Future } from "./future.ts";
export { all, race, timeout } from "./group.ts";
// Naming routines, so tasks and stacks read as the program does.
export { routine } from "./names.ts";
export { type Provide, resource } from "./resource.ts";
export { Result } from "./result.ts";
export { type SelectKeyedResult, type SelectResult, select, trySelect } from "./select.ts";
export { Semaphore } from "./semaphore.ts";
export { shield } from "./shield.ts";
export { repeat, sleep } from "./sleep.ts";
export { spawn } from "./spawn.ts";
export { currentTask, Task, type TaskState } from "./task.ts";
export { Ticker } from "./ticker.ts";

// The low-level park/wake API that every wait is built on.
export { type Outcome, park, suspend, Wait, type Waker } from "./wait.ts";
// The scheduler and its tasks.
export {
  type AssignOptions,
  type SlowStep,
  Worker,
  type WorkerCounters,
  type WorkerOptions,
} from "./worker.ts";

/** A routine: a generator object as made by calling a generator function. */
export type Routine<R = void> = Generator<unknown, R, any>;

// Keeps the hidden classes of hot objects alive across full GCs (see the file).
import "./keep-shapes.ts";
