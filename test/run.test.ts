/**
 * run(): the worker alongside the event loop.
 *
 * `await worker.run()` runs tasks in slices of about a millisecond and lets
 * the event loop in between, so timers, I/O and other callbacks of the
 * host keep going while thousands of tasks switch. When nothing is
 * runnable it sleeps on one host timer for the earliest deadline, and a
 * promise settling wakes it. With a VirtualClock, idle time is skipped.
 * These tests use real time, with generous bounds.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Channel,
  park,
  routine,
  sleep,
  suspend,
  type Task,
  VirtualClock,
  Wait,
  Worker,
} from "../src/index.ts";
import { nodeScript } from "./support.ts";

describe("run()", () => {
  it("never blocks the event loop: a 1 ms setInterval keeps firing while thousands of tasks switch (semantic 4)", async () => {
    const worker = new Worker();
    const busy = routine(function* busy() {
      for (let i = 0; i < 2000; i++) yield;
    });
    for (let i = 0; i < 2000; i++) worker.assign(busy()); // 4 million steps
    let fired = 0;
    let longestGap = 0;
    let last = performance.now();
    const interval = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
      fired++;
    }, 1);
    const start = performance.now();
    await worker.run();
    clearInterval(interval);
    const elapsed = performance.now() - start;
    assert.equal(worker.counters.steps, 4_002_000);
    // Bounded so a loaded CI machine passes, yet a run() that held the loop for its whole length fails.
    assert.ok(
      fired >= Math.min(10, elapsed / 20),
      `the interval fired ${fired} times in ${elapsed.toFixed(0)} ms`,
    );
    assert.ok(
      longestGap < Math.max(50, elapsed / 4),
      `longest gap between intervals: ${longestGap.toFixed(1)} ms`,
    );
  });

  it("sleeps on a host timer and wakes sleepers on time", async () => {
    const worker = new Worker();
    const late: number[] = [];
    const nap = routine(function* nap(seconds: number) {
      const due = performance.now() + seconds * 1000;
      yield sleep(seconds);
      late.push(performance.now() - due);
    });
    for (let i = 0; i < 100; i++) worker.assign(nap(0.02 + (i % 5) * 0.01));
    await worker.run();
    assert.equal(late.length, 100);
    assert.ok(Math.min(...late) >= 0, "never early");
    assert.ok(Math.max(...late) < 100, `at most ${Math.max(...late).toFixed(1)} ms late`);
  });

  it("wakes when a promise settles or a callback fires", async () => {
    const worker = new Worker();
    const trace: string[] = [];
    function* waiter() {
      const value: string = yield new Promise((resolve) =>
        setTimeout(() => resolve("from a promise"), 10),
      );
      trace.push(value);
      const other = yield* park<string>(({ wake }) => {
        const id = setTimeout(() => wake("from a callback"), 10);
        return () => clearTimeout(id);
      }, "a host timer");
      trace.push(other);
    }
    worker.assign(waiter());
    await worker.run();
    assert.deepEqual(trace, ["from a promise", "from a callback"]);
  });

  it("steps tasks woken from outside while it sleeps, and a sleep they start is not left behind a later timer", async () => {
    // run() sleeps on a host timer 5 s away (the watchman). A host callback
    // wakes the courier, whose steps are taken while run() sleeps on; the
    // courier then naps 30 ms, which must wake it on time, not after 5 s.
    const worker = new Worker();
    const trace: string[] = [];
    const watchman = worker.assign(
      (function* watchman() {
        yield sleep(5);
      })(),
    );
    const start = performance.now();
    worker.assign(
      (function* courier() {
        for (let n = 1; n <= 3; n++) {
          yield* park<void>(({ wake }) => {
            const id = setTimeout(() => wake(), 5);
            return () => clearTimeout(id);
          }, "a host timer");
          trace.push(`woken ${n}`);
        }
        yield sleep(0.03);
        trace.push("napped");
        watchman.cancel();
      })(),
    );
    await worker.run();
    const ms = performance.now() - start;
    assert.deepEqual(trace, ["woken 1", "woken 2", "woken 3", "napped"]);
    assert.ok(
      ms < 1000,
      `run() ended after ${ms.toFixed(0)} ms: the 30 ms nap waited for the 5 s timer`,
    );
  });

  it("takes tasks assigned from outside while it runs", async () => {
    const worker = new Worker();
    function* keeper() {
      yield new Promise((resolve) => setTimeout(resolve, 30));
    }
    worker.assign(keeper());
    const results: string[] = [];
    setTimeout(() => {
      worker.assign(
        (function* late() {
          yield;
          results.push("late task ran");
        })(),
      );
    }, 5);
    await worker.run();
    assert.deepEqual(results, ["late task ran"]);
  });

  it("skips idle time with a VirtualClock: a simulated hour takes milliseconds", async () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    let ticks = 0;
    function* clockTower() {
      for (let s = 0; s < 3600; s++) {
        yield sleep(1);
        ticks++;
      }
    }
    worker.assign(clockTower());
    const start = performance.now();
    await worker.run();
    assert.equal(ticks, 3600);
    assert.equal(clock.now(), 3600);
    assert.ok(performance.now() - start < 5000);
  });

  it("lets a settled promise in before jumping virtual time", async () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    const trace: string[] = [];
    function* sleeper() {
      yield sleep(100);
      trace.push(`sleeper at ${clock.now()}`);
    }
    function* awaiter() {
      yield Promise.resolve();
      trace.push(`awaiter at ${clock.now()}`);
    }
    worker.assign(sleeper());
    worker.assign(awaiter());
    await worker.run();
    assert.deepEqual(trace, ["awaiter at 0", "sleeper at 100"]);
  });

  it("runs park()'s cleanup when the parked task is cancelled", async () => {
    const worker = new Worker();
    let cleaned = 0;
    function* parked() {
      yield* park(() => () => cleaned++, "something that never comes");
    }
    const task = worker.assign(parked());
    setTimeout(() => task.cancel(), 5);
    await worker.run();
    assert.equal(cleaned, 1);
    assert.equal(task.state, "cancelled");
  });

  it("parks a task on suspend() until it is cancelled, and runs its finally", async () => {
    const worker = new Worker();
    const trace: string[] = [];
    function* holder() {
      try {
        yield suspend();
      } finally {
        trace.push("released");
      }
    }
    const task = worker.assign(holder());
    setTimeout(() => task.cancel(), 5);
    await worker.run();
    assert.deepEqual(trace, ["released"]);
    assert.match(worker.dump(), /0 live tasks/);
  });
});

/**
 * A deadlock under run(): tasks wait on each other (channels, say), no
 * timer is pending, and the event loop has nothing left that could wake
 * them. Without a word, node would end the process with the run() promise
 * never settled (exit code 13 under a top-level await). Instead run()
 * rejects with WouldBlockError naming the tasks, as work() does. Only a
 * whole process shows this, so these tests run scripts in a child node.
 */
