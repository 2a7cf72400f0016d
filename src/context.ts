/**
 * Context: a value a task and its descendants can read without passing it
 * down (Go's `context.Value`, Node's AsyncLocalStorage, Effection's
 * contexts). A request id every log line of a request's tasks prints, a
 * deadline, a logger.
 *
 * `set` binds the value on the current task. `get` looks for the nearest
 * binding: the current task, then its parent, and so on; a detached task
 * continues with the task that spawned it. A binding set later in a parent
 * is seen by its children from then on (they look it up when they read).
 * Nothing is copied per task, so a task that never uses a context pays
 * nothing for it.
 */
import { describeValue } from "./describe.ts";
import { running, type Task } from "./task.ts";

const NONE: unique symbol = Symbol("clockwork.noValue");

/**
 * A task-local value, inherited by child tasks.
 *
 * @example
 * const requestId = new Context<string>("requestId");
 * function* handle(req) {
 *   requestId.set(req.headers["x-request-id"] ?? randomId());
 *   yield* all([fetchUser(req), fetchCart(req)]); // both can read requestId.get()
 * }
 */
export class Context<T> {
  /** Its name, for messages. */
  readonly name: string;
  readonly #default: T | typeof NONE;

  /** `defaultValue` is what `get` gives where nothing was set; without one, `get` throws there. */
  constructor(name: string, ...defaultValue: [] | [T]) {
    if (typeof name !== "string" || name === "") {
      throw new TypeError(
        `new Context() expects a name, a non-empty string, got ${describeValue(name)}`,
      );
    }
    this.name = name;
    this.#default = defaultValue.length === 0 ? NONE : (defaultValue[0] as T);
  }

  /** The value for the current task: its own binding, else the nearest ancestor's, else the default. */
  get(): T {
    const task = running.task;
    for (let t: Task<unknown> | null | undefined = task; t != null; t = contextParentOf(t)) {
      const bindings = t._extra?.contexts;
      if (bindings?.has(this)) return bindings.get(this) as T;
    }
    if (this.#default !== NONE) return this.#default;
    throw new Error(
      task === undefined
        ? `context "${this.name}" has no value outside a task, and no default`
        : `context "${this.name}" has no value in ${task.label()}: set it in this task or one of its parents, or give it a default`,
    );
  }

  /** Binds `value` on the current task: it and its descendants read it from now on. */
  set(value: T): void {
    const task = running.task;
    if (task === undefined) {
      throw new Error(
        `context "${this.name}": set() is for inside a task (it binds the value on the running task)`,
      );
    }
    const extra = task._extraFields();
    if (extra.contexts === null) extra.contexts = new Map();
    extra.contexts.set(this, value);
  }
}

/** Where a task's lookups go next: its parent, or for a detached task the task that spawned it. */
function contextParentOf(task: Task<unknown>): Task<unknown> | null {
  return task._parent ?? task._extra?.creator ?? null;
}
