/**
 * Reporting: what the worker says about its tasks, in words. The dump of
 * `worker.dump()`, a task's state as `describeState()` gives it, the
 * message of a refused yield, the routine stack added to an error's
 * stack text, and the WouldBlockError of a program that can go no further.
 * Everything here only reads tasks; none of it changes one, and none of it
 * may throw at a caller that is only trying to say what went wrong.
 */
import {
  ASYNC_GENERATOR_HINT,
  describeError,
  describeValue,
  isAsyncGenerator,
  isGeneratorFunction,
} from "./describe.ts";
import { WouldBlockError } from "./errors.ts";
import { CHILDREN } from "./join.ts";
import { nameOf } from "./names.ts";
import { CANCELLING, DONE, running, type Task, WAITING } from "./task.ts";
import { Wait } from "./wait.ts";
import type { Worker } from "./worker.ts";

/** Each live task, its state, what it waits on, and its call stack; children indented under parents. */
export function dumpWorker(worker: Worker): string {
  const { steps, tasksCreated, tasksFinished } = worker.counters;
  const lines = [
    `worker: ${worker._live()} live tasks, ${worker._runnable()} runnable, ${worker._sleeping()} sleeping; ` +
      `${steps} steps, ${tasksCreated} tasks created, ${tasksFinished} finished; clock ${worker.clock.now().toFixed(3)} s`,
  ];
  const visit = (task: Task<unknown>, depth: number): void => {
    const indent = "  ".repeat(depth + 1);
    lines.push(`${indent}${task.label()} ${describeState(task)}`);
    const stack = task.stack;
    if (stack.length > 0) lines.push(`${indent}  at ${stack.join(" > ")}`);
    for (const child of task.children) visit(child, depth + 1);
  };
  for (const t of worker._topLevel()) visit(t, 0);
  return lines.join("\n");
}

/** A task's state and what it waits on, in words: "waiting on sleep until 3.000". */
export function describeState(task: Task<unknown>): string {
  const on = task._waitingOn;
  let state: string = task.state;
  if (task === running.task) state = "running";
  else if (task._flags & CANCELLING && task._state < DONE) state = `${state}, cancelling`;
  if (task._state !== WAITING) return state;
  if (on === CHILDREN) {
    const n = task._extra?.children?.length ?? 0;
    return `${state} on its ${n} ${n === 1 ? "child" : "children"}`;
  }
  if (on instanceof Wait) return `${state} on ${on.describe()}`;
  return state;
}

/** work() found no way on, or run() found the event loop empty: the tasks left wait for ever. */
export function wouldBlockError(worker: Worker, call: "work()" | "run()"): WouldBlockError {
  const waiting = worker.tasks.filter((t) => t._state === WAITING && t._waitingOn !== CHILDREN);
  const listed = waiting.map((t) => {
    let state: string = t.state;
    try {
      state = describeState(t); // a Wait's describe() is user code
    } catch {}
    return `${t.label()} (${state})`;
  });
  const n = waiting.length;
  return new WouldBlockError(
    call === "work()"
      ? `work() would block: no task is runnable and no timer is pending, but ${n} ` +
          `${n === 1 ? "task waits" : "tasks wait"} on what only the event loop or code outside the worker can deliver: ` +
          `${listed.join(", ")}. Use "await worker.run()" for such programs.`
      : "run() is deadlocked: no task is runnable, no timer is pending and the event loop has nothing " +
          `left to do, so nothing can wake the ${n === 1 ? "task that waits" : `${n} tasks that wait`}: ` +
          `${listed.join(", ")}`,
    waiting.map((t) => t.name),
  );
}

/**
 * Errors that have their routine stack: null once it is in their `stack`
 * text, or what it waits for (see noteWhenRead).
 */
const noted = new WeakMap<object, PendingNote | null>();

/** A routine stack to add to an error's `stack` when it is first read, and the accessor it was. */
interface PendingNote {
  own: PropertyDescriptor;
  note: string;
}

/**
 * Errors from nested routines carry the microthread's call stack: the first
 * time an error leaves a routine, the task's routine names are added to its
 * `stack` text (the error object itself is kept, never wrapped).
 *
 * Where the engine keeps `stack` as an accessor on the error (V8 12 and
 * later: Node 22, Chrome), the text is added when `stack` is first read, so
 * an error that is caught and never printed does not pay for formatting its
 * stack trace (half the time of a schedule that throws, on the simulation
 * corpus); the accessor is put back then, with the names added. Elsewhere
 * (Node 20 keeps a data property, which cannot be read without formatting
 * it) the text is added at once.
 */