describe("run() in a deadlock", () => {
  /** Two tasks, each waiting for the other to send first; both clean up when cancelled. */
  const deadlock = `
    import { Channel, routine, run, spawn, Worker } from "./src/index.ts";
    const ping = new Channel(), pong = new Channel();
    const player = (name, inbox, outbox) => routine(function* player() {
      try {
        const ball = yield* inbox.receive(); // both wait here: nobody serves
        yield* outbox.send(ball);
      } finally {
        console.log(name + " cleaned up");
      }
    })();
    const match = routine(function* match() {
      spawn(player("ada", ping, pong), { name: "ada" });
      spawn(player("bob", pong, ping), { name: "bob" });
    });
  `;

  it("rejects run() with WouldBlockError naming the tasks, after cancelling them (their finally runs), instead of exiting silently", async () => {
    const { code, stdout, stderr } = await nodeScript(`${deadlock}
      await run(match());
    `);
    assert.equal(code, 1, `exit code ${code}; stderr: ${stderr}`);
    // Torn down last in, first out.
    assert.deepEqual(stdout.trim().split("\n"), ["bob cleaned up", "ada cleaned up"]);
    assert.match(
      stderr,
      /WouldBlockError: run\(\) is deadlocked: no task is runnable, no timer is pending and the event loop has nothing left to do, so nothing can wake the 2 tasks that wait: task "ada" \(waiting on [^\n]*channel[^\n]*\), task "bob" \(waiting on [^\n]*channel/,
    );
  });

  it("rejects worker.run() the same way, leaving the tasks as they are for the caller", async () => {
    const { code, stdout, stderr } = await nodeScript(`${deadlock}
      const worker = new Worker();
      worker.assign(match());
      try {
        await worker.run();
      } catch (error) {
        console.log(error.name + ": " + error.tasks.join(", "));
        console.log(worker.tasks.map(String).join(", "));
        worker.cancelAll();
        await worker.run();
      }
    `);
    assert.equal(stderr, "");
    assert.deepEqual(stdout.trim().split("\n"), [
      "WouldBlockError: ada, bob",
      'task "match" (waiting), task "ada" (waiting), task "bob" (waiting)',
      "bob cleaned up",
      "ada cleaned up",
    ]);
    assert.equal(code, 0);
  });

  it("does not report a program that waits for a promise the event loop will settle, or that its own beforeExit listener wakes", async () => {
    const { code, stdout, stderr } = await nodeScript(`
      import { Channel, run } from "./src/index.ts";
      console.log(await run((function* timerPromise() {
        return yield new Promise((resolve) => setTimeout(() => resolve("a timer settled it"), 50));
      })()));
      const inbox = new Channel();
      // Once the event loop is empty, this listener starts more work that wakes the task.
      process.once("beforeExit", () => setTimeout(() => inbox.trySend("woken at exit"), 20));
      console.log(await run((function* lateWake() {
        return yield* inbox.receive();
      })()));
    `);
    assert.equal(stderr, "");
    assert.deepEqual(stdout.trim().split("\n"), ["a timer settled it", "woken at exit"]);
    assert.equal(code, 0);
  });

  it("listens to the host once for any number of runs, and leaves no listener behind", async () => {
    const before = process.listenerCount("beforeExit");
    const inbox = new Channel<number>();
    const workers = Array.from({ length: 50 }, () => new Worker());
    const runs = workers.map((worker) => {
      worker.assign(
        routine(function* waiter() {
          yield* inbox.receive();
        })(),
      );
      return worker.run();
    });
    await new Promise((resolve) => setImmediate(resolve)); // every run() is idle now
    assert.equal(process.listenerCount("beforeExit"), before + 1);
    for (let i = 0; i < 50; i++) inbox.trySend(i);
    await Promise.all(runs);
    assert.equal(process.listenerCount("beforeExit"), before);
  });
});

describe("Wait", () => {
  it("is the low-level park/wake API: a new way of waiting is a subclass, not a change to the worker", () => {
    class Bell extends Wait<string> {
      readonly waiters: Task<unknown>[] = [];
      park(task: Task<unknown>) {
        this.waiters.push(task);
      }
      override release(task: Task<unknown>) {
        this.waiters.splice(this.waiters.indexOf(task), 1);
      }
      ring(sound: string) {
        for (const task of this.waiters.splice(0)) this.wake(task, sound);
      }
      describe() {
        return "a bell";
      }
    }
    const bell = new Bell();
    const heard: string[] = [];
    const listener = routine(function* listener() {
      const sound: string = yield bell; // yield parks directly
      heard.push(sound);
      heard.push(yield* bell); // yield* delegates natively (no frame of ours) and is typed
    });
    const worker = new Worker();
    const task = worker.assign(listener());
    while (worker.tick()) {}
    assert.match(worker.dump(), /task "listener" waiting on a bell/);
    bell.ring("ding");
    while (worker.tick()) {}
    assert.deepEqual(task.stack, ["listener"]);
    bell.ring("dong");
    worker.work();
    assert.deepEqual(heard, ["ding", "dong"]);
    assert.equal(
      bell.wake(task, "late"),
      false,
      "a wake for a task that does not wait on it is ignored",
    );
  });

  it("through yield*, throws what fail() gives into the task, and lets a cancelled task unwind", () => {
    class Gate extends Wait<number> {
      readonly waiters = new Set<Task<unknown>>();
      park(task: Task<unknown>) {
        this.waiters.add(task);
      }
      override release(task: Task<unknown>) {
        this.waiters.delete(task);
      }
      describe() {
        return "a gate";
      }
    }
    const gate = new Gate();
    const trace: string[] = [];
    const walker = routine(function* walker() {
      trace.push(`passed with ${yield* gate}`);
      try {
        yield* gate;
      } catch (error) {
        trace.push(`refused: ${(error as Error).message}`);
      }
      try {
        yield* gate;
      } finally {
        trace.push("unwound");
      }
    });
    const worker = new Worker();
    const task = worker.assign(walker());
    worker.tick();
    for (const t of gate.waiters) gate.wake(t, 7);
    worker.tick();
    for (const t of gate.waiters) gate.fail(t, new Error("closed"));
    worker.tick();
    assert.equal(gate.waiters.size, 1);
    task.cancel();
    worker.work();
    assert.equal(task.state, "cancelled");
    assert.equal(gate.waiters.size, 0, "release() ran");
    assert.deepEqual(trace, ["passed with 7", "refused: closed", "unwound"]);
  });
});

/**
 * deliver(): an outside event, stepped at once.
 *
 * A host callback that wakes a task normally leaves the step to run()'s
 * next slice, a microtask later. `worker.deliver(callback)` runs the
 * callback and, if it woke an idle run(), steps the woken tasks before it
 * returns: the HTTP server answers a request inside node:http's own
 * callback this way. Everywhere else it is just a call of the callback.
 */
describe("deliver()", () => {
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

  /** A worker under run() with one task that records what arrives on `inbox` until "bye". */
  function listener() {
    const worker = new Worker();
    const inbox = new Channel<string>();
    const seen: string[] = [];
    const task = worker.assign(
      routine(function* reader() {
        for (;;) {
          const message = yield* inbox.receive();
          if (message === "bye") return;
          seen.push(message);
        }
      })(),
    );
    const done = worker.run();
    return { worker, inbox, seen, task, done };
  }

  it("steps what the callback woke before it returns; a plain wake waits for a microtask", async () => {
    const { worker, inbox, seen, done } = listener();
    await turn(); // run() is idle: the reader waits on the channel
    const sent = worker.deliver(() => inbox.trySend("now"));
    assert.equal(sent, true, "deliver() gives back what the callback returned");
    assert.deepEqual(seen, ["now"], "stepped inside deliver()");
    assert.equal(inbox.trySend("later"), true);
    assert.deepEqual(seen, ["now"], "without deliver(), not yet");
    await turn();
    assert.deepEqual(seen, ["now", "later"]);
    worker.deliver(() => inbox.trySend("bye"));
    await done;
  });

  it("a callback that throws still has its wake stepped, then the error goes to the caller", async () => {
    const { worker, inbox, seen, done } = listener();
    await turn();
    assert.throws(
      () =>
        worker.deliver(() => {
          inbox.trySend("half");
          throw new Error("the handler broke after the wake");
        }),
      /the handler broke after the wake/,
    );
    assert.deepEqual(seen, ["half"]);
    assert.ok(inbox.trySend("bye"));
    await done;
  });

  it("inside a step it only calls the callback: no task steps inside another's step", async () => {
    const { worker, inbox, seen, done } = listener();
    await turn();
    const order: string[] = [];
    worker.assign(
      routine(function* sender() {
        worker.deliver(() => inbox.trySend("from a task"));
        order.push(`after deliver: ${seen.length} seen`);
      })(),
    );
    await turn();
    assert.deepEqual(order, ["after deliver: 0 seen"]);
    assert.deepEqual(seen, ["from a task"]);
    worker.deliver(() => inbox.trySend("bye"));
    await done;
  });

  it("with no run() idle (tick-driven here) it only calls the callback", () => {
    const worker = new Worker();
    const inbox = new Channel<string>();
    const seen: string[] = [];
    worker.assign(
      routine(function* reader() {
        seen.push(yield* inbox.receive());
      })(),
    );
    worker.tick(); // the reader now waits
    worker.deliver(() => inbox.trySend("hello"));
    assert.deepEqual(seen, [], "nothing stepped: tick() drives this worker");
    worker.tick();
    assert.deepEqual(seen, ["hello"]);
  });

  it("refuses a callback that is not a function", () => {
    const worker = new Worker();
    assert.throws(
      () => worker.deliver("go" as unknown as () => void),
      (error: unknown) =>
        error instanceof TypeError &&
        /deliver\(\) expects a function, got string "go"/.test(error.message),
    );
  });

  it("task.worker is the worker that steps the task", () => {
    const worker = new Worker();
    const task = worker.assign(routine(function* idle() {})());
    assert.equal(task.worker, worker);
    worker.work();
  });
});
