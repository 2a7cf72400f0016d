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
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import {
  Channel,
  ChannelClosedError,
  Future,
  routine,
  shield,
  spawn,
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

/** Options for `new Command()` and `exec()`. */
export interface CommandOptions {
  /** Working directory of the child. */
  cwd?: string;
  /** Environment of the child (default: this process's). */
  env?: Record<string, string>;
  /** Written to the child's standard input, which is then closed. */
  input?: string | Uint8Array;
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
  /** Seconds between SIGTERM and SIGKILL when the child has to be stopped (default 2). */
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
}

/** How a command ended. */
export interface CommandResult {
  /** What the child wrote to stdout (empty when it was not kept). */
  stdout: string;
  /** What the child wrote to stderr (empty when it was not kept). */
  stderr: string;
  /** The exit code, or null if a signal ended the child. */
  exitCode: number | null;
  /** The signal that ended the child, or null. */
  signal: string | null;
}

/** A command that could not run, was stopped, or (with exec) exited non-zero. */
export class CommandError extends Error {
  /** "CommandError". */
  override name = "CommandError";
  /** The command and its arguments, as given. */
  readonly argv: readonly string[];
  /** The argv as one line, quoted as a POSIX shell would read it (see `quoteArgv`). */
  readonly commandLine: string;
  /** The exit code, or null if a signal ended the child (or it never started). */
  readonly exitCode: number | null;
  /** The signal that ended the child, or null. */
  readonly signal: string | null;
  /** What the child wrote to stdout, as far as it was kept. */
  readonly stdout: string;
  /** What the child wrote to stderr, as far as it was kept. */
  readonly stderr: string;

  constructor(message: string, argv: readonly string[], result: CommandResult) {
    super(message);
    this.argv = argv;
    this.commandLine = quoteArgv(argv);
    this.exitCode = result.exitCode;
    this.signal = result.signal;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
  }
}

/**
 * A command stopped because it ran past its `timeout`. It is a TimeoutError (as for any deadline
 * in clockwork) that keeps what a CommandError keeps: the output read until then, how the child
 * ended (usually `signal` "SIGTERM") and the command.
 *
 * @example
 * try {
 *   yield* exec(["make", "test"], { timeout: 60 });
 * } catch (error) {
 *   if (error instanceof CommandTimeoutError) console.log(error.stdout); // what it printed in time
 *   throw error;
 * }
 */
export class CommandTimeoutError extends TimeoutError {
  /** "CommandTimeoutError". */
  override name = "CommandTimeoutError";
  /** The command and its arguments, as given. */
  readonly argv: readonly string[];
  /** The argv as one line, quoted as a POSIX shell would read it (see `quoteArgv`). */
  readonly commandLine: string;
  /** The exit code, or null if a signal ended the child (or it never started). */
  readonly exitCode: number | null;
  /** The signal that ended the child, or null. */
  readonly signal: string | null;
  /** What the child wrote to stdout, as far as it was kept. */
  readonly stdout: string;
  /** What the child wrote to stderr, as far as it was kept. */
  readonly stderr: string;
  /** The timeout it ran past, in seconds. */
  readonly timeout: number;

  constructor(message: string, argv: readonly string[], result: CommandResult, timeout: number) {
    super(message);
    this.argv = argv;
    this.commandLine = quoteArgv(argv);
    this.exitCode = result.exitCode;
    this.signal = result.signal;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
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

/**
 * A child process, run by a routine.
 *
 * @example
 * const echo = new Command(["/bin/echo", "cat"]);
 * worker.assign(echo.run());
 * await worker.run();
 * echo.stdout; // "cat\n"
 */
export class Command {
  /** The command and its arguments, as given. */
  readonly argv: readonly string[];
  /** The argv as one line, quoted as a POSIX shell would read it, for messages (see `quoteArgv`). */
  readonly commandLine: string;
  /** The options it was made with (frozen). */
  readonly options: Readonly<CommandOptions>;
  /** What the child wrote to stdout so far. */
  stdout = "";
  /** What the child wrote to stderr so far. */
  stderr = "";
  /**
   * Its exit code, once it exited (null if a signal ended it, or before). Set however the run
   * ended: after a cancel or a timeout too, these two fields say how the child went.
   */
  exitCode: number | null = null;
  /** The signal that ended it, if one did (SIGTERM, or SIGKILL after the grace period, when stopped). */
  signal: string | null = null;
  /** The child's process id while it runs, else undefined. */
  pid: number | undefined = undefined;
  /** run() as a routine named after the command ("run ls -l"), made on the first run(). */
  #run: ((command: Command) => Generator<unknown, CommandResult, any>) | undefined = undefined;

  constructor(argv: string[], options: CommandOptions = {}) {
    checkArgv("new Command()", argv);
    checkOptions("new Command()", options);
    this.argv = [...argv];
    this.commandLine = quoteArgv(argv);
    // Checked once, here, before any child can start: fixed from now on.
    this.options = Object.freeze({ ...options });
  }

  /**
   * Runs the command to its end and gives its result. A non-zero exit is
   * not an error here (see `exitCode`); a program that cannot be found is.
   * The task that runs it is named after the command: `task "run ls -l"`.
   */
  run(): Generator<unknown, CommandResult, any> {
    this.#run ??= named(taskName("run", this.argv), runCommand);
    return this.#run(this);
  }

  /** The result fields as one object. */
  result(): CommandResult {
    return {
      stdout: this.stdout,
      stderr: this.stderr,
      exitCode: this.exitCode,
      signal: this.signal,
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

/** Where the text of one stream goes line by line. */
interface LineSink {
  write(text: string): void;
  end(): void;
}

/**
 * Splits a stream's text into lines and hands them to `target` through a small pump task (a
 * child of the task running the command), holding the stream's gate while too many lines wait
 * for the reader. A line longer than `longest` characters stops the child (`tooLong`): only
 * with `buffer: false`, where nothing else bounds it.
 */
function startLines(
  name: string,
  target: Channel<string>,
  gate: Gate,
  longest: number,
  tooLong: () => void,
): LineSink {
  const pending = new Channel<string>(Number.MAX_SAFE_INTEGER);
  let partial = "";
  let holding = false;
  /** Nobody takes lines any more (the reader closed the channel): they are dropped. */
  let unwanted = false;
  spawn(
    (function* pumpLines() {
      try {
        for (;;) {
          const line = yield* pending.receive();
          if (holding && pending.size < LINES_LOW) {
            holding = false;
            gate.release();
          }
          yield* target.send(line);
        }
      } catch (error) {
        if (!(error instanceof ChannelClosedError)) throw error;
        // The end of output, or the reader closed the channel: either way nobody waits for
        // lines now, and a child paused for them must go on (or it would never exit).
        unwanted = true;
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
    write(text: string): void {
      if (unwanted) return;
      // Only the new text is searched for "\n", so a long line costs no more than a short one.
      let start = 0;
      for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
        const line = partial + text.slice(start, end);
        partial = "";
        start = end + 1;
        // "\r\n" ends a line as "\n" does (Windows programs, HTTP-style protocols); a lone "\r"
        // (a progress bar redrawing itself) stays inside its line.
        pending.trySend(line.endsWith("\r") ? line.slice(0, -1) : line);
      }
      if (partial.length + (text.length - start) > longest) {
        unwanted = true;
        partial = "";
        tooLong();
        return;
      }
      partial += text.slice(start);
      if (!holding && pending.size >= LINES_HIGH) {
        holding = true;
        gate.hold();
      }
    },
    end(): void {
      if (unwanted) return;
      if (partial !== "") pending.trySend(partial);
      partial = "";
      pending.close();
    },
  };
}

/** Where one output stream of the child goes, besides being kept. */
interface Outlet {
  lines: LineSink | undefined;
  /** This process's stdout or stderr, for "tee". */
  tee: NodeJS.WritableStream | undefined;
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
  command: Command,
  name: "stdout" | "stderr",
  stream: Readable,
  gate: Gate,
  outlet: Outlet,
  stop: (why: string) => void,
): void {
  const { options } = command;
  const keep = options.buffer !== false;
  const wanted = keep ? (options.maxBuffer ?? DEFAULT_MAX_BUFFER) : Number.POSITIVE_INFINITY;
  const limit = Math.min(wanted, keep ? MAX_STRING_LENGTH : Number.POSITIVE_INFINITY);
  const decoder = new StringDecoder("utf8");
  const { lines, tee } = outlet;
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
  stream.on("close", () => {
    tee?.off("error", onTeeError);
    tee?.off("drain", onDrain);
  });
  const take = (text: string): void => {
    if (keep) command[name] += text;
    lines?.write(text);
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
      take(decoder.write(part));
      if (bytes <= limit) return;
      stop(
        limit < wanted
          ? `its ${name} passed ${limit} bytes, the most a string can hold`
          : `its ${name} passed maxBuffer (${limit} bytes)`,
      );
    } catch (error) {
      bytes = Number.POSITIVE_INFINITY;
      stop(`reading its ${name} failed: ${(error as Error).message}`);
    }
  });
  stream.on("end", () => {
    if (bytes > limit) return;
    try {
      const rest = decoder.end(); // an incomplete character at the very end
      if (rest !== "") take(rest);
    } catch (error) {
      stop(`reading its ${name} failed: ${(error as Error).message}`);
    }
  });
}

const runCommand = routine(function* run(command: Command): Generator<unknown, CommandResult, any> {
  const { argv, options, commandLine } = command;
  const [program, ...args] = argv as [string, ...string[]];
  const exited = new Future<Exit>();
  const group = options.processGroup === true;
  let stopping: string | undefined;
  let killTimer: Timer | undefined;
  let drainTimer: Timer | undefined;
  let child: ChildProcess;
  command.stdout = "";
  command.stderr = "";
  command.exitCode = null;
  command.signal = null;
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
    throw new CommandError(`cannot run ${quoteWord(program)}: ${why}`, argv, command.result());
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

  /** Stops the child: SIGTERM now, SIGKILL after the grace period. */
  const stop = (why: string): void => {
    if (stopping !== undefined) return;
    if (child.exitCode !== null || child.signalCode !== null) {
      // It has exited, but what it started may still hold its output open: stop
      // that too (its group) and stop reading, so that the run can end now.
      stopping = why;
      if (group) signal("SIGKILL");
      child.stdout?.destroy();
      child.stderr?.destroy();
      return;
    }
    stopping = why;
    signal("SIGTERM");
    killTimer = after(options.killGrace ?? DEFAULT_GRACE, () => signal("SIGKILL"));
  };

  // From here on, whatever throws (here or in the wait) goes through the cleanup below, which
  // stops the child and waits until it is gone: no path leaves an orphan. The exit is listened
  // for first, so that the cleanup's wait always ends.
  const outlets: Record<"stdout" | "stderr", Outlet> = {
    stdout: { lines: undefined, tee: options.stdout === "tee" ? process.stdout : undefined },
    stderr: { lines: undefined, tee: options.stderr === "tee" ? process.stderr : undefined },
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
      drainTimer = after(options.killGrace ?? DEFAULT_GRACE, () => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      });
    });
    child.stdin?.on("error", () => {
      // The child may exit without reading its input (EPIPE): its exit status tells the story.
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
    const { timeout = 0 } = options;
    if (timeout > 0)
      deadline = after(timeout, () => stop(`it ran past its timeout of ${timeout} s`));
    exit = yield* exited.wait();
  } finally {
    deadline?.clear();
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
    command.pid = undefined;
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
    throw new CommandError(message, argv, command.result());
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
    throw new CommandError(`${commandLine} was stopped: ${stopping}`, argv, command.result());
  }
  return command.result();
});

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
export function exec(
  argv: string[],
  options: CommandOptions & { check?: boolean } = {},
): Generator<unknown, CommandResult, any> {
  checkArgv("exec()", argv);
  const { check = true, ...rest } = options;
  const command = new Command(argv, rest);
  // Named after the command ("exec git status"), so its task and a cancel name it.
  return named(taskName("exec", argv), execRoutine)(command, check);
}

const execRoutine = routine(function* exec(
  command: Command,
  check: boolean,
): Generator<unknown, CommandResult, any> {
  const result = yield* runCommand(command);
  if (check && (result.exitCode !== 0 || result.signal !== null)) {
    const how =
      result.signal !== null
        ? `was ended by ${result.signal}`
        : `exited with code ${result.exitCode}`;
    const tail = result.stderr.trim().split("\n").slice(-3).join("\n");
    throw new CommandError(
      `${command.commandLine} ${how}${tail ? `: ${tail}` : ""}`,
      command.argv,
      result,
    );
  }
  return result;
});

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
  const { processGroup } = options;
  if (processGroup !== undefined && typeof processGroup !== "boolean") {
    throw new TypeError(
      `${call} option "processGroup" expects true or false, got ${String(processGroup)}`,
    );
  }
  const { input } = options;
  if (input !== undefined && typeof input !== "string" && !(input instanceof Uint8Array)) {
    throw new TypeError(
      `${call} option "input" expects a string or a Uint8Array, got ${describeValue(input)}`,
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
    if (target !== undefined && (mode === "inherit" || mode === "ignore")) {
      throw new TypeError(
        `${call} option "${stream}" needs the child's ${key} read here, but "${key}" is "${mode}"`,
      );
    }
  }
  const { buffer } = options;
  if (buffer !== undefined && typeof buffer !== "boolean") {
    throw new TypeError(`${call} option "buffer" expects true or false, got ${String(buffer)}`);
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
