/// <reference types="node" />
/**
 * Child processes as routines: `clockwork-microthreads/process`.
 *
 * The original library polled a child in a loop until it exited. Here the
 * task parks until Node reports the exit, and costs nothing meanwhile. It
 * is built only on the core's public API (a Future that the child's events
 * settle, waited for like any other wait).
 *
 * Never a shell: argv goes to the program as it is. Output is collected as
 * it arrives, so nothing read is lost, whatever ends the run. Cancelling the
 * task (or the `timeout` option, or output past `maxBuffer`) sends SIGTERM,
 * then SIGKILL after a grace period, and the routine's cleanup waits for the
 * exit, so the child is reaped before the task ends.
 *
 * The same entry point runs a routine as this process's own program:
 * `main()` and `untilSignal()`, in main.ts.
 */
import { constants as bufferConstants } from "node:buffer";
import { type ChildProcess, spawn as spawnChild } from "node:child_process";
import { statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import type { Readable, Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import {
  all,
  Channel,
  ChannelClosedError,
  Future,
  routine,
  shield,
  spawn,
  type Task,
  TimeoutError,
} from "../index.ts";

// A routine as the whole program: signals, exit status, errors printed.
export { type MainOptions, main, untilSignal } from "./main.ts";

/**
 * Where a child's stdout (or stderr) goes:
 * - `"pipe"` (the default): kept in `stdout` (`stderr`), and handed to `lines` if given;
 * - `"tee"`: the same, and copied to this process's own stdout (stderr) as it arrives, so the
 *   user watches a build while the program keeps its log;
 * - `"inherit"`: straight to this process's stdout (stderr), the child writing to it itself:
 *   nothing is kept (a terminal stays a terminal for the child, with its colours);
 * - `"ignore"`: nowhere (/dev/null).
 */
export type OutputMode = "pipe" | "tee" | "inherit" | "ignore";

/**
 * How a child's output is kept: a text encoding Node knows ("utf8", the default; "utf16le",
 * "latin1", "ascii", "base64", "base64url", "hex"), or "buffer" for the bytes as they came, a
 * Uint8Array (an image, a tarball, a protocol that is not text).
 */
export type OutputEncoding = BufferEncoding | "buffer";

/** What `stdout` and `stderr` hold with `encoding: E`: a Uint8Array for "buffer", else a string. */
export type Output<E extends OutputEncoding = OutputEncoding> = E extends "buffer"
  ? Uint8Array
  : string;

/** Options for `new Command()` and `exec()`. */
export interface CommandOptions<E extends OutputEncoding = OutputEncoding> {
  /** Working directory of the child. */
  cwd?: string;
  /** Environment of the child (default: this process's). */
  env?: Record<string, string>;
  /**
   * How stdout and stderr are kept (default "utf8"): "buffer" keeps the bytes, a Uint8Array,
   * set when the stream has ended; any other encoding decodes them into a string as they come
   * (a character cut between two chunks is kept whole). `lines` are decoded the same way, so
   * "buffer" cannot go with `lines` or `stderrLines`.
   */
  encoding?: E;
  /**
   * The child's standard input: a string or bytes, written at once and then closed; or a
   * Channel whose values (strings or Uint8Arrays) are written one by one as they are taken,
   * stdin being closed when the channel is. A value is taken only once the child has read the
   * one before (stdin drained), so a fast producer waits for a slow child instead of filling
   * memory. When the child no longer reads (it has exited, or closed its stdin), the channel is
   * closed, so a producer's next `send` throws ChannelClosedError instead of waiting forever.
   */
  input?: string | Uint8Array | Channel<string | Uint8Array>;
  /**
   * Seconds the child may run; then it is stopped and `run()` throws CommandTimeoutError (a
   * TimeoutError with the output read until then). Default 0: no timeout (as Node and execa
   * read 0).
   */
  timeout?: number;
  /**
   * Bytes kept of each of stdout and stderr (default 100 MiB, 104,857,600 bytes); past that the
   * child is stopped and `run()` throws CommandError, with the first maxBuffer bytes kept.
   * `Infinity` keeps all a string can hold (about 512 MiB; past that, CommandError too).
   */
  maxBuffer?: number;
  /**
   * The signal that stops the child when it has to be stopped (a cancel, the timeout, maxBuffer,
   * `kill()`), by name or number (default "SIGTERM"); SIGKILL follows after `killGrace`.
   */
  killSignal?: NodeJS.Signals | number;
  /** Seconds between the killSignal and SIGKILL when the child has to be stopped (default 2). */
  killGrace?: number;
  /**
   * A channel that gets each line of stdout (without its "\n" or "\r\n") as it
   * arrives, for long-running children; it is closed when stdout ends. When
   * the channel's readers fall behind, reading from the child pauses, so a
   * chatty child waits instead of filling memory. (`stdout` still collects
   * everything, up to maxBuffer.) A reader that has seen enough may close the channel: the
   * child's output is still read (and kept in `stdout`), and its lines dropped.
   */
  lines?: Channel<string>;
  /** The same as `lines`, for stderr: a long build's warnings, as they come. */
  stderrLines?: Channel<string>;
  /**
   * Also keeps stdout and stderr interleaved in one `all`, in the order their chunks arrived
   * (default false), as a terminal would have shown them. Each stream is read on its own pipe,
   * so two writes very close together may swap. It holds what `stdout` and `stderr` hold, so at
   * most twice maxBuffer (and never more than a string or Buffer holds).
   */
  all?: boolean;
  /** Where stdout goes (default "pipe": kept); see OutputMode. */
  stdout?: OutputMode;
  /** Where stderr goes (default "pipe": kept); see OutputMode. */
  stderr?: OutputMode;
  /**
   * Whether stdout and stderr are kept in `stdout` and `stderr` (default true). With false they
   * stay empty and maxBuffer bounds only the longest line handed to `lines`: for a child that
   * talks for hours, read through `lines` or watched through `"tee"`.
   */
  buffer?: boolean;
  /**
   * Runs the child in a process group of its own (POSIX), and stops the
   * whole group when it has to be stopped: a child that starts children of
   * its own (a shell script, a build tool) takes them along instead of
   * leaving them running. Such a group does not get the terminal's Ctrl-C.
   */
  processGroup?: boolean;
  /**
   * Stops the child when this process exits while it runs (default true): on `process.exit()`,
   * at the end of the program, after an uncaught error, and on a SIGINT, SIGTERM or SIGHUP that
   * this program does not handle itself (Ctrl-C reaches a `processGroup` this way too). It gets
   * the `killSignal` (there is no time left to follow with SIGKILL). Only a SIGKILL of this
   * process cannot be passed on. False leaves the child running (a daemon).
   */
  cleanup?: boolean;
}

/** How a command ended; `stdout` and `stderr` are Uint8Arrays with `encoding: "buffer"`. */
export interface CommandResult<O extends string | Uint8Array = string> {
  /** What the child wrote to stdout (empty when it was not kept). */
  stdout: O;
  /** What the child wrote to stderr (empty when it was not kept). */
  stderr: O;
  /** The exit code, or null if a signal ended the child. */
  exitCode: number | null;
  /** The signal that ended the child, or null. */
  signal: string | null;
  /** With `all: true`: stdout and stderr interleaved, in the order they arrived. */
  all?: O;
  /** The argv as one line, quoted as a POSIX shell would read it (see `quoteArgv`). */
  commandLine: string;
  /**
   * Seconds from the start of the child until it had exited and its output was read (seconds,
   * as every time in clockwork; 0.25 is 250 ms).
   */
  duration: number;
}

/** What a CommandError and a CommandTimeoutError keep of the command. */
export interface Failure {
  /** Node's error code when Node gave one ("ENOENT", "EACCES", "ERR_CHILD_PROCESS_STDIO_MAXBUFFER"). */
  code?: string | undefined;
  /** The error from Node behind it, when there was one (`error.cause`). */
  cause?: unknown;
}

/** Copies what a failed command left onto its error (the same fields on both error classes). */
function keepResult(
  error: Error,
  argv: readonly string[],
  result: CommandResult<string | Uint8Array>,
  failure: Failure,
): void {
  Object.assign(error, {
    argv,
    commandLine: result.commandLine,
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr,
    all: result.all,
    duration: result.duration,
    code: failure.code,
  });
}

/**
 * What a CommandError and a CommandTimeoutError keep of their command: all a result keeps, the
 * argv, and Node's error code where Node gave one (their `cause` is the error itself).
 */
export interface CommandFailure<O extends string | Uint8Array = string> {
  /** The program and its arguments, as given. */
  readonly argv: readonly string[];
  /** The argv as one line, quoted as a POSIX shell would read it (see `quoteArgv`). */
  readonly commandLine: string;
  /** The exit code, or null if a signal ended the child (or it never started). */
  readonly exitCode: number | null;
  /** The signal that ended the child, or null. */
  readonly signal: string | null;
  /** What the child wrote to stdout until then (empty when it was not kept). */
  readonly stdout: O;
  /** What the child wrote to stderr until then (empty when it was not kept). */
  readonly stderr: O;
  /** With `all: true`: stdout and stderr interleaved; else undefined. */
  readonly all: O | undefined;
  /** Seconds from the start of the child to its end (0 if it never started). */
  readonly duration: number;
  /**
   * Node's error code, if Node gave one: "ENOENT", "EACCES", "ERR_CHILD_PROCESS_STDIO_MAXBUFFER";
   * undefined for an exit code, a signal or a timeout, which are no errors of Node's.
   */
  readonly code: string | undefined;
}

// The two error classes extend different bases (Error, TimeoutError) and share these fields,
// declared once here and merged into each class.
export interface CommandError<O extends string | Uint8Array = string> extends CommandFailure<O> {}
export interface CommandTimeoutError<O extends string | Uint8Array = string>
  extends CommandFailure<O> {}

/**
 * A command that could not run, was stopped, or (with exec) exited non-zero. It keeps all a
 * result keeps (the output, how the child ended, the command line, the duration), and, where
 * Node gave them, Node's error `code` and the error itself as `cause`.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: every field is set by keepResult().
export class CommandError<O extends string | Uint8Array = string> extends Error {
  /** "CommandError". */
  override name = "CommandError";

  constructor(
    message: string,
    argv: readonly string[],
    result: CommandResult<O>,
    failure: Failure = {},
  ) {
    super(message, "cause" in failure ? { cause: failure.cause } : undefined);
    keepResult(this, argv, result, failure);
  }
}

/**
 * A command stopped because it ran past its `timeout`. It is a TimeoutError (as for any deadline
 * in clockwork) that keeps what a CommandError keeps: the output read until then, how the child
 * ended (usually `signal` "SIGTERM"), the command line and the duration.
 *
 * @example
 * try {
 *   yield* exec(["make", "test"], { timeout: 60 });
 * } catch (error) {
 *   if (error instanceof CommandTimeoutError) console.log(error.stdout); // what it printed in time
 *   throw error;
 * }
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: every field is set by keepResult().
export class CommandTimeoutError<O extends string | Uint8Array = string> extends TimeoutError {
  /** "CommandTimeoutError". */
  override name = "CommandTimeoutError";
  /** The timeout it ran past, in seconds. */
  readonly timeout: number;

  constructor(message: string, argv: readonly string[], result: CommandResult<O>, timeout: number) {
    super(message);
    keepResult(this, argv, result, {});
    this.timeout = timeout;
  }
}

