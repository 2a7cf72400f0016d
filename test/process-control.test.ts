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
import { spawn as spawnNode } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { sleep, spawn, Worker } from "../src/index.ts";
import { Command, CommandTimeoutError, exec } from "../src/node/process.ts";
import { goneWithin, isAlive } from "./support.ts";

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

/** A node process of its own running `source` (from the project's root, tsx loaded). */
function parent(source: string) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const proc = spawnNode(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "--eval", source],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (chunk) => (stdout += chunk));
  proc.stderr.on("data", (chunk) => (stderr += chunk));
  const exit = new Promise<{ code: number | null; signal: string | null; stderr: string }>(
    (resolve) => proc.on("close", (code, signal) => resolve({ code, signal, stderr })),
  );
  /** The pids the script printed as its first line, once it has. */
  const pids = (async () => {
    const end = Date.now() + 20_000;
    while (!stdout.includes("\n")) {
      if (Date.now() > end || proc.exitCode !== null) {
        proc.kill("SIGKILL");
        throw new Error(`the parent printed no pids: ${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return JSON.parse(stdout.split("\n")[0] as string) as number[];
  })();
  return { proc, pids, exit };
}

/**
 * A script that runs `argv` as a Command with `options` under `run()` (or `main()`), prints its
 * pid and the pids it printed (a shell's `$!`) as one JSON line once it is ready, then runs
 * `then`.
 */
function script(argv: string[], options: object, then: string, entry = "run"): string {
  return `import { run, sleep, spawn } from "./src/index.ts";
    import { Command, main } from "./src/node/process.ts";
    const child = new Command(${JSON.stringify(argv)}, ${JSON.stringify(options)});
    function* program() {
      const task = spawn(child.run());
      while (!child.stdout.includes("ready")) yield sleep(0.01);
      const more = child.stdout.split("\\n").filter((l) => /^\\d+$/.test(l)).map(Number);
      console.log(JSON.stringify([child.pid, ...more]));
      ${then}
      yield task;
    }
    await ${entry}(program());`;
}

/** A shell that starts a sleeper of its own, prints its pid and "ready", and waits. */
const family = ["sh", "-c", "sleep 60 & echo $!; echo ready; wait"];

describe("children stopped when this process exits", () => {
  it("stops a running child when the program calls process.exit()", async () => {
    const { pids, exit } = parent(script(family, {}, "process.exit(3);"));
    const [child, grandchild] = await pids;
    assert.equal((await exit).code, 3);
    assert.equal(await goneWithin(child as number, 5000), true, "the child is gone");
    // Without processGroup only the child is signalled: its own sleeper is its business.
    if (grandchild !== undefined) process.kill(grandchild, "SIGKILL");
  });

  it("stops a running child when a SIGTERM the program does not handle ends it, which still dies of it", async () => {
    const { proc, pids, exit } = parent(script(["sh", "-c", "echo ready; exec sleep 60"], {}, ""));
    const [child] = await pids;
    proc.kill("SIGTERM");
    const ended = await exit;
    assert.deepEqual([ended.code, ended.signal], [null, "SIGTERM"], ended.stderr);
    assert.equal(await goneWithin(child as number, 5000), true);
  });

  it("passes a Ctrl-C on to a processGroup (which the terminal's Ctrl-C does not reach), all of it", async () => {
    const { proc, pids, exit } = parent(script(family, { processGroup: true }, ""));
    const [child, grandchild] = await pids;
    proc.kill("SIGINT"); // what the terminal sends to the foreground group: the parent's, not the child's
    const ended = await exit;
    assert.equal(ended.signal, "SIGINT", ended.stderr);
    assert.equal(await goneWithin(child as number, 5000), true, "the child is gone");
    assert.equal(await goneWithin(grandchild as number, 5000), true, "and what it started");
  });

  it("leaves a Ctrl-C to main(), whose cleanup stops the child (exit 130)", async () => {
    const { proc, pids, exit } = parent(
      script(["sh", "-c", "echo ready; exec sleep 60"], {}, "", "main"),
    );
    const [child] = await pids;
    proc.kill("SIGINT");
    const ended = await exit;
    assert.equal(ended.code, 130, ended.stderr);
    assert.equal(await goneWithin(child as number, 5000), true);
  });

  it("leaves the child running with cleanup: false", async () => {
    const argv = ["sh", "-c", "echo ready; exec sleep 60"];
    const { pids, exit } = parent(script(argv, { cleanup: false }, "process.exit(0);"));
    const [child] = await pids;
    await exit;
    assert.equal(isAlive(child as number), true, "it outlived this process");
    process.kill(child as number, "SIGKILL");
  });
});
