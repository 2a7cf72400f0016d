/**
 * What goes into a child and what comes out: `clockwork-microthreads/process`.
 *
 * Output is text (utf8) unless `encoding` says otherwise: another text
 * encoding, or "buffer" for the bytes themselves, a Uint8Array. Real
 * programs, generous time bounds.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { Channel, ChannelClosedError, sleep, Worker } from "../src/index.ts";
import { Command, CommandError, exec, pipeline } from "../src/node/process.ts";

/** A node child that writes `bytes` to its stdout. */
function writer(bytes: number[]): string[] {
  return [process.execPath, "-e", `process.stdout.write(Buffer.from(${JSON.stringify(bytes)}))`];
}

describe("encoding", () => {
  it('keeps the bytes as they came, a Uint8Array, with encoding: "buffer"', async () => {
    const worker = new Worker();
    const bytes = [0, 1, 0xff, 0xfe, 0xe2, 0x82]; // no text: a NUL, and a cut euro sign
    function* main() {
      const result = yield* exec(writer(bytes), { encoding: "buffer" });
      const stdout: Uint8Array = result.stdout; // typed so
      return { stdout, stderr: result.stderr };
    }
    const task = worker.assign(main());
    await worker.run();
    assert.deepEqual(task.result.stdout, new Uint8Array(bytes));
    assert.deepEqual(task.result.stderr, new Uint8Array(0));
  });

  it("gives a large binary output back byte for byte (3 MB through cat)", async () => {
    const worker = new Worker();
    const input = new Uint8Array(randomBytes(3_000_000));
    const cat = new Command(["cat"], { input, encoding: "buffer" });
    assert.deepEqual(cat.stdout, new Uint8Array(0), "empty bytes before it runs");
    worker.assign(cat.run());
    await worker.run();
    assert.equal(cat.stdout.length, input.length);
    assert.ok(Buffer.from(cat.stdout).equals(input), "the same bytes");
  });

  it("decodes with the text encoding given: latin1, hex, base64", async () => {
    const worker = new Worker();
    function* main() {
      const latin1 = yield* exec(writer([0x63, 0x61, 0x66, 0xe9]), { encoding: "latin1" });
      const hex = yield* exec(writer([0, 0xff]), { encoding: "hex" });
      const base64 = yield* exec(writer([0x68, 0x69]), { encoding: "base64" });
      const utf8 = yield* exec(writer([0x63, 0x61, 0x66, 0xc3, 0xa9]));
      return [latin1.stdout, hex.stdout, base64.stdout, utf8.stdout];
    }
    const task = worker.assign(main());
    await worker.run();
    assert.deepEqual(task.result, ["café", "00ff", "aGk=", "café"]);
  });

  it("keeps the first maxBuffer bytes of a binary output it stops, as for text", async () => {
    const worker = new Worker({ onError: () => {} });
    const endless = new Command(["cat", "/dev/zero"], { encoding: "buffer", maxBuffer: 100_000 });
    const task = worker.assign(endless.run());
    await worker.run();
    assert.ok(task.error instanceof CommandError);
    assert.match(task.error.message, /passed maxBuffer \(100000 bytes\)/);
    assert.deepEqual(endless.stdout, new Uint8Array(100_000));
    assert.deepEqual(task.error.stdout, new Uint8Array(100_000), "on the error too");
  });

  it("refuses an encoding it does not know, and lines of bytes", () => {
    assert.throws(
      () => new Command(["ls"], { encoding: "utf-9" as never }),
      /option "encoding" expects "buffer" or a text encoding such as "utf8", got "utf-9"/,
    );
    assert.throws(
      () => exec(["ls"], { encoding: "buffer", lines: new Channel<string>() }),
      /option "lines" needs text, but "encoding" is "buffer"/,
    );
  });
});