const DEFAULT_GRACE = 2;

/**
 * Bytes of stdout, and of stderr, kept when `maxBuffer` is not given: 100 MiB. Node's execFile
 * keeps 1 MiB, which ordinary output (a git log, a build) passes; execa keeps 100 MB. This is
 * enough for those, and bounds what a chatty child costs (at most about 200 MiB for both
 * streams) far below what ends a process.
 */
const DEFAULT_MAX_BUFFER = 100 * 1024 * 1024;

/** The longest string V8 makes (about 512 MiB): no stream keeps more, whatever maxBuffer says. */
const MAX_STRING_LENGTH = bufferConstants.MAX_STRING_LENGTH;

/**
 * The most bytes of output kept with `encoding`: as many as a Buffer holds for "buffer", else as
 * many as decode into a string V8 can make (hex writes two characters a byte, base64 four for
 * three).
 */
function mostKept(encoding: OutputEncoding): number {
  if (encoding === "buffer") return bufferConstants.MAX_LENGTH;
  if (encoding === "hex") return Math.floor(MAX_STRING_LENGTH / 2);
  if (encoding === "base64" || encoding === "base64url")
    return Math.floor(MAX_STRING_LENGTH * 0.75);
  return MAX_STRING_LENGTH;
}

/** Bytes as a plain Uint8Array (a view, not a copy, of a Buffer). */
function bytesOf(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
}

