/// <reference types="node" />
/**
 * A routine as a whole Node program: `main()` and `untilSignal()`, exported
 * by `clockwork-microthreads/process`.
 *
 * `main(routine)` is `run(routine)` plus what a program needs from its
 * process, as Go's runtime, trio's `run` (KeyboardInterrupt) and
 * Effection's `main` give it:
 *
 * - SIGINT and SIGTERM cancel the routine: every `finally` runs (cleanup
 *   may wait: it runs as ordinary steps), then the process exits 130 or 143
 *   (128 + the signal's number), as a shell reports a program a signal
 *   ended. A program that treats the signal as a normal stop (a server
 *   closing gracefully) waits for it instead with `yield* untilSignal()`:
 *   a signal some task of the program waits for is handed to it and
 *   cancels nothing, and the program returns its own status.
 * - A second signal, while the cleanup runs, exits at once (status 128 +
 *   its number), printing the tasks still cleaning up (`worker.dump()`).
 *   Signals in the first half second after the first count as that first
 *   one: `npm start`, tsx and a cluster's primary pass on a Ctrl-C that
 *   the program also got from the terminal, so one Ctrl-C arrives twice.
 * - The exit status follows the outcome: a number the routine returns (0
 *   to 255); otherwise 0 (or `process.exitCode`, if the program set it).
 *   An error (a deadlock's WouldBlockError included) is printed to stderr,
 *   with its routine stack, and the status is 1.
 * - main() holds nothing open, so run()'s deadlock detection still works:
 *   a program whose tasks wait on what can never come ends with a
 *   WouldBlockError instead of hanging. That includes waiting for nothing
 *   but a signal to cancel it (`yield suspend()` and no socket or timer):
 *   a signal listener does not keep a Node process alive. A program that
 *   waits for a signal waits with untilSignal(), which does.
 * - When the routine and its cleanup are done, the signal listeners are
 *   removed, stdout and stderr are flushed, and the process exits, as a Go
 *   program ends when main returns: a socket a client left open or a timer
 *   the program forgot does not keep it running. `{ exit: false }` leaves
 *   the process alone and only resolves with the status (for tests, or a
 *   script with more to do).
 *
 * Only one process listener per signal is added, shared by every main()
 * and untilSignal() in progress, and removed with the last of them.
 */
import { constants } from "node:os";
import { inspect } from "node:util";
import {
  CancelledError,
  currentTask,
  type RunOptions,
  routine,
  run,
  type Task,
  Wait,
  type Worker,
  WouldBlockError,
} from "../index.ts";

/** Options for `main()`: those of `run()` (clock, onError), and how it meets the process. */
export interface MainOptions extends RunOptions {
  /**
   * The signals that stop the program (default `["SIGINT", "SIGTERM"]`);
   * `[]` leaves signals alone.
   */
  signals?: readonly NodeJS.Signals[];
  /**
   * Whether the process exits with the status once the routine and its
   * cleanup are done (default true; stdout and stderr are flushed first).
   * With false, main() only resolves with the status and sets nothing
   * (not even `process.exitCode`). A second signal exits either way.
   */
  exit?: boolean;
}

/** The signals main() and untilSignal() listen to unless told otherwise. */
const DEFAULT_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM"];

/** Milliseconds after a first signal in which another counts as the same one (passed on by a wrapper). */
const REPEAT_WINDOW = 500;

/**
 * Runs `routine` as the program of this Node process (see the top of this
 * file): signals cancel it and its cleanup runs, a second signal exits at
 * once, errors are printed with their routine stack, and the process exits
 * with the status that follows from the outcome. Returns a promise of that
 * status, which resolves only with `{ exit: false }`, and never rejects.
 * Call it once, at the top of the program's script.
 *
 * @example
 * import { main, untilSignal } from "clockwork-microthreads/process";
 *
 * main(function* program() {
 *   const server = yield* serve({ port: 8080 }, handler);
 *   const signal = yield* untilSignal(); // Ctrl-C is a normal stop: exit 0
 *   console.log(`${signal}: closing`);
 *   yield* server.close();
 * }());
 */
