/**
 * The numbers a task's fields are made of (states, resume modes, flags),
 * and which task is stepping now. A module of its own, with no imports,
 * so that small modules (delegation.ts) can read a task's flags without
 * importing the Task class.
 */
import type { Task } from "./task.ts";

/** The states a task can be in, as reported by `task.state`. */
export type TaskState = "runnable" | "waiting" | "done" | "failed" | "cancelled";

/** @internal Task states, as small integers. Order matters: >= DONE means ended. */
export const RUNNABLE = 0;
/** @internal */
export const WAITING = 1;
/** @internal */
export const DONE = 2;
/** @internal */
export const FAILED = 3;
/** @internal */
export const CANCELLED = 4;

/** @internal */
export const stateNames: readonly TaskState[] = [
  "runnable",
  "waiting",
  "done",
  "failed",
  "cancelled",
];

/** @internal How the top generator is resumed on the task's next step. */
export const NEXT = 0;
/** @internal */
export const THROW = 1;
/** @internal */
export const RETURN = 2;
/** @internal Resumed with what its wait (kept in `_input`) gives as the task runs: see CLAIM in wait.ts. */
export const CLAIMED = 3;

/** @internal Flag bits. */
export const CANCELLING = 2; // cancel() was called
/** @internal */
export const BODY_ENDED = 4; // its call stack is empty; it may wait for children
/** @internal */
export const HANDLED = 8; // its error reached a joiner or a promise
/** @internal */
export const INTERRUPTED = 16; // a cancel or a child's error waits for its current step to end
/** @internal */
export const UNWINDING = 32; // its frames are being returned top-down
/** @internal */
export const CLEANUP_FAILED = 64; // a finally run by cancel threw; the error is in _extra.cleanupError
/** @internal */
export const CANCEL_PENDING = 128; // cancelled while shielded: the cancel comes when its shields end
/** @internal */
export const RESOURCE = 256; // a resource (resource()): cancelled once only resources are left of its parent's children

/** @internal What `running` asks a worker: the task it is stepping now. */
export interface Stepping {
  _current: Task<unknown> | undefined;
}

/**
 * @internal The module-wide "which task is stepping now": the worker whose
 * driving call is under way (set by its driver around each call or slice
 * of run(), and put back after), and through it the task it is stepping.
 *
 * Why not one slot set at every step: a task stored into a long-lived
 * object (this module's) costs a write barrier's slow path (~50
 * instructions) whenever the task is younger than the object, which a
 * freshly spawned task is. The worker's own slot is as young as the
 * worker, so a step stores the task there, and this object changes only
 * per driving call.
 */
export const running = {
  /** The worker whose driving call is under way, or undefined. */
  worker: undefined as Stepping | undefined,
  /** The task whose step is running now, or undefined outside a step. */
  get task(): Task<unknown> | undefined {
    const worker = this.worker;
    return worker === undefined ? undefined : worker._current;
  },
};