/** An empty output in `encoding`. */
function emptyOutput(encoding: OutputEncoding): string | Uint8Array {
  return encoding === "buffer" ? new Uint8Array(0) : "";
}

/** The longest delay a Node timer holds (about 24.8 days); a longer one would fire at once. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

interface Timer {
  clear(): void;
}

/** Calls `fn` after `seconds`, however long: a delay past what one Node timer holds is chained. */
function after(seconds: number, fn: () => void): Timer {
  let left = seconds * 1000;
  let timer: ReturnType<typeof setTimeout>;
  const arm = (): void => {
    const now = Math.min(left, LONGEST_TIMER_MS);
    left -= now;
    timer = setTimeout(left > 0 ? arm : fn, now);
  };
  arm();
  return { clear: () => clearTimeout(timer) };
}

type Exit = { code: number | null; signal: string | null } | { error: Error };

/** What kill() reaches of a command while its child runs. */
interface Running {
  /** Sends `signal` (undefined: the killSignal); false if the child has exited. */
  kill(signal: NodeJS.Signals | undefined): boolean;
}

/** The commands whose child runs now, for kill(). */
const running = new WeakMap<object, Running>();

/**
 * The children to stop if this process exits: each as a function that signals it (or its
 * group) at once. The listeners below are added with the first and removed with the last.
 */
const atExit = new Set<() => void>();

/** Signals that end a Node process unless it listens for them. */
const FATAL_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

function stopAllAtExit(): void {
  for (const stop of atExit) {
    try {
      stop();
    } catch {
      // Already gone: nothing to stop.
    }
  }
}

/**
 * A signal that would end this process: if the program listens for it too (main(), a server's
 * own handler), it is the program's to handle, and its cleanup stops its children. If nobody
 * else does, the process is about to end: stop the children, then let the signal end the
 * process as it would have (the listeners removed, the signal sent again).
 */
function onFatalSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  stopAllAtExit();
  unwatchExit();
  process.kill(process.pid, signal);
}

function unwatchExit(): void {
  process.off("exit", stopAllAtExit);
  for (const signal of FATAL_SIGNALS) process.off(signal, onFatalSignal);
}

/** Stops the child with `stop()` if this process exits first; call the result once it has ended. */
function stopAtExit(stop: () => void): () => void {
  if (atExit.size === 0) {
    process.on("exit", stopAllAtExit);
    for (const signal of FATAL_SIGNALS) process.on(signal, onFatalSignal);
  }
  atExit.add(stop);
  return () => {
    if (atExit.delete(stop) && atExit.size === 0) unwatchExit();
  };
}

/** A signal's name, from its name or its number; a TypeError for anything else. */
function signalName(call: string, signal: unknown): NodeJS.Signals {
  const names = osConstants.signals as Record<string, number>;
  if (typeof signal === "string" && Object.hasOwn(names, signal)) return signal as NodeJS.Signals;
  if (typeof signal === "number") {
    const name = Object.keys(names).find((key) => names[key] === signal);
    if (name !== undefined) return name as NodeJS.Signals;
  }
  throw new TypeError(
    `${call} expects a signal name such as "SIGTERM", or its number, got ${describeValue(signal)}`,
  );
}

/**
 * A child process, run by a routine.
 *
 * @example
 * const echo = new Command(["/bin/echo", "cat"]);
 * worker.assign(echo.run());
 * await worker.run();
 * echo.stdout; // "cat\n"
 */
export class Command<E extends OutputEncoding = "utf8"> {
  /** The program and its arguments, as given (never through a shell). */
  readonly argv: readonly string[];
  /** The argv as one line, quoted as a POSIX shell would read it, for messages (see `quoteArgv`). */
  readonly commandLine: string;
  /** The options it was made with, checked and frozen. */
  readonly options: Readonly<CommandOptions<E>>;
  /**
   * What the child wrote to stdout so far (as text, or with `encoding: "buffer"` a Uint8Array
   * set when stdout has ended).
   */
  stdout: Output<E>;
  /** What the child wrote to stderr so far (the same). */
  stderr: Output<E>;
  /** With `all: true`: stdout and stderr interleaved, in the order they arrived; else undefined. */
  all: Output<E> | undefined = undefined;
  /**
   * Its exit code, once it exited (null if a signal ended it, or before). Set however the run
   * ended: after a cancel or a timeout too, these two fields say how the child went.
   */
  exitCode: number | null = null;
  /** The signal that ended it, if one did (SIGTERM, or SIGKILL after the grace period, when stopped). */
  signal: string | null = null;
  /** Seconds from the start of the child until it ended (its output read), once it ended; else 0. */
  duration = 0;
  /** The child's process id while it runs, else undefined. */
  pid: number | undefined = undefined;
  /**
   * Sends `signal` to the running child (to its whole group with `processGroup`) and says
   * whether there was a child to send it to. `kill()`, or `kill()` with the `killSignal`
   * (default SIGTERM), stops it as a cancel does: SIGKILL follows after `killGrace` if it is
   * still there. Any other signal is only sent: SIGHUP to reload, SIGUSR1, SIGSTOP. The run is
   * not an error for that: `run()` gives how the child ended (`signal`), and `exec()` throws
   * its CommandError as for any signal. The Command is the handle on a running child: make one
   * with `new Command()` to kill it (`exec()` keeps its own; cancel its task instead).
   *
   * @example
   * const server = new Command(["node", "server.js"]);
   * const task = spawn(server.run());
   * // ...
   * server.kill("SIGHUP"); // reload
   * server.kill(); // stop: SIGTERM, then SIGKILL after killGrace
   * yield* task.join();
   */
  kill(signal?: NodeJS.Signals | number): boolean {
    const name = signal === undefined ? undefined : signalName("kill()", signal);
    return running.get(this)?.kill(name) ?? false;
  }

  /** run() as a routine named after the command ("run ls -l"), made on the first run(). */
  #run: ((command: AnyCommand) => Generator<unknown, CommandResult<Output<E>>, any>) | undefined =
    undefined;

