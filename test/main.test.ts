/**
 * A routine as a whole Node program: `main()` and `untilSignal()` from
 * `clockwork-microthreads/process`.
 *
 * `main(program())` runs the routine on a fresh worker, as `run()` does,
 * and adds what a process needs: SIGINT and SIGTERM cancel the program and
 * its cleanup runs (then it exits 130 or 143, as a shell reports a program
 * a signal ended); a program that waits for the signal with `untilSignal()`
 * treats it as a normal stop instead; a second signal exits at once, naming
 * the tasks still cleaning up; a returned number is the exit status; an
 * error is printed with its routine stack and the status is 1; and once
 * the routine and its cleanup are done the process exits, whatever host
 * timers or sockets are left. What only a whole process shows is tested in
 * child processes (`node --import tsx --eval ...`), each bounded in time;
 * their cleanups print lines, so the output tells what ran.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { spawn as spawnTask } from "../src/index.ts";
import { main, untilSignal } from "../src/node/process.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The imports every program below starts with. */
const imports = `
import { routine, sleep, spawn, suspend } from "./src/index.ts";
import { main, untilSignal } from "./src/node/process.ts";
`;

interface Program {
  /** Resolves once `text` has been printed (to stdout or stderr). */
  printed(text: string): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  /** How it ended: its exit code (null if a signal or the time bound ended it), its output. */
  readonly exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Runs `source` (an ES module, after `imports`) in a child node process, killed after `seconds`. */
function start(source: string, seconds = 10): Program {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "--eval", imports + source],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  const seen: (() => void)[] = [];
  const onData = () => {
    for (const look of [...seen]) look();
  };
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk;
    onData();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk;
    onData();
  });
  const bound = setTimeout(() => child.kill("SIGKILL"), seconds * 1000);
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => {
      clearTimeout(bound);
      resolve({ code, stdout, stderr });
    }),
  );
  return {
    printed: (text) =>
      new Promise((resolve, reject) => {
        const look = () => {
          if (!(stdout + stderr).includes(text)) return;
          seen.splice(seen.indexOf(look), 1);
          resolve();
        };
        seen.push(look);
        look();
        void exit.then(() =>
          reject(new Error(`exited before printing ${JSON.stringify(text)}:\n${stdout}${stderr}`)),
        );
      }),
    kill: (signal) => child.kill(signal),
    exit,
  };
}

/** Runs `source` to its end and gives how it ended. */
function finish(source: string) {
  return start(source).exit;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("main(routine): the routine's outcome is the program's", () => {
  it("a routine that returns ends the process with status 0 once its cleanup has run, though a host timer is left", async () => {
    const started = performance.now();
    const { code, stdout, stderr } = await finish(`
      main(function* program() {
        setInterval(() => {}, 1000); // forgotten: it does not keep the program running
        try {
          console.log("hello");
          yield sleep(0.01);
        } finally {
          yield sleep(0.01); // cleanup may wait
          console.log("cleanup ran");
        }
      }());
    `);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, "hello\ncleanup ran\n");
    assert.equal(stderr, "");
    assert.ok(performance.now() - started < 8000);
  });

  it("a number the routine returns is the exit status; without one, process.exitCode counts", async () => {
    const three = await finish("main(function* () { yield; return 3; }());");
    assert.equal(three.code, 3, three.stderr);
    const set = await finish("main(function* () { process.exitCode = 4; yield; }());");
    assert.equal(set.code, 4, set.stderr);
    const bad = await finish("main(function* () { return 256; }());");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /returned 256, but an exit status is a whole number from 0 to 255/);
  });

  it("an error ends it with status 1, printed to stderr with its routine stack, after every finally ran", async () => {
    const { code, stdout, stderr } = await finish(`
      const readConfig = routine(function* readConfig() {
        yield sleep(0.01);
        throw new Error("no such file: app.toml");
      });
      const app = routine(function* app() {
        spawn(function* worker() {
          try { yield suspend(); } finally { console.log("worker stopped"); }
        }());
        try {
          yield readConfig();
        } finally {
          console.log("app cleaned up");
        }
      });
      main(app());
    `);
    assert.equal(code, 1);
    assert.match(stdout, /app cleaned up\n/);
    assert.match(stdout, /worker stopped\n/);
    assert.match(stderr, /^Error: no such file: app\.toml\n/);
    assert.match(stderr, /routine stack: main > app > readConfig/);
  });

  it("a deadlock (tasks waiting on what can never come) is printed as a WouldBlockError: status 1", async () => {
    const { code, stderr } = await finish(`
      main(function* stuck() {
        yield new Promise(() => {}); // nothing will ever settle it
      }());
    `);
    assert.equal(code, 1);
    assert.match(stderr, /WouldBlockError: run\(\) is deadlocked/);
    assert.match(stderr, /task "main" \(waiting on a promise\)/);
  });

  it("so is waiting for nothing but a signal that only cancels (main() holds nothing open): wait with untilSignal()", async () => {
    const { code, stderr } = await finish(`
      main(function* idle() {
        yield suspend(); // nothing in the event loop: no signal handler keeps a process alive
      }());
    `);
    assert.equal(code, 1);
    assert.match(stderr, /WouldBlockError/);
    assert.match(stderr, /to wait for a signal, wait with untilSignal\(\)/);
  });

  it("everything written before the end reaches a pipe (1 MB), though the process exits at once", async () => {
    const { code, stdout } = await finish(`
      main(function* chatty() {
        process.stdout.write("x".repeat(1 << 20));
        yield;
      }());
    `);
    assert.equal(code, 0);
    assert.equal(stdout.length, 1 << 20);
  });
});

