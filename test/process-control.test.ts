/**
 * Stopping a child: `clockwork-microthreads/process`.
 *
 * A running command is reached through its `Command`: `kill(signal)` sends a
 * signal to the child while `run()` waits for it (to its whole group with
 * `processGroup`). `kill()` with no signal, or with the `killSignal`, stops
 * it as a cancel does: that signal, then SIGKILL once `killGrace` has passed.
 * Any other signal is only sent (SIGHUP to reload, SIGUSR1 to dump state).
 * `killSignal` (default SIGTERM) is also what a cancel, a timeout and
 * maxBuffer send first. Real programs, generous time bounds.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sleep, spawn, Worker } from "../src/index.ts";
import { Command, CommandTimeoutError, exec } from "../src/node/process.ts";

/** Waits (in real time) until `ready()` holds. */
function* until(ready: () => boolean) {
  while (!ready()) yield sleep(0.01);
}

describe("Command.kill", () => {
  it("sends a signal to the running child, which may handle it and go on", async () => {
    const worker = new Worker();
    const server = new Command([
      "sh",
      "-c",
      'trap "echo reloaded" HUP; trap "echo bye; exit 0" USR1; echo ready; while :; do sleep 0.05; done',
    ]);
    function* main() {
      const run = spawn(server.run());
      yield* until(() => server.stdout === "ready\n");
      const sent = [server.kill("SIGHUP")];
      yield* until(() => server.stdout.includes("reloaded"));
      sent.push(server.kill("SIGUSR1"));
      const result = yield* run.join();
      sent.push(server.kill());
      return { sent, result };
    }
    const task = worker.assign(main());
    await worker.run();
    const { sent, result } = task.result;
    assert.deepEqual(sent, [true, true, false], "false once no child runs");
    assert.equal(result.stdout, "ready\nreloaded\nbye\n");
    assert.equal(result.exitCode, 0);
  });

  it("stops the child with kill(): run() gives how it ended, as for any signal", async () => {
    const worker = new Worker();
    const sleeper = new Command(["sleep", "60"]);
    function* main() {
      const run = spawn(sleeper.run());
      yield* until(() => sleeper.pid !== undefined);
      const sent = sleeper.kill();
      return { sent, result: yield* run.join() };
    }
    const started = Date.now();
    const task = worker.assign(main());
    await worker.run();
    const { sent, result } = task.result;
    assert.equal(sent, true);
    assert.deepEqual([result.signal, result.exitCode], ["SIGTERM", null]);
    assert.ok(Date.now() - started < 10_000);
  });

  it("follows kill() with SIGKILL after killGrace when the child ignores the signal", async () => {
    const worker = new Worker();
    const stubborn = new Command(
      ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"],
      { killGrace: 0.2 },
    );
    function* main() {
      const run = spawn(stubborn.run());
      yield* until(() => stubborn.stdout === "ready\n");
      stubborn.kill("SIGTERM");
      return yield* run.join();
    }
    const started = Date.now();
    const task = worker.assign(main());
    await worker.run();
    assert.equal(task.result.signal, "SIGKILL");
    assert.ok(Date.now() - started < 10_000);
  });

  it("refuses a signal it does not know, saying what it expects", () => {
    const command = new Command(["true"]);
    assert.throws(
      () => command.kill("SIGNOPE" as never),
      /kill\(\) expects a signal name such as "SIGTERM", or its number, got "SIGNOPE"/,
    );
    assert.equal(command.kill(9), false, "a signal by number is fine; no child runs yet");
  });
});

describe("killSignal", () => {
  it("is what a timeout sends first (default SIGTERM)", async () => {
    const worker = new Worker({ onError: () => {} });
    const slow = new Command(["sleep", "60"], { timeout: 0.2, killSignal: "SIGINT" });
    const task = worker.assign(slow.run());
    await worker.run();
    assert.ok(task.error instanceof CommandTimeoutError);
    assert.equal(slow.signal, "SIGINT");
  });

  it("is what a cancel sends first, and what kill() sends", async () => {
    const worker = new Worker();
    const cancelled = new Command(["sleep", "60"], { killSignal: "SIGHUP" });
    const killed = new Command(["sleep", "60"], { killSignal: 2 });
    function* main() {
      const a = spawn(cancelled.run());
      const b = spawn(killed.run());
      yield* until(() => cancelled.pid !== undefined && killed.pid !== undefined);
      a.cancel();
      killed.kill();
      yield* b.join();
    }
    worker.assign(main());
    await worker.run();
    assert.deepEqual([cancelled.signal, killed.signal], ["SIGHUP", "SIGINT"]);
  });

  it("refuses a signal it does not know when the command is made", () => {
    assert.throws(
      () => new Command(["ls"], { killSignal: "TERM" as never }),
      /option "killSignal" expects a signal name such as "SIGTERM", or its number, got "TERM"/,
    );
    assert.throws(() => exec(["ls"], { killSignal: 0 as never }), TypeError);
  });
});