export function main(
  // biome-ignore lint/suspicious/noConfusingVoidType: a routine that returns nothing is typed void, and must fit
  routine: Generator<unknown, number | void | undefined, any>,
  options: MainOptions = {},
): Promise<number> {
  checkRoutine("main()", routine);
  checkMainOptions(options);
  const { signals = DEFAULT_SIGNALS, exit = true, ...runOptions } = options;
  const program = new Program(signals);
  return program.run(routine, runOptions).then(async (status) => {
    if (!exit) return status;
    await Promise.all([flush(process.stdout), flush(process.stderr)]);
    return process.exit(status);
  });
}

/**
 * Waits until the process gets one of `signals` (default SIGINT or SIGTERM)
 * and gives its name. While a task waits here, the signal is the program's
 * to handle: under main(), the first signal is handed to the waiting tasks
 * instead of cancelling the program (a later one still exits at once);
 * outside main(), Node's default, ending the process, is off while
 * something waits. It keeps the process alive while it waits, as a
 * program waiting for Ctrl-C should be.
 *
 * @example
 * const signal = yield* untilSignal(); // "SIGINT" on Ctrl-C
 */
export function untilSignal(
  signals: readonly NodeJS.Signals[] = DEFAULT_SIGNALS,
): Generator<unknown, NodeJS.Signals, any> {
  checkSignals("untilSignal()", signals);
  return waitForSignal(new SignalWait([...signals]));
}

const waitForSignal = routine(function* untilSignal(
  wait: SignalWait,
): Generator<unknown, NodeJS.Signals, any> {
  return (yield wait) as NodeJS.Signals;
});

// ------------------------------------------------------------ the programs

/** The main() calls in progress. */
const programs = new Set<Program>();

/** A main() in progress: its task, and what signals did to it. */
class Program {
  readonly #signals: ReadonlySet<NodeJS.Signals>;
  /** Its main task, from its first step on. */
  #task: Task<unknown> | undefined = undefined;
  /** The first signal, and when it came (performance.now()). */
  #first: { signal: NodeJS.Signals; at: number } | undefined = undefined;
  /** Whether the first signal cancelled the program (nothing waited for it). */
  #cancelled = false;

  constructor(signals: readonly NodeJS.Signals[]) {
    this.#signals = new Set(signals);
  }