export function noteRoutineStack(error: unknown, task: Task<unknown>): void {
  if (typeof error !== "object" || error === null || noted.has(error)) return;
  noted.set(error, null);
  const e = error as { stack?: unknown };
  try {
    const note = `\n    in ${task.label()}, routine stack: ${task.stack.join(" > ")}`;
    const own = Object.getOwnPropertyDescriptor(e, "stack");
    if (typeof own?.get === "function" && own.configurable === true && own.enumerable === false) {
      noted.set(e, { own, note });
      Object.defineProperty(e, "stack", noteWhenRead);
    } else if (own !== undefined && "value" in own) {
      if (typeof own.value === "string") e.stack = own.value + note; // Node 20: read once, formatted
    } else if (typeof e.stack === "string") e.stack += note;
  } catch {
    // A frozen error, a getter-only stack, a Proxy, a frame whose name cannot be read: leave it as it is.
  }
}

/**
 * The `stack` of an error whose routine stack waits for its first read or
 * write (one accessor for all of them): it puts the error's own accessor
 * back, then reads and writes through it as `e.stack += note` would have.
 */
const noteWhenRead: PropertyDescriptor = {
  configurable: true,
  enumerable: false,
  get(this: object): unknown {
    const pending = settle(this);
    if (pending === undefined) return undefined;
    const { error, note } = pending;
    const stack = error.stack;
    if (typeof stack !== "string") return stack;
    try {
      error.stack = stack + note;
    } catch {
      return stack; // a getter-only stack: left as it is
    }
    return error.stack;
  },
  set(this: object, value: unknown): void {
    const pending = settle(this);
    if (pending !== undefined) pending.error.stack = value;
  },
};

/**
 * The error whose pending `stack` a read or write of `from.stack` reached
 * (`from` itself, or an object inheriting from it), with its own accessor
 * put back, and the note it waited to add.
 */
function settle(from: object): { error: { stack?: unknown }; note: string } | undefined {
  for (let o: object | null = from; o !== null; o = Object.getPrototypeOf(o)) {
    const pending = noted.get(o);
    if (pending == null) continue;
    noted.set(o, null);
    Object.defineProperty(o, "stack", pending.own);
    return { error: o, note: pending.note };
  }
  return undefined;
}

/** Why a yielded value was refused; `threw`: what looking at it threw, if it did. Never throws itself. */
export function badYieldMessage(
  task: Task<unknown>,
  value: unknown,
  threw?: { error: unknown },
): string {
  let hint = "";
  if (threw !== undefined) {
    hint = ` (looking at it threw ${describeError(threw.error)})`;
  } else {
    try {
      if (isGeneratorFunction(value)) hint = "; call it to get a generator: yield fn()";
      else if (isAsyncGenerator(value))
        hint = `; an async generator cannot be stepped: ${ASYNC_GENERATOR_HINT}`;
    } catch {
      // Its getters or Proxy traps throw: describeValue() says so below.
    }
  }
  return (
    `${whereIn(task)} yielded ${describeValue(value)}${hint}. A routine may yield: nothing ` +
    "(undefined or null) to give up control, a generator to call it, a Task to join it, " +
    "a promise (thenable) to wait for it, or a wait object (sleep(), park() ...)"
  );
}

/** `task "crawl" (in routine fetchPage)`, for messages about the task's top frame. Never throws. */
function whereIn(task: Task<unknown>): string {
  if (task._top === null) return task.label();
  let name: string | undefined;
  try {
    name = nameOf(task._top);
  } catch {
    // A Proxy frame whose traps throw.
  }
  return `${task.label()} (in routine ${name ?? "<anonymous>"})`;
}

/** The `name` of an options object given to `call` (assign(), spawn()), checked. */
export function checkName(call: string, options: unknown): string | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${call} expects an options object, got ${describeValue(options)}`);
  }
  const name = (options as { name?: unknown }).name;
  if (name !== undefined && typeof name !== "string") {
    throw new TypeError(`${call} option "name" expects a string, got ${describeValue(name)}`);
  }
  return name;
}