  constructor(argv: string[], options: CommandOptions<E> = {}) {
    checkArgv("new Command()", argv);
    checkOptions("new Command()", options);
    this.argv = [...argv];
    this.commandLine = quoteArgv(argv);
    // Checked once, here, before any child can start: fixed from now on.
    this.options = Object.freeze({ ...options });
    this.stdout = emptyOutput(options.encoding ?? "utf8") as Output<E>;
    this.stderr = emptyOutput(options.encoding ?? "utf8") as Output<E>;
  }

  /**
   * Runs the command to its end and gives its result. A non-zero exit is
   * not an error here (see `exitCode`); a program that cannot be found is.
   * The task that runs it is named after the command: `task "run ls -l"`.
   */
  run(): Generator<unknown, CommandResult<Output<E>>, any> {
    this.#run ??= named(
      taskName("run", this.argv),
      runCommand as (command: AnyCommand) => Generator<unknown, CommandResult<Output<E>>, any>,
    );
    return this.#run(this);
  }

  /** The result fields as one object. */
  result(): CommandResult<Output<E>> {
    return {
      stdout: this.stdout,
      stderr: this.stderr,
      exitCode: this.exitCode,
      signal: this.signal,
      ...(this.all === undefined ? {} : { all: this.all }),
      commandLine: this.commandLine,
      duration: this.duration,
    };
  }
}

/** Lines waiting for the reader before reading from the child pauses, and resumes. */
const LINES_HIGH = 1000;
const LINES_LOW = 100;

/**
 * Pauses one of the child's output streams while anyone holds it (the reader of its lines
 * falling behind, a tee waiting for this process's stdout to drain), and lets it flow again
 * once nobody does. A paused stream is a child that waits, instead of memory that fills.
 */
class Gate {
  readonly #stream: Readable;
  /** How many hold it now. */
  #holds = 0;

  constructor(stream: Readable) {
    this.#stream = stream;
  }

