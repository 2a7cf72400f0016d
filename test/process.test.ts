/**
 * Child processes: `clockwork-microthreads/process`.
 *
 * The original library ran a child and polled it in a loop until it exited.
 * Here a task parks until the child has exited and its output has been read
 * to the end, and costs nothing meanwhile. Never a shell. Cancelling the
 * task stops the child (SIGTERM, then SIGKILL) and waits until it is gone.
 * These tests run real programs, with generous time bounds.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  CancelledError,
  Channel,
  ChannelClosedError,
  currentTask,
  sleep,
  spawn,
  type Task,
  TimeoutError,
  timeout,
  Worker,
} from "../src/index.ts";
import {
  Command,
  CommandError,
  CommandTimeoutError,
  exec,
  quoteArgv,
} from "../src/node/process.ts";
import { goneWithin, isAlive, nodeScript } from "./support.ts";

/** Cancels a task and waits until it has ended (its cleanup included). */
function* cancelAndWait(task: Task<unknown>) {
  task.cancel();
  try {
    yield* task.join();
  } catch (error) {
    if (!(error instanceof CancelledError)) throw error;
  }
}

/** A short real-time nap, for polling a child's progress. */
function* sleepBriefly() {
  yield sleep(0.01);
}

describe("Command", () => {
  it("runs a child and keeps its output (the original Command test)", async () => {
    const worker = new Worker();
    const echo = new Command(["/bin/echo", "cat"]);
    worker.assign(echo.run());
    await worker.run();
    assert.equal(echo.stdout, "cat\n");
    assert.equal(echo.stderr, "");
    assert.equal(echo.exitCode, 0);
    assert.equal(echo.signal, null);
  });

  it("does not throw for a non-zero exit; it reports it", async () => {
    const worker = new Worker();
    const failing = new Command(["sh", "-c", "echo oops >&2; exit 3"]);
    const task = worker.assign(failing.run());
    await worker.run();
    const { duration, ...result } = task.result;
    assert.deepEqual(result, {
      stdout: "",
      stderr: "oops\n",
      exitCode: 3,
      signal: null,
      commandLine: "sh -c 'echo oops >&2; exit 3'",
    });
    assert.ok(duration > 0 && duration < 10, "and how long it ran, in seconds");
  });

  it("writes its input to the child's stdin", async () => {
    const worker = new Worker();
    const cat = new Command(["cat"], { input: "hello\nworld\n" });
    worker.assign(cat.run());
    await worker.run();
    assert.equal(cat.stdout, "hello\nworld\n");
  });

  it("says 'command not found' for a program that does not exist", async () => {
    const worker = new Worker({ onError: () => {} });
    const missing = new Command(["no-such-program-clockwork"]);
    const task = worker.assign(missing.run());
    await worker.run();
    assert.ok(task.error instanceof CommandError);
    assert.equal(task.error.message, "command not found: no-such-program-clockwork");
  });

  it("says that a working directory does not exist, or is no directory, naming it, instead of 'command not found'", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clockwork-cwd-"));
    after(() => rmSync(dir, { recursive: true }));
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    const worker = new Worker();
    function* messageOf(command: Command) {
      try {
        yield* command.run();
      } catch (error) {
        return (error as CommandError).message;
      }
      return "no error";
    }
    function* main() {
      return [
        yield* messageOf(new Command(["ls"], { cwd: "/no/such/dir-clockwork" })),
        yield* messageOf(new Command(["ls"], { cwd: file })),
      ];
    }
    const task = worker.assign(main());
    await worker.run();
    assert.deepEqual(task.result, [
      "cannot run ls: its working directory /no/such/dir-clockwork does not exist",
      `cannot run ls: its working directory ${file} is not a directory`,
    ]);
  });

  it("stops the child when its task is cancelled, and waits until it is gone", async () => {
    const worker = new Worker();
    const sleeper = new Command(["sleep", "60"]);
    let pid: number | undefined;
    const started = Date.now();
    function* main() {
      const child = spawn(sleeper.run());
      while (sleeper.pid === undefined) yield;
      pid = sleeper.pid;
      assert.equal(isAlive(pid), true);
      child.cancel();
      try {
        yield* child.join();
      } catch {
        // CancelledError
      }
      return isAlive(pid);
    }
    const task = worker.assign(main());
    await worker.run();
    assert.equal(task.result, false, "the child is gone (reaped) when the cancelled task ends");
    assert.equal(sleeper.signal, "SIGTERM", "and the command says how it ended");
    assert.ok(Date.now() - started < 10_000);
  });

  it("says how a cancelled child ended: the signal that stopped it, or the exit code it chose", async () => {
    // Each child is cancelled once it is ready. The first dies of SIGTERM; the second ignores
    // SIGTERM and is killed after the grace period; the third exits with a code of its own.
    const children = {
      "ends on SIGTERM": "echo ready; exec sleep 60",
      "ignores SIGTERM": "trap '' TERM; echo ready; while :; do sleep 0.05; done",
      "exits 7 on SIGTERM": "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done",
    };
    const worker = new Worker();
    const commands = Object.entries(children).map(
      ([what, script]) => [what, new Command(["sh", "-c", script], { killGrace: 0.3 })] as const,
    );
    function* cancelWhenReady(command: Command) {
      const run = spawn(command.run());
      while (!command.stdout.includes("ready")) yield* sleepBriefly();
      yield* cancelAndWait(run);
    }
    for (const [, command] of commands) worker.assign(cancelWhenReady(command));
    const started = Date.now();
    await worker.run();
    assert.deepEqual(
      Object.fromEntries(commands.map(([what, c]) => [what, [c.exitCode, c.signal]])),
      {
        "ends on SIGTERM": [null, "SIGTERM"],
        "ignores SIGTERM": [null, "SIGKILL"],
        "exits 7 on SIGTERM": [7, null],
      },
    );
    assert.ok(Date.now() - started < 10_000);
  });

  it("reaps the child even when a cancel comes while its cleanup already waits for it", async () => {
    // An error thrown into the running task starts the cleanup (stop the child, wait for it);
    // a cancel then comes in the middle of that wait. The wait is shielded: the child is gone
    // before the task ends.
    const worker = new Worker({ onError: () => {} });
    // It ignores SIGTERM: it is gone only after the grace period, by SIGKILL.
    const sleeper = new Command(["sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"], {
      killGrace: 0.3,
    });
    let pid: number | undefined;
    function* runner() {
      spawn(
        (function* failsSoon(): Generator<unknown, never> {
          while (sleeper.pid === undefined) yield* sleepBriefly();
          pid = sleeper.pid;
          throw new Error("a child failed");
        })(),
      );
      try {
        yield* sleeper.run();
      } catch {
        // the child's error, thrown in while the run waited
      }
    }
    function* main() {
      const task = spawn(runner());
      while (pid === undefined) yield* sleepBriefly();
      yield; // the error is thrown into the runner: its cleanup starts waiting for the child
      task.cancel();
      try {
        yield* task.join();
      } catch {
        // its error, or CancelledError
      }
      return isAlive(pid);
    }
    const task = worker.assign(main());
    await worker.run();
    assert.equal(task.result, false, "the child was reaped before the task ended");
  });

  it("never lets the caller of a cancelled run or exec go on to read a result that is not there", async () => {
    const worker = new Worker();
    const seen: string[] = [];
    const commands = [new Command(["sleep", "60"]), new Command(["sleep", "60"])];
    function* viaRun() {
      try {
        const result = yield* (commands[0] as Command).run();
        seen.push(`run went on: exit code ${result.exitCode}`);
      } finally {
        seen.push("run's caller: finally");
      }
    }
    function* viaExec() {
      try {
        const result = yield* exec(["sleep", "60"]);
        seen.push(`exec went on: exit code ${result.exitCode}`);
      } finally {
        seen.push("exec's caller: finally");
      }
    }
    function* main() {
      const callers = [spawn(viaRun()), spawn(viaExec())];
      while ((commands[0] as Command).pid === undefined) yield* sleepBriefly();
      yield* sleepBriefly(); // exec's child has started too
      for (const caller of callers) yield* cancelAndWait(caller);
      return callers.map((t) => t.state);
    }
    const task = worker.assign(main());
    await worker.run();
    assert.deepEqual(task.result, ["cancelled", "cancelled"]);
    assert.deepEqual(seen.sort(), ["exec's caller: finally", "run's caller: finally"]);
  });

  it("stops a child's own children too with processGroup: true", async () => {
    // A script that starts a background job: stopping the script alone would
    // leave the job running (an orphan); its process group takes it along.
    async function runScript(processGroup: boolean): Promise<number> {
      const worker = new Worker();
      const lines = new Channel<string>(10);
      const script = new Command(["sh", "-c", "sleep 60 & echo $!; wait"], {
        lines,
        processGroup,
      });
      let job = 0;
      function* main() {
        const run = spawn(script.run());
        job = Number(yield* lines.receive()); // the background job's pid
        assert.equal(isAlive(job), true);
        yield* cancelAndWait(run);
      }
      worker.assign(main());
      await worker.run();
      return job;
    }
    const started = Date.now();
    const grouped = await runScript(true);
    assert.ok(await goneWithin(grouped, 2000), "the background job went with its group");
    const alone = await runScript(false);
    try {
      assert.equal(isAlive(alone), true, "without a group, the job outlives the script");
    } finally {
      process.kill(alone, "SIGKILL");
    }
    assert.ok(Date.now() - started < 10_000);
  });

  it("ends a cancelled run at once when the child has exited but a job it left holds its output open", async () => {
    for (const processGroup of [true, false]) {
      const worker = new Worker();
      const script = new Command(["sh", "-c", "sleep 60 & echo $!"], { processGroup });
      const started = Date.now();
      function* main() {
        const run = spawn(script.run());
        // The script has printed the job's pid and exited; the job keeps stdout open.
        while (!script.stdout.endsWith("\n")) yield* sleepBriefly();
        yield* cancelAndWait(run);
      }
      worker.assign(main());
      await worker.run();
      const job = Number(script.stdout.trim());
      assert.ok(Date.now() - started < 5_000, `processGroup ${processGroup}: ended at once`);
      if (processGroup)
        assert.ok(await goneWithin(job, 2000), "the job was stopped with its group");
      else if (isAlive(job)) process.kill(job, "SIGKILL");
    }
  });

  it("stops a child that runs past its timeout: TimeoutError, output kept", async () => {
    const worker = new Worker({ onError: () => {} });
    const slow = new Command(["sh", "-c", "echo started; exec sleep 60"], { timeout: 0.2 });
    const task = worker.assign(slow.run());
    const started = Date.now();
    await worker.run();
    assert.ok(task.error instanceof TimeoutError, String(task.error));
    assert.match(task.error.message, /ran past its timeout of 0\.2 s/);
    assert.equal(slow.stdout, "started\n");
    assert.equal(slow.signal, "SIGTERM");
    assert.ok(Date.now() - started < 10_000);
  });

  it("reads timeout: 0 as no timeout at all, as Node and execa do, and holds a timeout longer than a Node timer can (25 days)", async () => {
    const worker = new Worker();
    function* main() {
      const none = yield* exec(["sh", "-c", "sleep 0.3; echo done"], { timeout: 0 });
      const long = yield* exec(["sh", "-c", "sleep 0.3; echo done"], { timeout: 25 * 24 * 3600 });
      return [none.stdout, long.stdout];
    }
    const task = worker.assign(main());
    await worker.run();
    assert.deepEqual(task.result, ["done\n", "done\n"]);
  });

  it("kills a child that ignores SIGTERM after the grace period", async () => {
    const worker = new Worker({ onError: () => {} });
    const stubborn = new Command(
      ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"],
      {
        timeout: 0.3,
        killGrace: 0.2,
      },
    );
    worker.assign(stubborn.run());
    const started = Date.now();
    await worker.run();
    assert.equal(stubborn.signal, "SIGKILL");
    assert.equal(stubborn.stdout, "ready\n");
    assert.ok(Date.now() - started < 10_000);
  });

  it("stops a child whose output passes maxBuffer, keeping the first maxBuffer bytes, as Node does", async () => {
    const worker = new Worker({ onError: () => {} });
    const chatty = new Command(["sh", "-c", "while :; do echo yes; done"], { maxBuffer: 1000 });
    const task = worker.assign(chatty.run());
    await worker.run();
    assert.ok(task.error instanceof CommandError);
    assert.match(task.error.message, /stdout passed maxBuffer \(1000 bytes\)/);
    assert.equal(chatty.stdout.length, 1000, "what was read, up to the limit, is kept");
    assert.ok(chatty.stdout.startsWith("yes\nyes\n"));
  });

  it("goes on reading the child when the reader of its lines closes the channel, dropping the lines nobody wants", async () => {
    const worker = new Worker();
    const lines = new Channel<string>(10);
    const counter = new Command(["seq", "1", "100000"], { lines });
    function* main() {
      const run = spawn(counter.run());
      const first = yield* lines.receive();
      lines.close(); // seen enough
      yield* timeout(10, run.join()); // bounded: it used to wait forever, the child paused
      return first;
    }
    const task = worker.assign(main());
    await worker.run();
    assert.equal(task.result, "1");
    assert.equal(counter.exitCode, 0);
    assert.ok(counter.stdout.endsWith("\n99999\n100000\n"), "stdout has everything");
  });

  it("hands out a very long line (60 MB) in time proportional to its length", async () => {
    // Each chunk used to be joined to the line so far and split again: quadratic, about 20 s here.
    const worker = new Worker();
    const lines = new Channel<string>(10);
    const long = new Command(["sh", "-c", "head -c 60000000 /dev/zero | tr '\\0' a; echo"], {
      lines,
    });
    function* main() {
      spawn(long.run());
      return (yield* lines.receive()).length;
    }
    const started = Date.now();
    const task = worker.assign(main());
    await worker.run();
    assert.equal(task.result, 60_000_000);
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });

  it("stops a chatty child at the default maxBuffer of 100 MiB per stream, so it cannot exhaust memory", async () => {
    // In a node process of its own: before there was a default, this filled memory until the
    // process crashed.
    const { code, stdout, stderr } = await nodeScript(
      `import { run } from "./src/index.ts";
      import { Command } from "./src/node/process.ts";
      const chatty = new Command(["yes"]);
      try {
        await run(chatty.run());
      } catch (error) {
        console.log(JSON.stringify([error.name, error.message, chatty.stdout.length]));
      }`,
      60,
    );
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), [
      "CommandError",
      "yes was stopped: its stdout passed maxBuffer (104857600 bytes)",
      104857600,
    ]);
  });

  it("fails a child that writes more than a string can hold (512 MiB) with a CommandError, even without a maxBuffer, and never crashes", async () => {
    const { code, stdout, stderr } = await nodeScript(
      `import { run } from "./src/index.ts";
      import { exec } from "./src/node/process.ts";
      try {
        await run(exec(["head", "-c", "600000000", "/dev/zero"], { maxBuffer: Infinity }));
      } catch (error) {
        console.log(JSON.stringify([error.name, error.message, error.stdout.length]));
      }`,
      60,
    );
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), [
      "CommandError",
      "head -c 600000000 /dev/zero was stopped: its stdout passed 536870888 bytes, the most a string can hold",
      536870888,
    ]);
  });

  it("streams stdout line by line as it arrives, for long-running children", async () => {
    const worker = new Worker();
    const lines = new Channel<string>();
    const talker = new Command(["sh", "-c", "echo one; sleep 0.1; echo two; printf three"], {
      lines,
    });
    const seen: string[] = [];
    function* reader() {
      try {
        for (;;) {
          const line = yield* lines.receive();
          seen.push(`${line} (${talker.exitCode === null ? "running" : "exited"})`);
        }
      } catch (error) {
        if (!(error instanceof ChannelClosedError)) throw error;
      }
    }
    worker.assign(talker.run());
    worker.assign(reader());
    await worker.run();
    assert.equal(seen[0], "one (running)", "the first line came while the child still ran");
    assert.deepEqual(
      seen.map((s) => s.split(" ")[0]),
      ["one", "two", "three"],
    );
    assert.equal(talker.stdout, "one\ntwo\nthree", "stdout still has everything");
  });

  it('ends lines at "\\n" or "\\r\\n", even when the two arrive apart, and keeps a lone "\\r" inside a line', async () => {
    const worker = new Worker();
    const lines = new Channel<string>(10);
    const windows = new Command(
      ["sh", "-c", "printf 'one\\r'; sleep 0.1; printf '\\ntwo\\r\\n50%%\\r100%%\\nlast\\r\\n'"],
      { lines },
    );
    function* reader() {
      const seen: string[] = [];
      try {
        for (;;) seen.push(yield* lines.receive());
      } catch (error) {
        if (!(error instanceof ChannelClosedError)) throw error;
      }
      return seen;
    }
    worker.assign(windows.run());
    const task = worker.assign(reader());
    await worker.run();
    assert.deepEqual(task.result, ["one", "two", "50%\r100%", "last"]);
  });

  it("delivers every line in order to a slow reader, pausing the child meanwhile", async () => {
    const worker = new Worker();
    const lines = new Channel<string>(10);
    const counter = new Command(["seq", "1", "5000"], { lines });
    let expected = 1;
    function* slowReader() {
      try {
        for (;;) {
          const line = yield* lines.receive();
          assert.equal(line, String(expected++));
          yield; // fall behind a little on every line
        }
      } catch (error) {
        if (!(error instanceof ChannelClosedError)) throw error;
      }
    }
    worker.assign(counter.run());
    worker.assign(slowReader());
    await worker.run();
    assert.equal(expected, 5001);
  });

  it("refuses an input Node cannot write when the command is made, before any child starts", () => {
    // Node would throw only once the child runs, and leave it running: an orphan.
    assert.throws(
      () => new Command(["cat"], { input: 42 as never }),
      /option "input" expects a string, a Uint8Array or a Channel, got 42/,
    );
    assert.throws(() => exec(["cat"], { input: { text: "hi" } as never }), TypeError);
    assert.throws(
      () => new Command(["cat"], { lines: [] as never }),
      /option "lines" expects a Channel, got \[\]/,
    );
  });

  it("refuses a shell line, an empty argv, and bad options", () => {
    assert.throws(
      () => new Command("ls -l" as never),
      /non-empty array of strings.*never a shell line/,
    );
    assert.throws(() => new Command([]), TypeError);
    assert.throws(
      () => new Command(["ls"], { timeout: -1 }),
      /option "timeout" expects zero or more seconds, got -1/,
    );
    assert.throws(() => new Command(["ls"], { maxBuffer: 0 }), RangeError);
  });
});

