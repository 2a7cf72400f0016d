/**
 * Program: the private worker of `wrap()` and `run()`, which run a routine
 * as a whole program from plain code, and how they turn what happened into
 * one outcome (the routine's value, or one error with the others attached).
 */
import type { Clock } from "./clock.ts";
import { describeError } from "./describe.ts";
import { WouldBlockError } from "./errors.ts";
import type { Task } from "./task.ts";
import { Worker } from "./worker.ts";

/** Options for `wrap()` and `run()`. */
export interface RunOptions {
  /** Where time comes from; default: the host's monotonic clock. */
  clock?: Clock;
  /**
   * Receives each error another task (a detached one, say) left unhandled,
   * and the program goes on. Without it, such an error ends the program.
   */
  onError?: (error: unknown, task: Task<unknown>) => void;
}

/**
 * The private worker of wrap() or run(), and the errors its driving calls
 * threw. The routine is the worker's main task: when it ends, the worker
 * cancels every task left. The first error a driving call throws ends the
 * program the same way, and driving goes on until the cleanup is over,
 * collecting any further errors.
 */
export class Program<R> {
  readonly worker: Worker;
  /** The routine's task. */
  readonly main: Task<R>;
  /** What the driving calls threw, in order. */
  readonly #errors: unknown[] = [];
  /** Whether the routine had ended when the first error came: its own error, if any, came first. */
  #mainFirst = false;

  constructor(routine: Generator<unknown, R, any>, options: RunOptions) {
    this.worker = new Worker(options);
    this.main = this.worker._assignMain(routine);
  }

  /** A driving call threw `error`; returns whether to drive on. */
  failed(error: unknown): boolean {
    // Once the routine has ended or an error came, every task left is being cancelled.
    const ending = this.#errors.length > 0 || this.main.isDone();
    if (this.#errors.length === 0) this.#mainFirst = this.main.isDone();
    this.#errors.push(error);
    // Cleanup that waits on what only the event loop could bring: leave it.
    if (ending) return !(error instanceof WouldBlockError);
    this.worker.cancelAll();
    return true;
  }

  /** The routine's value; or the first error, with the others attached. */
  outcome(call: string): R {
    const main = this.main;
    const errors = [...this.#errors];
    if (main.state === "failed") {
      if (this.#mainFirst || errors.length === 0) errors.unshift(main.error);
      else errors.splice(1, 0, main.error);
    }
    if (errors.length > 0) throw oneError(call, errors);
    if (main.state === "cancelled") throw main._cancelledError();
    return main.result;
  }
}

/** Errors that already carry suppressed ones from us (so another run may set them again). */
const carriers = new WeakSet<object>();

/**
 * One error for many: the first, with the others in its `suppressed` array
 * and its stack text; an AggregateError of all when the first cannot carry
 * them (not an object, frozen, or with a `suppressed` of its own).
 */
function oneError(call: string, errors: unknown[]): unknown {
  const [first, ...others] = [...new Set(errors)];
  if (others.length === 0) return first;
  try {
    if (
      typeof first === "object" &&
      first !== null &&
      Object.isExtensible(first) &&
      (!Object.hasOwn(first, "suppressed") || carriers.has(first))
    ) {
      Object.defineProperty(first, "suppressed", {
        value: others,
        writable: true,
        configurable: true,
      });
      carriers.add(first);
      appendSuppressed(first, others);
      return first;
    }
  } catch {
    // A Proxy that refuses: fall through.
  }
  return new AggregateError(
    [first, ...others],
    `${call}: ${others.length + 1} errors; the first: ${describeError(first)}`,
  );
}

/** Appends "Suppressed: <its stack>" for each error to the stack text, as a JVM prints them. */
function appendSuppressed(error: object, others: unknown[]): void {
  try {
    const e = error as { stack?: unknown };
    if (typeof e.stack !== "string") return;
    for (const other of others) {
      let text: string;
      try {
        const stack = (other as { stack?: unknown } | null)?.stack;
        text = typeof stack === "string" ? stack : describeError(other);
      } catch {
        text = describeError(other);
      }
      e.stack += `\n  Suppressed: ${text.replaceAll("\n", "\n  ")}`;
    }
  } catch {
    // A frozen stack: the suppressed array still has them.
  }
}
