/**
 * A child's output, live: `clockwork-microthreads/process`.
 *
 * By default a command keeps what its child writes (`stdout`, `stderr`) and
 * gives it at the end. Long-running children want it as it comes: line by
 * line through a channel (`lines` for stdout, `stderrLines` for stderr), or
 * on this process's own terminal (`"tee"`, which also keeps it, or
 * `"inherit"`, where the child writes there itself and nothing is kept). A
 * child that talks for hours is read with `buffer: false`: nothing is kept,
 * so nothing fills up. What goes to this process's own stdout is seen from a
 * node process of its own. Real programs, generous time bounds.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Channel, ChannelClosedError, Worker } from "../src/index.ts";
import { Command, CommandError } from "../src/node/process.ts";
import { nodeScript } from "./support.ts";

/** Every line a channel gives until it is closed. */
function* readAll(lines: Channel<string>) {
  const seen: string[] = [];
  try {
    for (;;) seen.push(yield* lines.receive());
  } catch (error) {
    if (!(error instanceof ChannelClosedError)) throw error;
  }
  return seen;
}

describe("Command output", () => {
  it("hands each line of stderr to stderrLines as it arrives, as lines does for stdout", async () => {
    const worker = new Worker();
    const lines = new Channel<string>(10);
    const stderrLines = new Channel<string>(10);
    const build = new Command(
      ["sh", "-c", "echo compiling; echo 'warning: a' >&2; sleep 0.2; echo 'warning: b' >&2"],
      { lines, stderrLines },
    );
    function* watcher() {
      const first = yield* stderrLines.receive();
      const when = build.exitCode === null ? "while it ran" : "after it exited";
      return [first, when, ...(yield* readAll(stderrLines))];
    }
    worker.assign(build.run());
    const out = worker.assign(readAll(lines));
    const err = worker.assign(watcher());
    await worker.run();
    assert.deepEqual(out.result, ["compiling"]);
    assert.deepEqual(err.result, ["warning: a", "while it ran", "warning: b"]);
    assert.equal(build.stderr, "warning: a\nwarning: b\n", "stderr is kept as well");
  });

  it('copies output to this process\'s stdout and stderr as it arrives with "tee", and keeps it too', async () => {
    const { code, stdout, stderr } = await nodeScript(
      `import { run, sleep, spawn } from "./src/index.ts";
      import { Command } from "./src/node/process.ts";
      const build = new Command(["sh", "-c", "echo one; echo warn >&2; sleep 0.3; echo two"], {
        stdout: "tee",
        stderr: "tee",
      });
      await run((function* () {
        const task = spawn(build.run());
        while (!build.stdout.includes("one")) yield sleep(0.01);
        process.stdout.write("[the program saw one]\\n");
        yield task;
      })());
      const { duration, commandLine, ...rest } = build.result();
      console.log(JSON.stringify(rest));`,
    );
    assert.equal(code, 0, stderr);
    const [one, saw, two, result] = stdout.split("\n");
    assert.deepEqual([one, saw, two], ["one", "[the program saw one]", "two"], "live, in order");
    assert.equal(stderr, "warn\n");
    assert.deepEqual(JSON.parse(result as string), {
      stdout: "one\ntwo\n",
      stderr: "warn\n",
      exitCode: 0,
      signal: null,
    });
  });

  it('lets the child write to this process\'s stdout and stderr itself with "inherit": nothing is kept', async () => {
    const { code, stdout, stderr } = await nodeScript(
      `import { run } from "./src/index.ts";
      import { Command } from "./src/node/process.ts";
      const child = new Command(["sh", "-c", "echo out; echo err >&2"], {
        stdout: "inherit",
        stderr: "inherit",
      });
      await run(child.run());
      const { duration, commandLine, ...rest } = child.result();
      console.log(JSON.stringify(rest));`,
    );
    assert.equal(code, 0, stderr);
    assert.equal(stderr, "err\n");
    const [out, result] = stdout.split("\n");
    assert.equal(out, "out");
    assert.deepEqual(JSON.parse(result as string), {
      stdout: "",
      stderr: "",
      exitCode: 0,
      signal: null,
    });
  });

  it('throws a stream away with "ignore"', async () => {
    const worker = new Worker();
    const quiet = new Command(["sh", "-c", "echo out; echo err >&2"], { stderr: "ignore" });
    worker.assign(quiet.run());
    await worker.run();
    assert.deepEqual([quiet.stdout, quiet.stderr], ["out\n", ""]);
  });

  it("keeps nothing with buffer: false, so a child read through lines is never stopped by maxBuffer", async () => {
    const worker = new Worker();
    const lines = new Channel<string>(100);
    const talker = new Command(["seq", "1", "200000"], { lines, buffer: false, maxBuffer: 1000 });
    function* count() {
      let n = 0;
      let last = "";
      try {
        for (;;) {
          last = yield* lines.receive();
          n++;
        }
      } catch (error) {
        if (!(error instanceof ChannelClosedError)) throw error;
      }
      return [n, last];
    }
    worker.assign(talker.run());
    const counted = worker.assign(count());
    await worker.run();
    assert.deepEqual(counted.result, [200000, "200000"], "1.3 MB went by, 1000 bytes allowed");
    assert.deepEqual([talker.stdout, talker.exitCode], ["", 0], "nothing was kept");
  });

  it("still bounds a line with buffer: false: one longer than maxBuffer stops the child", async () => {
    const worker = new Worker({ onError: () => {} });
    const lines = new Channel<string>(10);
    const endless = new Command(["sh", "-c", "echo short; exec tr -d '\\n' < /dev/zero"], {
      lines,
      buffer: false,
      maxBuffer: 100_000,
    });
    const run = worker.assign(endless.run());
    const read = worker.assign(readAll(lines));
    const started = Date.now();
    await worker.run();
    assert.ok(run.error instanceof CommandError);
    assert.match(run.error.message, /a line of its stdout is longer than maxBuffer \(100000\)/);
    assert.deepEqual(read.result, ["short"]);
    assert.ok(Date.now() - started < 10_000);
  });

  it("refuses lines for a stream that is not read here, and modes it does not know", () => {
    assert.throws(
      () => new Command(["ls"], { stdout: "inherit", lines: new Channel<string>() }),
      /option "lines" needs the child's stdout read here, but "stdout" is "inherit"/,
    );
    assert.throws(
      () => new Command(["ls"], { stderr: "ignore", stderrLines: new Channel<string>() }),
      TypeError,
    );
    assert.throws(
      () => new Command(["ls"], { stdout: "file" as never }),
      /option "stdout" expects "pipe", "tee", "inherit" or "ignore", got "file"/,
    );
  });

  it('copies a large output whole with "tee" (600 kB), and keeps all of it too', async () => {
    const { code, stdout, stderr } = await nodeScript(
      `import { run } from "./src/index.ts";
      import { Command } from "./src/node/process.ts";
      const big = new Command(["seq", "1", "100000"], { stdout: "tee" });
      await run(big.run());
      process.stderr.write(String(big.stdout.length));`,
    );
    assert.equal(code, 0, stderr);
    const expected = `${Array.from({ length: 100000 }, (_, i) => i + 1).join("\n")}\n`;
    assert.equal(stdout.length, expected.length);
    assert.ok(stdout === expected, "the copy is the output");
    assert.equal(stderr, String(expected.length), "and all of it was kept too");
  });
});