describe("all", () => {
  it("keeps stdout and stderr interleaved in one all, in the order they came, with all: true", async () => {
    const worker = new Worker();
    const script =
      "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; sleep 0.1; echo four >&2";
    function* main() {
      const text = yield* exec(["sh", "-c", script], { all: true });
      const bytes = yield* exec(["sh", "-c", script], { all: true, encoding: "buffer" });
      const without = yield* exec(["sh", "-c", "echo one"]);
      return { text, bytes, without };
    }
    const task = worker.assign(main());
    await worker.run();
    const { text, bytes, without } = task.result;
    assert.equal(text.all, "one\ntwo\nthree\nfour\n");
    assert.deepEqual([text.stdout, text.stderr], ["one\nthree\n", "two\nfour\n"], "each kept too");
    assert.equal(Buffer.from(bytes.all as Uint8Array).toString(), "one\ntwo\nthree\nfour\n");
    assert.equal("all" in without, false, "no all unless asked for");
  });

  it("is kept on the error of a failed exec", async () => {
    const worker = new Worker();
    function* main() {
      try {
        yield* exec(["sh", "-c", "echo making; sleep 0.1; echo broken >&2; exit 2"], { all: true });
      } catch (error) {
        return (error as CommandError).all;
      }
      return "no error";
    }
    const task = worker.assign(main());
    await worker.run();
    assert.equal(task.result, "making\nbroken\n");
  });

  it("refuses all with buffer: false, which keeps nothing", () => {
    assert.throws(
      () => new Command(["ls"], { all: true, buffer: false }),
      /option "all" keeps the output, but "buffer" is false/,
    );
    assert.throws(() => new Command(["ls"], { all: "yes" as never }), TypeError);
  });
});

describe("input from a channel", () => {
  it("writes each value to the child's stdin as it is taken, and closes stdin when the channel is closed", async () => {
    const worker = new Worker();
    const input = new Channel<string | Uint8Array>();
    const cat = new Command(["cat"], { input });
    function* producer() {
      yield* input.send("one\n");
      yield sleep(0.05);
      yield* input.send(new TextEncoder().encode("two\n"));
      input.close();
    }
    worker.assign(cat.run());
    worker.assign(producer());
    await worker.run();
    assert.equal(cat.stdout, "one\ntwo\n");
    assert.equal(cat.exitCode, 0);
  });

  it("takes a value only once the child has read the one before (back-pressure)", async () => {
    const worker = new Worker();
    const input = new Channel<string>(); // unbuffered: a send ends when the value is taken
    const slow = new Command(["sh", "-c", "sleep 0.5; wc -c"], { input });
    const megabyte = "x".repeat(1 << 20);
    let sent = 0;
    function* producer() {
      for (let i = 0; i < 10; i++) {
        yield* input.send(megabyte);
        sent++;
      }
      input.close();
    }
    function* watcher() {
      yield sleep(0.3); // the child reads nothing for 0.5 s
      return sent;
    }
    worker.assign(slow.run());
    worker.assign(producer());
    const early = worker.assign(watcher());
    await worker.run();
    assert.ok(early.result <= 2, `${early.result} MB taken while the child read nothing`);
    assert.equal(slow.stdout.trim(), String(10 << 20), "and all of it arrived in the end");
  });

  it("closes the channel when the child reads no more, so the producer is not left waiting", async () => {
    const worker = new Worker();
    const input = new Channel<string>();
    const head = new Command(["head", "-n", "2"], { input });
    function* producer() {
      let sent = 0;
      try {
        for (;;) {
          yield* input.send(`line ${sent}\n`);
          sent++;
        }
      } catch (error) {
        if (!(error instanceof ChannelClosedError)) throw error;
        return "closed";
      }
    }
    const started = Date.now();
    worker.assign(head.run());
    const fed = worker.assign(producer());
    await worker.run();
    assert.equal(head.stdout, "line 0\nline 1\n");
    assert.equal(fed.result, "closed");
    assert.ok(Date.now() - started < 10_000);
  });

  it("fails the run, stopping the child, when the channel gives something that is no text or bytes", async () => {
    const worker = new Worker({ onError: () => {} });
    const input = new Channel<unknown>(1);
    const cat = new Command(["cat"], { input: input as Channel<string> });
    input.trySend(42);
    const task = worker.assign(cat.run());
    await worker.run();
    assert.ok(task.error instanceof TypeError);
    assert.match(
      task.error.message,
      /option "input" expects a channel of strings or Uint8Arrays, got 42/,
    );
    assert.equal(cat.signal, "SIGTERM", "the child was stopped and reaped");
  });
});