  hold(): void {
    if (this.#holds++ === 0) this.#stream.pause();
  }

  release(): void {
    if (--this.#holds === 0) this.#stream.resume();
  }
}

/** Where the values read from one stream go, one by one. */
interface Relay<T> {
  send(value: T): void;
  end(): void;
  /** False once nobody takes the values any more (they are dropped). */
  readonly wanted: boolean;
}

/**
 * Hands the values read from a stream (lines, chunks) to `target` through a small pump task (a
 * child of the task running the command), holding the stream's gate while `high` or more wait
 * for the reader, until fewer than `low` do: a slow reader pauses the child instead of filling
 * memory. `target` is closed at the end of output, or when the command's task is cancelled. A
 * reader that closes `target` gets no more values: `refused` is called, and they are dropped.
 */
function startRelay<T>(
  name: string,
  target: Channel<T>,
  gate: Gate,
  high: number,
  low: number,
  refused: () => void = () => {},
): Relay<T> {
  const pending = new Channel<T>(Number.MAX_SAFE_INTEGER);
  let holding = false;
  let wanted = true;
  spawn(
    (function* relay() {
      try {
        for (;;) {
          const value = yield* pending.receive();
          if (holding && pending.size < low) {
            holding = false;
            gate.release();
          }
          try {
            yield* target.send(value);
          } catch (error) {
            if (error instanceof ChannelClosedError) refused();
            throw error;
          }
        }
      } catch (error) {
        if (!(error instanceof ChannelClosedError)) throw error;
        // The end of output, or the reader closed the channel: either way nobody waits for
        // values now, and a child paused for them must go on (or it would never exit).
        wanted = false;
        pending.close();
        if (holding) gate.release();
        holding = false;
      } finally {
        target.close(); // at the end of output, or when the command's task is cancelled
      }
    })(),
    { name },
  );
  return {
    send(value: T): void {
      if (!wanted) return;
      pending.trySend(value);
      if (!holding && pending.size >= high) {
        holding = true;
        gate.hold();
      }
    },
    end(): void {
      pending.close();
    },
    get wanted(): boolean {
      return wanted;
    },
  };
}

/** Where the text of one stream goes line by line. */
interface LineSink {
  write(text: string): void;
  end(): void;
}

/**
 * Splits a stream's text into lines and relays them to `target`, pausing the stream while
 * LINES_HIGH lines wait for the reader. A line longer than `longest` characters stops the child
 * (`tooLong`): only with `buffer: false`, where nothing else bounds it.
 */
function startLines(
  name: string,
  target: Channel<string>,
  gate: Gate,
  longest: number,
  tooLong: () => void,
): LineSink {
  const relay = startRelay(name, target, gate, LINES_HIGH, LINES_LOW);
  let partial = "";
  /** A line was too long: the rest is dropped. */
  let broken = false;
  return {
    write(text: string): void {
      if (broken || !relay.wanted) return;
      // Only the new text is searched for "\n", so a long line costs no more than a short one.
      let start = 0;
      for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
        const line = partial + text.slice(start, end);
        partial = "";
        start = end + 1;
        // "\r\n" ends a line as "\n" does (Windows programs, HTTP-style protocols); a lone "\r"
        // (a progress bar redrawing itself) stays inside its line.
        relay.send(line.endsWith("\r") ? line.slice(0, -1) : line);
      }
      if (partial.length + (text.length - start) > longest) {
        broken = true;
        partial = "";
        tooLong();
        return;
      }
      partial += text.slice(start);
    },
    end(): void {
      if (partial !== "" && !broken) relay.send(partial);
      partial = "";
      relay.end();
    },
  };
}

/** Where one output stream of the child goes, besides being kept. */
interface Outlet {
  lines: LineSink | undefined;
  /** This process's stdout or stderr, for "tee". */
  tee: NodeJS.WritableStream | undefined;
  /** Both streams in one, with `all: true`. */
  all: AllOutput | undefined;
}

/** What `all: true` keeps, shared by the readers of stdout and stderr. */
interface AllOutput {
  /** Bytes kept in it so far. */
  bytes: number;
  /** The most it keeps: what a string (or a Buffer) holds. */
  limit: number;
  /** With "buffer": the chunks, joined at the end. */
  chunks: Buffer[];
}

/**
 * Reads one of the child's output streams: keeps it as text in `command[name]` (unless
 * `buffer: false`), hands it on to its lines and copies it to its tee. Bytes are counted as
 * they come, so no more than the limit is ever kept: the first `maxBuffer` bytes (default
 * 100 MiB), and never more than a string can hold (512 MiB), so a chatty child can neither
 * exhaust memory nor make Node throw inside a stream listener (which would end the whole
 * process). Past the limit the child is stopped and what it still writes is dropped. Nothing
 * thrown here escapes into Node: it stops the child, and the run reports it.
 */
function collect(
  command: AnyCommand,
  name: "stdout" | "stderr",
  stream: Readable,
  gate: Gate,
  outlet: Outlet,
  stop: (why: string, failure?: Failure) => void,
): void {
  const { options } = command;
  const keep = options.buffer !== false;
  const wanted = keep ? (options.maxBuffer ?? DEFAULT_MAX_BUFFER) : Number.POSITIVE_INFINITY;
  const encoding = options.encoding ?? "utf8";
  const limit = Math.min(wanted, keep ? mostKept(encoding) : Number.POSITIVE_INFINITY);
  // Text is decoded as it comes (a character cut between chunks waits for its end); bytes are
  // joined once, at the end, so that a long output is not copied for every chunk.
  const decoder = encoding === "buffer" ? undefined : new StringDecoder(encoding);
  const chunks: Buffer[] = [];
  const { lines, tee, all } = outlet;
  let bytes = 0;
  let teeBroken = false;
  let teeWaiting = false;
  const onDrain = (): void => {
    teeWaiting = false;
    gate.release();
  };
  const onTeeError = (): void => {
    teeBroken = true; // this process's stdout went away (EPIPE): stop copying, read on
    if (teeWaiting) onDrain();
  };
  tee?.on("error", onTeeError);
  /** With "buffer": the bytes kept so far, as the command's output (at the end, or when stopped). */
  const join = (): void => {
    if (decoder !== undefined || !keep || chunks.length === 0) return;
    const kept = command[name] as Uint8Array;
    command[name] = bytesOf(Buffer.concat(kept.length > 0 ? [kept, ...chunks] : chunks));
    chunks.length = 0;
  };
  stream.on("close", () => {
    join(); // also when the stream was destroyed before its end
    tee?.off("error", onTeeError);
    tee?.off("drain", onDrain);
  });
  const take = (text: string): void => {
    if (keep) command[name] += text;
    if (all !== undefined) command.all += text;
    lines?.write(text);
  };
  const add = (part: Buffer): void => {
    if (all !== undefined) {
      all.bytes += part.length;
      if (all.bytes > all.limit) {
        bytes = Number.POSITIVE_INFINITY; // drop the rest
        stop(`its stdout and stderr together (all) passed ${all.limit} bytes, the most it holds`);
        return;
      }
      if (decoder === undefined) all.chunks.push(part);
    }
    if (decoder !== undefined) take(decoder.write(part));
    else if (keep) chunks.push(part);
  };
  stream.on("data", (chunk: Buffer) => {
    if (bytes > limit) return; // the child is being stopped: the rest is dropped
    try {
      const room = limit - bytes;
      bytes += chunk.length;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (tee !== undefined && !teeBroken && !tee.write(part) && !teeWaiting) {
        // This process's stdout is slow (a pipe to a pager, say): the child waits for it.
        teeWaiting = true;
        gate.hold();
        tee.once("drain", onDrain);
      }
      add(part);
      if (bytes <= limit) return;
      join();
      stop(
        limit < wanted
          ? `its ${name} passed ${limit} bytes, the most ${decoder === undefined ? "a Buffer" : "a string"} can hold`
          : `its ${name} passed maxBuffer (${limit} bytes)`,
        { code: "ERR_CHILD_PROCESS_STDIO_MAXBUFFER" }, // as Node's execFile says it
      );
    } catch (error) {
      bytes = Number.POSITIVE_INFINITY;
      stop(`reading its ${name} failed: ${(error as Error).message}`, { cause: error });
    }
  });
  stream.on("end", () => {
    if (bytes > limit) return;
    try {
      const rest = decoder?.end(); // an incomplete character at the very end
      if (rest) take(rest);
      join();
    } catch (error) {
      stop(`reading its ${name} failed: ${(error as Error).message}`, { cause: error });
    }
  });
}

/** A command of any encoding, as the code that runs it sees it. */
type AnyCommand = Command<OutputEncoding>;

/** How a command of a pipeline is joined to its neighbours. */
interface Pipes {
  /** Its stdin: what the command before it writes. */
  stdin?: Channel<Uint8Array> | undefined;
  /** Where its stdout goes: to the command after it. */
  stdout?: Channel<Uint8Array> | undefined;
}

/** Chunks of a piped stdout waiting for the next command before the stream pauses. */
const PIPE_HIGH = 1;

const runCommand = routine(function* run(
  command: AnyCommand,
  pipes: Pipes = {},
): Generator<unknown, CommandResult<string | Uint8Array>, any> {
  const { argv, options, commandLine } = command;
  const [program, ...args] = argv as [string, ...string[]];
  const exited = new Future<Exit>();
  const group = options.processGroup === true;
  const killSignal =
    options.killSignal === undefined ? "SIGTERM" : signalName("killSignal", options.killSignal);
  const grace = options.killGrace ?? DEFAULT_GRACE;
  let stopping: string | undefined;
  /** Node's code or error behind the stop, if any. */
  let stopFailure: Failure = {};
  let killTimer: Timer | undefined;
  let drainTimer: Timer | undefined;
  let child: ChildProcess;
  const encoding = options.encoding ?? "utf8";
  command.stdout = emptyOutput(encoding);
  command.stderr = emptyOutput(encoding);
  command.all = options.all === true ? emptyOutput(encoding) : undefined;
  const all: AllOutput | undefined =
    options.all === true ? { bytes: 0, limit: mostKept(encoding), chunks: [] } : undefined;
  command.exitCode = null;
  command.signal = null;
  command.duration = 0;
  const started = performance.now();
  try {
    child = spawnChild(program, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["pipe", stdio(options.stdout), stdio(options.stderr)],
      shell: false,
      detached: group, // on POSIX: setsid(), a new process group led by the child
    });
  } catch (error) {
    const why = cwdProblem(options.cwd) ?? (error as Error).message;
    throw new CommandError(`cannot run ${quoteWord(program)}: ${why}`, argv, command.result(), {
      code: (error as NodeJS.ErrnoException).code,
      cause: error,
    });
  }
  command.pid = child.pid;

  /** Sends a signal to the child, or with `processGroup` to its whole group. */
  const signal = (name: NodeJS.Signals): void => {
    if (group && child.pid !== undefined) {
      try {
        process.kill(-child.pid, name);
        return;
      } catch {
        // The group is gone (ESRCH), or no groups here: the child alone, below.
      }
    }
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
  };

  /** Whether the child has exited. */
  const exitedNow = (): boolean => child.exitCode !== null || child.signalCode !== null;

  /** Sends the killSignal now and SIGKILL after the grace period (once). */
  const terminate = (): void => {
    signal(killSignal);
    killTimer ??= after(grace, () => signal("SIGKILL"));
  };

  /** Stops the child: the killSignal now, SIGKILL after the grace period. */
  const stop = (why: string, failure: Failure = {}): void => {
    if (stopping !== undefined) return;
    stopFailure = failure;
    if (exitedNow()) {
      // It has exited, but what it started may still hold its output open: stop
      // that too (its group) and stop reading, so that the run can end now.
      stopping = why;
      if (group) signal("SIGKILL");
      child.stdout?.destroy();
      child.stderr?.destroy();
      return;
    }
    stopping = why;
    terminate();
  };
  const unwatch = options.cleanup === false ? undefined : stopAtExit(() => signal(killSignal));
  running.set(command, {
    kill(name) {
      if (exitedNow()) return false;
      if (name === undefined || name === killSignal) terminate();
      else signal(name);
      return true;
    },
  });

  // From here on, whatever throws (here or in the wait) goes through the cleanup below, which
  // stops the child and waits until it is gone: no path leaves an orphan. The exit is listened
  // for first, so that the cleanup's wait always ends.
  const outlets: Record<"stdout" | "stderr", Outlet> = {
    stdout: { lines: undefined, tee: options.stdout === "tee" ? process.stdout : undefined, all },
    stderr: { lines: undefined, tee: options.stderr === "tee" ? process.stderr : undefined, all },
  };
  child.on("error", (error) => {
    if (!exited.settled) exited.resolve({ error });
  });
  // "close" comes after the exit and after both output streams have ended: nothing read is lost.
  child.on("close", (code, signal) => {
    outlets.stdout.lines?.end();
    outlets.stderr.lines?.end();
    if (!exited.settled) exited.resolve({ code, signal });
  });
  let deadline: Timer | undefined;
  let feeder: Task<void> | undefined;
  const input = pipes.stdin ?? options.input;
  let exit: Exit;
  try {
    const longest = Math.min(options.maxBuffer ?? DEFAULT_MAX_BUFFER, MAX_STRING_LENGTH);
    for (const [name, stream, target] of [
      ["stdout", child.stdout, options.lines],
      ["stderr", child.stderr, options.stderrLines],
    ] as const) {
      if (stream === null) continue; // "inherit" or "ignore"
      const gate = new Gate(stream);
      const outlet = outlets[name];
      if (name === "stdout" && pipes.stdout !== undefined) {
        // Piped into the next command, chunk by chunk, and not kept. When that one reads no
        // more, this stdout is closed: the child's next write fails, as in a shell.
        const piped = startRelay("pipe", pipes.stdout, gate, PIPE_HIGH, PIPE_HIGH, () =>
          stream.destroy(),
        );
        stream.on("data", (chunk: Buffer) => piped.send(chunk));
        stream.on("close", () => piped.end());
        continue;
      }
      if (target !== undefined) {
        const tooLong = (): void =>
          stop(`a line of its ${name} is longer than maxBuffer (${longest})`);
        const lineName = name === "stdout" ? "lines" : "stderrLines";
        outlet.lines = startLines(lineName, target, gate, longest, tooLong);
      }
      collect(command, name, stream, gate, outlet, stop);
    }
    child.on("exit", () => {
      // A stopped child's own children may still hold its output pipes open: after the grace
      // period, stop reading them, so that the exit is reported all the same.
      if (stopping === undefined) return;
      drainTimer = after(grace, () => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      });
    });
    child.stdin?.on("error", () => {
      // The child may exit without reading its input (EPIPE): its exit status tells the story.
    });
    if (input instanceof Channel) {
      if (child.stdin !== null) feeder = feedInput(input, child.stdin);
    } else if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
    const { timeout = 0 } = options;
    if (timeout > 0)
      deadline = after(timeout, () => stop(`it ran past its timeout of ${timeout} s`));
    exit = yield* exited.wait();
  } finally {
    deadline?.clear();
    // The child reads no more: a producer still sending finds the channel closed.
    feeder?.cancel();
    if (input instanceof Channel) input.close();
    if (!exited.settled) {
      // Cancelled (or an error came in): stop the child and wait until it is gone. Shielded: a
      // cancel that comes while this waits (the first came as an error) must not leave it unreaped.
      stop("its task was cancelled");
      const late = yield* shield(exited.wait());
      if (!("error" in late)) {
        // Nobody gets a result, but the command says how the child ended (SIGTERM, SIGKILL, a code).
        command.exitCode = late.code;
        command.signal = late.signal;
      }
    }
    killTimer?.clear();
    drainTimer?.clear();
    running.delete(command);
    unwatch?.();
    if (all !== undefined && all.chunks.length > 0)
      command.all = bytesOf(Buffer.concat(all.chunks));
    command.pid = undefined;
    command.duration = (performance.now() - started) / 1000;
  }
  if ("error" in exit) {
    // Node says ENOENT both for a program that is not there and for a working directory that
    // is not: look at the directory before blaming the program.
    const code = (exit.error as NodeJS.ErrnoException).code;
    const why = cwdProblem(options.cwd);
    const message =
      why !== undefined
        ? `cannot run ${quoteWord(program)}: ${why}`
        : code === "ENOENT"
          ? `command not found: ${quoteWord(program)}`
          : `cannot run ${quoteWord(program)}: ${exit.error.message}`;
    throw new CommandError(message, argv, command.result(), { code, cause: exit.error });
  }
  command.exitCode = exit.code;
  command.signal = exit.signal;
  if (stopping?.startsWith("it ran past")) {
    throw new CommandTimeoutError(
      `${commandLine} was stopped: ${stopping}`,
      argv,
      command.result(),
      options.timeout as number,
    );
  }
  if (stopping !== undefined) {
    throw new CommandError(
      `${commandLine} was stopped: ${stopping}`,
      argv,
      command.result(),
      stopFailure,
    );
  }
  return command.result();
});