describe("exec", () => {
  it("gives the result, and throws CommandError for a non-zero exit by default", async () => {
    const worker = new Worker();
    function* main() {
      const ok = yield* exec(["sh", "-c", "echo fine"]);
      let failure: unknown;
      try {
        yield* exec(["sh", "-c", "echo broken >&2; exit 2"]);
      } catch (error) {
        failure = error;
      }
      const unchecked = yield* exec(["sh", "-c", "exit 4"], { check: false });
      return { ok, failure, unchecked, task: currentTask()?.name };
    }
    const task = worker.assign(main());
    await worker.run();
    const { ok, failure, unchecked } = task.result;
    assert.equal(ok.stdout, "fine\n");
    assert.ok(failure instanceof CommandError);
    assert.equal(failure.exitCode, 2);
    assert.equal(failure.stderr, "broken\n");
    assert.match(failure.message, /^sh -c 'echo broken >&2; exit 2' exited with code 2: broken$/);
    assert.equal(unchecked.exitCode, 4);
  });

  it("keeps the output read so far, the signal and the command on the TimeoutError of a run past its timeout", async () => {
    const worker = new Worker();
    function* main() {
      try {
        yield* exec(["sh", "-c", "echo started; echo warming up >&2; exec sleep 60"], {
          timeout: 0.3,
        });
      } catch (error) {
        return error;
      }
      throw new Error("exec returned");
    }
    const task = worker.assign(main());
    const started = Date.now();
    await worker.run();
    const error = task.result;
    assert.ok(error instanceof TimeoutError, "a TimeoutError, as for any deadline");
    assert.ok(error instanceof CommandTimeoutError, "which carries what the command left");
    assert.deepEqual(error.argv, ["sh", "-c", "echo started; echo warming up >&2; exec sleep 60"]);
    assert.equal(error.stdout, "started\n");
    assert.equal(error.stderr, "warming up\n");
    assert.equal(error.signal, "SIGTERM");
    assert.equal(error.exitCode, null);
    assert.equal(error.timeout, 0.3);
    assert.match(error.message, /ran past its timeout of 0\.3 s/);
    assert.ok(Date.now() - started < 10_000);
  });

  it("keeps the same metadata on a result, a CommandError and a CommandTimeoutError: commandLine, duration in seconds, and Node's code and cause where Node gave them", async () => {
    const worker = new Worker();
    function* failureOf(run: Generator<unknown, unknown, any>) {
      try {
        yield* run;
      } catch (error) {
        return error as CommandError;
      }
      throw new Error("it did not fail");
    }
    function* main() {
      return {
        result: yield* exec(["sh", "-c", "sleep 0.1; echo 'a b'"]),
        exit: yield* failureOf(exec(["sh", "-c", "sleep 0.1; exit 3"])),
        timedOut: yield* failureOf(exec(["sleep", "60"], { timeout: 0.1 })),
        missing: yield* failureOf(exec(["no-such-program-clockwork", "x"])),
        chatty: yield* failureOf(exec(["seq", "1", "100000"], { maxBuffer: 1000 })),
      };
    }
    const task = worker.assign(main());
    await worker.run();
    const { result, exit, timedOut, missing, chatty } = task.result;
    assert.equal(result.commandLine, quoteArgv(["sh", "-c", "sleep 0.1; echo 'a b'"]));
    for (const ran of [result, exit, timedOut]) {
      assert.ok(ran.duration >= 0.1 && ran.duration < 10, `${ran.commandLine}: ${ran.duration} s`);
    }
    assert.ok(missing.duration >= 0 && missing.duration < 10);
    assert.deepEqual(
      [exit, timedOut, missing, chatty].map((e) => [e.name, e.commandLine, e.code]),
      [
        ["CommandError", "sh -c 'sleep 0.1; exit 3'", undefined],
        ["CommandTimeoutError", "sleep 60", undefined],
        ["CommandError", "no-such-program-clockwork x", "ENOENT"],
        ["CommandError", "seq 1 100000", "ERR_CHILD_PROCESS_STDIO_MAXBUFFER"],
      ],
    );
    assert.ok(missing.cause instanceof Error, "the error from Node is its cause");
    assert.equal((missing.cause as NodeJS.ErrnoException).code, "ENOENT");
    assert.equal(exit.cause, undefined, "an exit code is no error of Node's");
  });

  it("quotes the arguments that need it in its messages, so that each names exactly one argv", async () => {
    const worker = new Worker();
    const argvs = [
      ["false", "a b"],
      ["false", "a", "b"],
      ["false", "it's", ""],
      ["false", "two\nlines"],
    ];
    function* messageOf(argv: string[]) {
      try {
        yield* exec(argv);
      } catch (error) {
        return (error as CommandError).message;
      }
      return "no error";
    }
    function* main() {
      const messages: string[] = [];
      for (const argv of argvs) messages.push(yield* messageOf(argv));
      return messages;
    }
    const task = worker.assign(main());
    await worker.run();
    assert.deepEqual(task.result, [
      "false 'a b' exited with code 1",
      "false a b exited with code 1",
      "false 'it'\\''s' '' exited with code 1",
      "false $'two\\nlines' exited with code 1",
    ]);
  });

  it("names the command in the task that runs it, so a cancelled run says which one it was", async () => {
    const worker = new Worker();
    function* main() {
      const runs = [
        spawn(new Command(["sleep", "60"]).run()),
        spawn(exec(["sh", "-c", "exec sleep 60"])),
      ];
      yield* sleepBriefly();
      const messages: string[] = [];
      for (const run of runs) {
        run.cancel();
        try {
          yield* run.join();
        } catch (error) {
          messages.push((error as CancelledError).message);
        }
      }
      return messages;
    }
    const task = worker.assign(main());
    await worker.run();
    assert.deepEqual(task.result, [
      'task "run sleep 60" was cancelled',
      "task \"exec sh -c 'exec sleep 60'\" was cancelled",
    ]);
  });
});

describe("docs/process.md", () => {
  it("has a row for every option of CommandOptions (and exec's check), each with its default", () => {
    const root = new URL("..", import.meta.url);
    const source = readFileSync(new URL("src/node/process.ts", root), "utf8");
    const body = source.slice(source.indexOf("export interface CommandOptions"));
    const declared = [...body.slice(0, body.indexOf("\n}")).matchAll(/^ {2}(\w+)\?:/gm)].map(
      (m) => m[1],
    );
    const docs = readFileSync(new URL("docs/process.md", root), "utf8");
    const rows = new Map(
      [...docs.matchAll(/^\| `(\w+)`[^|]*\|[^|]*\| ([^|]*) \|/gm)].map((m) => [m[1], m[2]]),
    );
    assert.ok(declared.length >= 16, `found ${declared.length} options`);
    for (const option of [...declared, "check"]) {
      assert.ok(rows.has(option), `docs/process.md has no row for ${option}`);
      assert.notEqual(rows.get(option)?.trim(), "", `the row for ${option} names no default`);
    }
  });
});