describe("main(routine): signals", () => {
  /** A program that prints "ready", waits to be cancelled, and cleans up slowly (0.2 s). */
  const cancellable = `
    const cleanUp = routine(function* cleanUp() {
      console.log("cleaning up");
      yield sleep(0.2);
      console.log("cleaned up");
    });
    main(function* program() {
      try {
        console.log("ready");
        yield sleep(60); // until a signal cancels it
      } finally {
        yield cleanUp();
      }
    }());
  `;

  it("SIGINT cancels the routine: its cleanup runs, then it exits 130 as shells report Ctrl-C", async () => {
    const program = start(cancellable);
    await program.printed("ready");
    program.kill("SIGINT");
    const { code, stdout, stderr } = await program.exit;
    assert.equal(code, 130, stderr);
    assert.equal(stdout, "ready\ncleaning up\ncleaned up\n");
    assert.equal(stderr, "", "nothing to report: the program stopped as it was asked to");
  });

  it("SIGTERM does the same, with status 143", async () => {
    const program = start(cancellable);
    await program.printed("ready");
    program.kill("SIGTERM");
    const { code, stdout } = await program.exit;
    assert.equal(code, 143);
    assert.match(stdout, /cleaned up\n$/);
  });

  it("a second SIGINT during the cleanup exits at once with 130, naming the tasks still cleaning up", async () => {
    const program = start(`
      const flushCache = routine(function* flushCache() {
        console.log("flushing");
        yield sleep(60);
        console.log("flushed");
      });
      const server = routine(function* server() {
        try {
          console.log("ready");
          yield sleep(60);
        } finally {
          yield flushCache();
        }
      });
      main(server());
    `);
    await program.printed("ready");
    program.kill("SIGINT");
    await program.printed("flushing");
    await pause(700); // past the half second in which a repeat counts as the first signal
    const asked = performance.now();
    program.kill("SIGINT");
    const { code, stdout, stderr } = await program.exit;
    assert.equal(code, 130);
    assert.ok(performance.now() - asked < 5000, "it did not wait for the cleanup");
    assert.doesNotMatch(stdout, /flushed/);
    assert.match(stderr, /SIGINT again, exiting at once/);
    assert.match(stderr, /task "main" waiting, cancelling on sleep until [\d.]+/);
    assert.match(stderr, /at main > server > flushCache\n/);
  });

  it("signals in the first half second after the first are that first one (npm and tsx pass Ctrl-C on)", async () => {
    const program = start(cancellable);
    await program.printed("ready");
    program.kill("SIGINT");
    await program.printed("cleaning up");
    program.kill("SIGINT");
    program.kill("SIGTERM");
    const { code, stdout, stderr } = await program.exit;
    assert.equal(code, 130, stderr);
    assert.match(stdout, /cleaned up\n$/);
  });

  it("a program that waits with untilSignal() takes the signal as a normal stop and ends with its own status", async () => {
    const program = start(`
      main(function* server() {
        try {
          console.log("ready");
          const signal = yield* untilSignal(); // also keeps the process alive meanwhile
          console.log(signal + ": closing");
          yield sleep(0.1);
          console.log("closed");
        } finally {
          console.log("finally ran");
        }
      }());
    `);
    await program.printed("ready");
    program.kill("SIGTERM");
    const { code, stdout, stderr } = await program.exit;
    assert.equal(code, 0, stderr);
    assert.equal(stdout, "ready\nSIGTERM: closing\nclosed\nfinally ran\n");
  });

  it("with signals: [] it leaves them alone, and Node's default ends the process", async () => {
    const program = start(`
      main(function* () {
        try { console.log("ready"); yield sleep(30); } finally { console.log("never printed"); }
      }(), { signals: [] });
    `);
    await program.printed("ready");
    program.kill("SIGINT");
    const { code, stdout } = await program.exit;
    assert.equal(code, null, "killed by the signal");
    assert.equal(stdout, "ready\n");
  });

  it("with exit: false it resolves with the status, sets no exitCode and leaves no listener", async () => {
    const { code, stdout, stderr } = await finish(`
      const before = process.listenerCount("SIGINT") + process.listenerCount("SIGTERM");
      const status = await main(function* () {
        console.log("listeners while running:", process.listenerCount("SIGINT"), process.listenerCount("SIGTERM"));
        yield;
        return 7;
      }(), { exit: false });
      console.log("status", status, "exitCode", process.exitCode);
      console.log("listeners after:", process.listenerCount("SIGINT") + process.listenerCount("SIGTERM") - before);
    `);
    assert.equal(code, 0, stderr);
    assert.equal(
      stdout,
      "listeners while running: 1 1\nstatus 7 exitCode undefined\nlisteners after: 0\n",
    );
  });
});