/**
 * Writes what `source` gives to the child's stdin, one value at a time, waiting for stdin to
 * drain before it takes the next (a task of its own, a child of the one running the command),
 * and closes stdin when the channel is closed. It stops when stdin is gone (the child exited or
 * closed it); the run cancels it when the child has ended.
 */
function feedInput(source: Channel<string | Uint8Array>, stdin: Writable): Task<void> {
  return spawn(
    (function* input() {
      for (;;) {
        let value: unknown;
        try {
          value = yield* source.receive();
        } catch (error) {
          if (!(error instanceof ChannelClosedError)) throw error;
          stdin.end();
          return;
        }
        if (typeof value !== "string" && !(value instanceof Uint8Array)) {
          throw new TypeError(
            `option "input" expects a channel of strings or Uint8Arrays, got ${describeValue(value)}`,
          );
        }
        if (stdin.destroyed || stdin.writableEnded) break;
        if (!stdin.write(value)) yield* drained(stdin).wait();
      }
      source.close(); // the child reads no more
    })(),
    { name: "input" },
  );
}

/** A future settled once `stream` has drained, or is gone. */
function drained(stream: Writable): Future<void> {
  const done = new Future<void>();
  const settle = (): void => {
    stream.off("drain", settle);
    stream.off("close", settle);
    if (!done.settled) done.resolve();
  };
  stream.on("drain", settle);
  stream.on("close", settle);
  if (stream.destroyed) settle();
  return done;
}