describe("pipeline", () => {
  it("pipes the stdout of each command into the stdin of the next, as a shell's a | b | c", async () => {
    const worker = new Worker();
    const words = new Command(["printf", "pear\\napple\\npear\\n"]);
    const sort = new Command(["sort", "-u"]);
    const count = new Command(["wc", "-l"]);
    const task = worker.assign(pipeline([words, sort, count]));
    await worker.run();
    const [first, second, last] = task.result;
    assert.equal(last.stdout.trim(), "2");
    assert.deepEqual([first.stdout, second.stdout], ["", ""], "what went on is not kept");
    assert.deepEqual(
      task.result.map((r) => r.exitCode),
      [0, 0, 0],
    );
  });

  it("makes a fast writer wait for a slow reader (back-pressure), losing nothing", async () => {
    const worker = new Worker();
    const fast = new Command(["head", "-c", "50000000", "/dev/zero"]);
    const slow = new Command(["sh", "-c", "sleep 1; wc -c"]);
    function* watcher() {
      yield sleep(0.5); // /dev/zero gives 50 MB in far less than that
      return { running: fast.pid !== undefined, exitCode: fast.exitCode };
    }
    const run = worker.assign(pipeline([fast, slow]));
    const early = worker.assign(watcher());
    await worker.run();
    assert.deepEqual(early.result, { running: true, exitCode: null }, "the writer waited");
    assert.equal(run.result[1].stdout.trim(), "50000000", "and every byte arrived");
  });

  it("ends a writer whose reader has stopped reading, as a shell does (yes | head -n 2)", async () => {
    const worker = new Worker();
    const started = Date.now();
    const task = worker.assign(pipeline([new Command(["yes"]), new Command(["head", "-n", "2"])]));
    await worker.run();
    const [yes, head] = task.result;
    assert.equal(head.stdout, "y\ny\n");
    // Its stdout is closed: its next write fails (Node's pipes are sockets, so yes reads
    // ECONNRESET or EPIPE and exits 1, or dies of SIGPIPE): it ends, whichever way.
    assert.ok(yes.exitCode !== 0 || yes.signal !== null, JSON.stringify(yes));
    assert.ok(Date.now() - started < 10_000);
  });

  it("fails when a command cannot run, and stops the others", async () => {
    const worker = new Worker({ onError: () => {} });
    const sleeper = new Command(["sleep", "60"]);
    const started = Date.now();
    const task = worker.assign(pipeline([sleeper, new Command(["no-such-program-clockwork"])]));
    await worker.run();
    assert.ok(task.error instanceof CommandError);
    assert.equal(task.error.message, "command not found: no-such-program-clockwork");
    assert.equal(sleeper.signal, "SIGTERM", "the other one was stopped and reaped");
    assert.ok(Date.now() - started < 10_000);
  });

  it("refuses what cannot be piped, saying why", () => {
    const ls = new Command(["ls"]);
    assert.throws(() => pipeline([ls] as never), /pipeline\(\) expects two or more Commands/);
    assert.throws(() => pipeline([ls, ls]), /command 2 \(ls\) is in the pipeline twice/);
    assert.throws(
      () => pipeline([ls, new Command(["cat"], { input: "x" })]),
      /command 2 \(cat\) has an input, but its stdin is the stdout of the one before/,
    );
    assert.throws(
      () => pipeline([new Command(["ls"], { stdout: "inherit" }), new Command(["cat"])]),
      /command 1 \(ls\) has stdout or lines set, but its stdout goes to the next command/,
    );
  });
});