describe("main() and untilSignal(): in-process", () => {
  it("an error another task leaves unhandled goes to onError, and the program goes on", async () => {
    const errors: unknown[] = [];
    const status = await main(
      (function* () {
        spawnTask(
          (function* () {
            yield;
            throw new Error("lost");
          })(),
          { detached: true },
        );
        for (let i = 0; i < 5; i++) yield;
        return 2;
      })(),
      { exit: false, signals: [], onError: (error) => errors.push(error) },
    );
    assert.equal(status, 2);
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ["lost"],
    );
  });

  it("takes a routine that returns nothing, or a number (type check)", () => {
    const typeCheckOnly = () => {
      main((function* () {})());
      main(
        (function* (): Generator<unknown, number, any> {
          return 0;
        })(),
      );
      const done = (function* () {
        return "done";
      })();
      // @ts-expect-error: a string is no exit status
      main(done);
    };
    void typeCheckOnly;
  });

  it("refuses bad input at the call with a TypeError", () => {
    const listening = process.listenerCount("SIGINT");
    const program = function* program() {
      yield;
    };
    assert.throws(() => main(program as never), {
      name: "TypeError",
      message: /expects a generator object, got a function \(program\): call it/,
    });
    assert.throws(() => main(42 as never), /main\(\) expects a generator object, got 42/);
    assert.throws(
      () => main((async function* () {})() as never),
      /got an async generator: write the routine as function\*/,
    );
    assert.throws(
      () => main(program(), { signals: ["SIGNOPE" as NodeJS.Signals] }),
      /option "signals" expects signal names that can be caught.*got 'SIGNOPE'/,
    );
    assert.throws(() => main(program(), { signals: ["SIGKILL"] }), TypeError);
    assert.throws(
      () => main(program(), { exit: "no" as never }),
      /option "exit" expects true or false/,
    );
    assert.throws(() => main(program(), { clock: {} as never }), /option "clock" expects a clock/);
    assert.throws(() => main(program(), null as never), /expects an options object, got null/);
    assert.throws(() => untilSignal("SIGINT" as never), /untilSignal\(\) expects an array/);
    assert.equal(process.listenerCount("SIGINT"), listening, "nothing was left listening");
  });

  it("untilSignal() waits for the process's signal, and names what it waits on", async () => {
    const status = await main(
      (function* program() {
        const waiter = spawnTask(untilSignal(["SIGUSR2"]));
        yield;
        assert.equal(
          waiter.worker.describeState(waiter),
          "waiting on SIGUSR2",
          "what a dump shows",
        );
        process.kill(process.pid, "SIGUSR2");
        const signal = yield* waiter.join();
        assert.equal(signal, "SIGUSR2");
        return 0;
      })(),
      { exit: false, signals: [] },
    );
    assert.equal(status, 0);
    assert.equal(process.listenerCount("SIGUSR2"), 0, "its listener went with the wait");
  });
});