/** The stdio setting for Node's spawn() of an output mode. */
function stdio(mode: OutputMode | undefined): "pipe" | "inherit" | "ignore" {
  return mode === undefined || mode === "tee" ? "pipe" : mode;
}

/** What is wrong with a working directory a child could not start in, or undefined. */
function cwdProblem(cwd: string | undefined): string | undefined {
  if (cwd === undefined) return undefined;
  try {
    if (!statSync(cwd).isDirectory())
      return `its working directory ${quoteWord(cwd)} is not a directory`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return `its working directory ${quoteWord(cwd)} does not exist`;
    return `its working directory ${quoteWord(cwd)} cannot be used: ${(error as Error).message}`;
  }
  return undefined;
}

/**
 * Runs a command and gives its result; with `check` (the default) a
 * non-zero exit or a signal throws CommandError (with exitCode, signal,
 * stdout and stderr).
 *
 * @example
 * const { stdout } = yield* exec(["git", "rev-parse", "HEAD"]);
 */
export function exec<E extends OutputEncoding = "utf8">(
  argv: string[],
  options: CommandOptions<E> & { check?: boolean } = {},
): Generator<unknown, CommandResult<Output<E>>, any> {
  checkArgv("exec()", argv);
  const { check = true, ...rest } = options;
  const command: AnyCommand = new Command<OutputEncoding>(argv, rest);
  // Named after the command ("exec git status"), so its task and a cancel name it.
  return named(taskName("exec", argv), execRoutine)(command, check) as Generator<
    unknown,
    CommandResult<Output<E>>,
    any
  >;
}

const execRoutine = routine(function* exec(
  command: AnyCommand,
  check: boolean,
): Generator<unknown, CommandResult<string | Uint8Array>, any> {
  const result = yield* runCommand(command);
  if (check && (result.exitCode !== 0 || result.signal !== null)) {
    const how =
      result.signal !== null
        ? `was ended by ${result.signal}`
        : `exited with code ${result.exitCode}`;
    const stderr =
      typeof result.stderr === "string" ? result.stderr : Buffer.from(result.stderr).toString();
    const tail = stderr.trim().split("\n").slice(-3).join("\n");
    throw new CommandError(
      `${command.commandLine} ${how}${tail ? `: ${tail}` : ""}`,
      command.argv,
      result,
    );
  }
  return result;
});

/**
 * Runs commands as a shell runs `a | b | c`: all at once, the stdout of each piped into the
 * stdin of the next, with back-pressure (a command that writes faster than the next one reads
 * waits: at most a few chunks of 64 KiB are in flight between two commands). Gives their
 * results in order; the last one's `stdout` is the pipeline's output, the others' `stdout` stays
 * empty (it went to the next). As with `run()`, a non-zero exit is no error: each result says
 * how its command ended (as a shell's `PIPESTATUS`). When a command stops reading (`head`), the
 * one before it finds its stdout closed: its next write fails (EPIPE, or SIGPIPE), and it ends,
 * as in a shell. A command that
 * cannot run fails the pipeline, and the others are stopped. Each Command keeps its own
 * options (timeout, stderr, all...); the first may have an `input`.
 *
 * @example
 * const [, , count] = yield* pipeline([
 *   new Command(["git", "log", "--format=%an"]),
 *   new Command(["sort", "-u"]),
 *   new Command(["wc", "-l"]),
 * ]);
 * count.stdout; // "12\n"
 */
export function pipeline<const C extends readonly Command<OutputEncoding>[]>(
  commands: C,
): Generator<
  unknown,
  {
    -readonly [K in keyof C]: C[K] extends Command<infer E> ? CommandResult<Output<E>> : never;
  },
  any
> {
  checkPipeline(commands);
  const line = commands.map((command) => command.commandLine).join(" | ");
  const name = `pipeline ${line.length > 80 ? `${line.slice(0, 79)}…` : line}`;
  return named(name, pipelineRoutine)(commands) as never;
}

const pipelineRoutine = routine(function* pipeline(commands: readonly AnyCommand[]) {
  const pipes = commands.slice(1).map(() => new Channel<Uint8Array>());
  return yield* all(
    commands.map((command, i) =>
      named(taskName("run", command.argv), runCommand)(command, {
        stdin: pipes[i - 1],
        stdout: pipes[i],
      }),
    ),
  );
});