  /** Runs the routine to its end, and gives the exit status. Never rejects. */
  async run(routine: Generator<unknown, unknown, any>, options: RunOptions): Promise<number> {
    programs.add(this);
    for (const signal of this.#signals) listen(signal);
    try {
      const value = await run(entry(this, routine), options);
      return this.#cancelled ? this.#signalStatus() : exitStatus(value);
    } catch (error) {
      if (this.#cancelled && error instanceof CancelledError) return this.#signalStatus();
      report(error);
      return 1;
    } finally {
      programs.delete(this);
      for (const signal of this.#signals) unlisten(signal);
    }
  }

  /** Its main task starts; false if a signal stopped it first. */
  started(task: Task<unknown>): boolean {
    this.#task = task;
    return !this.#cancelled;
  }

  get worker(): Worker | undefined {
    return this.#task?.worker;
  }

  /**
   * `signal` came. Returns whether the program took it (a signal it does
   * not listen to, or a repeat of the first, is for nobody else).
   */
  onSignal(signal: NodeJS.Signals, now: number): boolean {
    if (!this.#signals.has(signal)) return false;
    const first = this.#first;
    if (first !== undefined) {
      if (now - first.at < REPEAT_WINDOW) return true;
      this.#forceExit(signal);
    }
    this.#first = { signal, at: now };
    const worker = this.worker;
    let handed = false;
    for (const wait of [...waits]) {
      if (wait.worker === worker && wait.deliver(signal)) handed = true;
    }
    if (!handed) {
      this.#cancelled = true;
      this.#task?.cancel();
    }
    return true;
  }

  /** 128 + the number of the signal that cancelled it, as shells report. */
  #signalStatus(): number {
    return 128 + signalNumber((this.#first as { signal: NodeJS.Signals }).signal);
  }

  /** A second signal: out now, saying what was still cleaning up. */
  #forceExit(signal: NodeJS.Signals): never {
    let dump: string;
    try {
      dump = this.worker?.dump() ?? "(the program had not started)";
    } catch (error) {
      dump = `(no dump: ${String(error)})`;
    }
    process.stderr.write(
      `main(): ${signal} again, exiting at once; these tasks had not finished cleaning up:\n${dump}\n`,
    );
    return process.exit(128 + signalNumber(signal));
  }
}

/** The program's main task: the routine as a subroutine, so that main() holds its task. */
const entry = routine(function* main(
  program: Program,
  body: Generator<unknown, unknown, any>,
): Generator<unknown, unknown, any> {
  if (!program.started(currentTask() as Task<unknown>)) return undefined;
  return yield body;
});

/** The status a returned value asks for: a number 0-255; otherwise 0, or the process's exitCode. */
function exitStatus(value: unknown): number {
  if (typeof value === "number") {
    if (Number.isInteger(value) && value >= 0 && value <= 255) return value;
    process.stderr.write(
      `main(): the routine returned ${value}, but an exit status is a whole number from 0 to 255\n`,
    );
    return 1;
  }
  const code = Number(process.exitCode ?? 0);
  return Number.isInteger(code) && code >= 0 && code <= 255 ? code : 1;
}

/** Prints an error as Node prints an uncaught one: its stack (routine stack included), cause and fields. */
function report(error: unknown): void {
  try {
    process.stderr.write(`${inspect(error)}\n`);
  } catch {
    process.stderr.write("main(): the program failed with an error that cannot be printed\n");
  }
  if (error instanceof WouldBlockError) {
    process.stderr.write(
      "main(): a signal handler keeps no process alive: to wait for a signal, wait with untilSignal()\n",
    );
  }
}

/** Waits until what was written to `stream` has gone out (a pipe may still hold some). */
function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) return resolve();
    try {
      stream.write("", () => resolve());
    } catch {
      resolve();
    }
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return (constants.signals as Record<string, number | undefined>)[signal] ?? 0;
}

// ------------------------------------------------------------ the waits

/** The untilSignal() waits parked now. */
const waits = new Set<SignalWait>();

/** A task waiting for one of some signals. While it waits, it holds the process open. */
class SignalWait extends Wait<NodeJS.Signals> {
  readonly signals: readonly NodeJS.Signals[];
  #task: Task<unknown> | null = null;
  #keepAlive: ReturnType<typeof setInterval> | undefined = undefined;

  constructor(signals: readonly NodeJS.Signals[]) {
    super();
    this.signals = signals;
  }

  /** The worker of the waiting task. */
  get worker(): Worker | undefined {
    return this.#task?.worker;
  }

  park(task: Task<unknown>): void {
    this.#task = task;
    waits.add(this);
    for (const signal of this.signals) listen(signal);
    this.#keepAlive = setInterval(() => {}, 2 ** 30);
  }

  override release(): void {
    this.#end();
  }

  /** Wakes the task with `signal` if it waits for it; returns whether it did. */
  deliver(signal: NodeJS.Signals): boolean {
    const task = this.#task;
    if (task === null || !this.signals.includes(signal)) return false;
    const woken = this.wake(task, signal);
    this.#end();
    return woken;
  }

  describe(): string {
    return this.signals.join(" or ");
  }

  #end(): void {
    if (this.#task === null) return;
    this.#task = null;
    waits.delete(this);
    for (const signal of this.signals) unlisten(signal);
    clearInterval(this.#keepAlive);
  }
}

// ------------------------------------------------------------ the listeners

/** How many programs and waits listen to each signal. */
const listeners = new Map<NodeJS.Signals, number>();

function listen(signal: NodeJS.Signals): void {
  const count = listeners.get(signal) ?? 0;
  if (count === 0) process.on(signal, onSignal);
  listeners.set(signal, count + 1);
}

function unlisten(signal: NodeJS.Signals): void {
  const count = listeners.get(signal) ?? 0;
  if (count <= 1) {
    listeners.delete(signal);
    process.removeListener(signal, onSignal);
  } else {
    listeners.set(signal, count - 1);
  }
}

/** The one process listener: each program takes the signal; the waits of no program get it directly. */
function onSignal(signal: NodeJS.Signals): void {
  const now = performance.now();
  const took = new Set<Worker | undefined>();
  for (const program of [...programs]) {
    if (program.onSignal(signal, now)) took.add(program.worker);
  }
  for (const wait of [...waits]) {
    if (!took.has(wait.worker)) wait.deliver(signal);
  }
}

// ------------------------------------------------------------ bad input

function checkRoutine(call: string, routine: unknown): void {
  if (typeof routine === "function") {
    throw new TypeError(
      `${call} expects a generator object, got ${describe(routine)}: call it, as in main(program())`,
    );
  }
  const r = routine as { next?: unknown; throw?: unknown; return?: unknown } | null;
  if (
    typeof r !== "object" ||
    r === null ||
    typeof r.next !== "function" ||
    typeof r.throw !== "function" ||
    typeof r.return !== "function"
  ) {
    throw new TypeError(`${call} expects a generator object, got ${describe(routine)}`);
  }
  if (Symbol.asyncIterator in r && !(Symbol.iterator in r)) {
    throw new TypeError(
      `${call} expects a generator object, got an async generator: write the routine as function*, and where it awaited a promise, yield it`,
    );
  }
}

function checkMainOptions(options: unknown): asserts options is MainOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`main() expects an options object, got ${describe(options)}`);
  }
  const { signals, exit, onError, clock } = options as Record<string, unknown>;
  if (signals !== undefined) checkSignals('main() option "signals"', signals);
  if (exit !== undefined && typeof exit !== "boolean") {
    throw new TypeError(`main() option "exit" expects true or false, got ${describe(exit)}`);
  }
  if (onError !== undefined && typeof onError !== "function") {
    throw new TypeError(`main() option "onError" expects a function, got ${describe(onError)}`);
  }
  if (
    clock !== undefined &&
    (typeof clock !== "object" ||
      clock === null ||
      typeof (clock as { now?: unknown }).now !== "function")
  ) {
    throw new TypeError(
      `main() option "clock" expects a clock (an object with now()), got ${describe(clock)}`,
    );
  }
}

/** Signals a process can listen to: SIGKILL and SIGSTOP cannot be caught. */
function checkSignals(call: string, signals: unknown): asserts signals is NodeJS.Signals[] {
  if (!Array.isArray(signals)) {
    throw new TypeError(
      `${call} expects an array of signal names such as ["SIGINT", "SIGTERM"], got ${describe(signals)}`,
    );
  }
  for (const signal of signals) {
    if (
      typeof signal !== "string" ||
      !Object.hasOwn(constants.signals, signal) ||
      signal === "SIGKILL" ||
      signal === "SIGSTOP"
    ) {
      throw new TypeError(
        `${call} expects signal names that can be caught, such as "SIGINT" or "SIGTERM", got ${describe(signal)}`,
      );
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === "function") return `a function (${value.name || "anonymous"})`;
  try {
    return inspect(value, { depth: 0, breakLength: Number.POSITIVE_INFINITY });
  } catch {
    return "a value that throws when inspected";
  }
}