function checkPipeline(commands: unknown): asserts commands is readonly AnyCommand[] {
  if (
    !Array.isArray(commands) ||
    commands.length < 2 ||
    !commands.every((c) => c instanceof Command)
  ) {
    throw new TypeError(
      `pipeline() expects two or more Commands (new Command(argv)), got ${describeValue(commands)}`,
    );
  }
  commands.forEach((command: AnyCommand, i) => {
    const at = `pipeline() command ${i + 1} (${command.commandLine})`;
    if (commands.indexOf(command) !== i) {
      throw new TypeError(`${at} is in the pipeline twice: a Command runs one child at a time`);
    }
    const { options } = command;
    if (i > 0 && options.input !== undefined) {
      throw new TypeError(`${at} has an input, but its stdin is the stdout of the one before`);
    }
    if (i < commands.length - 1) {
      if ((options.stdout ?? "pipe") !== "pipe" || options.lines !== undefined) {
        throw new TypeError(
          `${at} has stdout or lines set, but its stdout goes to the next command`,
        );
      }
    }
  });
}

/**
 * An argv as one line a POSIX shell would split back into exactly that argv, for messages and
 * task names (the command itself never goes through a shell): `["false", "a b"]` reads
 * `false 'a b'`, and `["false", "a", "b"]` reads `false a b`. Words made of letters, digits
 * and `_@%+=:,./-` are left bare; others go in single quotes; a word with a control character
 * (a newline, say) goes in `$'...'` with C escapes, so a message stays on one line.
 */
export function quoteArgv(argv: readonly string[]): string {
  return argv.map(quoteWord).join(" ");
}

function quoteWord(word: string): string {
  if (word === "") return "''";
  if (/^[\p{L}\p{N}_@%+=:,./-]+$/u.test(word)) return word;
  if (!hasControl(word)) return `'${word.replaceAll("'", "'\\''")}'`;
  let escaped = "";
  for (const c of word) {
    const code = c.charCodeAt(0);
    if (c === "\n") escaped += "\\n";
    else if (c === "\t") escaped += "\\t";
    else if (c === "\r") escaped += "\\r";
    else if (c === "'" || c === "\\") escaped += `\\${c}`;
    else if (code < 0x20 || code === 0x7f) escaped += `\\x${code.toString(16).padStart(2, "0")}`;
    else escaped += c;
  }
  return `$'${escaped}'`;
}

function hasControl(word: string): boolean {
  for (let i = 0; i < word.length; i++) {
    const code = word.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** A task name for a routine about `argv`: the verb, then the command line, cut at 80 characters. */
function taskName(verb: string, argv: readonly string[]): string {
  const line = quoteArgv(argv);
  return `${verb} ${line.length > 80 ? `${line.slice(0, 79)}…` : line}`;
}

/**
 * A routine function named `name`, calling `body`: its generators carry that name, so the task
 * that runs one (and its stack) names the command.
 */
function named<A extends unknown[], R>(
  name: string,
  body: (...args: A) => Generator<unknown, R, any>,
): (...args: A) => Generator<unknown, R, any> {
  return routine({ [name]: (...args: A) => body(...args) }[name] as typeof body);
}

function checkArgv(call: string, argv: unknown): asserts argv is string[] {
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === "string")) {
    throw new TypeError(
      `${call} expects argv: a non-empty array of strings, the program first (never a shell line), got ${JSON.stringify(argv)}`,
    );
  }
}

function checkOptions(call: string, options: CommandOptions): void {
  const { encoding } = options;
  if (encoding !== undefined && encoding !== "buffer" && !Buffer.isEncoding(encoding)) {
    throw new TypeError(
      `${call} option "encoding" expects "buffer" or a text encoding such as "utf8", got ${describeValue(encoding)}`,
    );
  }
  for (const key of ["timeout", "killGrace"] as const) {
    const value = options[key];
    if (
      value !== undefined &&
      (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value))
    ) {
      throw new RangeError(
        `${call} option "${key}" expects zero or more seconds, got ${String(value)}`,
      );
    }
  }
  if (options.killSignal !== undefined)
    signalName(`${call} option "killSignal"`, options.killSignal);
  const { processGroup } = options;
  if (processGroup !== undefined && typeof processGroup !== "boolean") {
    throw new TypeError(
      `${call} option "processGroup" expects true or false, got ${String(processGroup)}`,
    );
  }
  const { input } = options;
  if (
    input !== undefined &&
    typeof input !== "string" &&
    !(input instanceof Uint8Array) &&
    !(input instanceof Channel)
  ) {
    throw new TypeError(
      `${call} option "input" expects a string, a Uint8Array or a Channel, got ${describeValue(input)}`,
    );
  }
  for (const [key, stream] of [
    ["stdout", "lines"],
    ["stderr", "stderrLines"],
  ] as const) {
    const mode = options[key];
    if (mode !== undefined && !["pipe", "tee", "inherit", "ignore"].includes(mode)) {
      throw new TypeError(
        `${call} option "${key}" expects "pipe", "tee", "inherit" or "ignore", got ${describeValue(mode)}`,
      );
    }
    const target = options[stream];
    if (target !== undefined && !(target instanceof Channel)) {
      throw new TypeError(
        `${call} option "${stream}" expects a Channel, got ${describeValue(target)}`,
      );
    }
    if (target !== undefined && encoding === "buffer") {
      throw new TypeError(
        `${call} option "${stream}" needs text, but "encoding" is "buffer" (bytes are not lines)`,
      );
    }
    if (target !== undefined && (mode === "inherit" || mode === "ignore")) {
      throw new TypeError(
        `${call} option "${stream}" needs the child's ${key} read here, but "${key}" is "${mode}"`,
      );
    }
  }
  for (const key of ["buffer", "all", "cleanup"] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== "boolean") {
      throw new TypeError(`${call} option "${key}" expects true or false, got ${String(value)}`);
    }
  }
  if (options.all === true && options.buffer === false) {
    throw new TypeError(`${call} option "all" keeps the output, but "buffer" is false`);
  }
  const { maxBuffer } = options;
  if (maxBuffer !== undefined && (typeof maxBuffer !== "number" || !(maxBuffer > 0))) {
    throw new RangeError(
      `${call} option "maxBuffer" expects a number of bytes above 0, got ${String(maxBuffer)}`,
    );
  }
}

/** A value as an error message shows it: JSON where it can be, else its String(). */
function describeValue(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
