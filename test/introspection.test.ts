/**
 * Introspection: names, stacks, dump() and counters.
 *
 * A program with many microthreads must be easy to look into. Tasks and
 * stack frames are named after their routines (marked with `routine()`,
 * since JavaScript cannot get from a generator back to its function);
 * `task.stack` lists a task's call stack; `worker.dump()` shows every task,
 * its state, what it waits on and its stack; counters feed stats pages,
 * consoles and benchmarks.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  repeat,
  routine,
  type SlowStep,
  sleep,
  spawn,
  VirtualClock,
  Worker,
} from "../src/index.ts";

describe("names", () => {
  it("come from options.name, else the routine's name, else task#N", () => {
    const crawl = routine(function* crawl(_url: string) {
      yield;
    });
    function* unnamed() {
      yield;
    }
    const worker = new Worker();
    assert.equal(worker.assign(crawl("/")).name, "crawl");
    assert.equal(worker.assign(crawl("/"), { name: "home page" }).name, "home page");
    assert.equal(worker.assign(unnamed()).name, "task#3");
    assert.equal(crawl.name, "crawl", "routine() keeps the function's name");
  });

  it("work for functions that return a generator, too", () => {
    function* inner() {
      yield;
    }
    const viaFactory = routine(function factory() {
      return inner();
    });
    assert.equal(viaFactory.name, "factory");
    assert.equal(new Worker().assign(viaFactory()).name, "factory");
  });

  it("name the library's own routines", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    const napper = routine(function* napper() {
      yield sleep(1);
    });
    const waiter = routine(function* waiter() {
      const child = spawn(napper());
      yield child.join(); // a call of the library's "join" routine
    });
    const task = worker.assign(waiter());
    const repeating = worker.assign(repeat(1, () => {}));
    while (worker.tick()) {}
    assert.deepEqual(task.stack, ["waiter", "join"]);
    assert.deepEqual(repeating.stack, ["repeat"]);
    assert.equal(repeating.name, "repeat");
    assert.match(worker.dump(), /task "napper" waiting on sleep until 1\.000/);
  });
});

describe("task.stack", () => {
  it("lists the routines on the call stack, outermost first, <anonymous> where unknown", () => {
    const worker = new Worker({ clock: new VirtualClock() });
    const leaf = routine(function* leaf() {
      yield sleep(5);
    });
    function* anonymousMiddle() {
      yield leaf();
    }
    const root = routine(function* root() {
      yield anonymousMiddle();
    });
    const task = worker.assign(root());
    assert.deepEqual(task.stack, ["root"]);
    while (worker.tick()) {}
    assert.deepEqual(task.stack, ["root", "<anonymous>", "leaf"]);
    worker.work();
    assert.deepEqual(task.stack, []);
  });
});

describe("dump()", () => {
  it("shows each task, its state, what it waits on and its stack, children under parents", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    const child = routine(function* child() {
      yield sleep(2);
    });
    const spinner = routine(function* spinner() {
      for (;;) yield;
    });
    const main = routine(function* main() {
      const c = spawn(child());
      yield c;
    });
    worker.assign(main());
    worker.assign(spinner());
    for (let i = 0; i < 6; i++) worker.tick();
    const dump = worker.dump();
    assert.match(
      dump,
      /^worker: 3 live tasks, 1 runnable, 1 sleeping; 6 steps, 3 tasks created, 0 finished; clock 0\.000 s/,
    );
    assert.match(dump, /\n {2}task "main" waiting on task "child"\n {4}at main\n/);
    assert.match(dump, /\n {4}task "child" waiting on sleep until 2\.000\n {6}at child\n/);
    assert.match(dump, /\n {2}task "spinner" runnable\n {4}at spinner/);
  });
});

describe("counters", () => {
  it("count steps and tasks created and finished", () => {
    const worker = new Worker();
    function* twice() {
      yield;
    }
    worker.assign(twice());
    worker.assign(twice());
    worker.work();
    assert.deepEqual(worker.counters, {
      steps: 4,
      tasksCreated: 2,
      tasksFinished: 2,
      longestStep: 0,
    });
  });

  it("time the longest step when the worker profiles", () => {
    const worker = new Worker({ profile: true });
    function* slowStep() {
      const end = performance.now() + 5;
      while (performance.now() < end) {
        // a step that hogs the thread for 5 ms
      }
      yield;
    }
    worker.assign(slowStep());
    worker.work();
    assert.ok(
      worker.counters.longestStep >= 0.005,
      `longest step ${worker.counters.longestStep} s`,
    );
  });
});

describe("the slow-step alarm", () => {
  // "If you take too long at one, then the others lock up": the original library's one warning.
  /** Spins for `ms` of real time: a step that blocks every other task. */
  function busy(ms: number): void {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      // spin
    }
  }

  it("reports a step longer than slowStep, naming the task and the routines on its stack", () => {
    const reports: SlowStep[] = [];
    const worker = new Worker({
      clock: new VirtualClock(),
      slowStep: 0.02,
      onSlowStep: (report) => reports.push(report),
    });
    const parse = routine(function* parse() {
      yield;
      busy(60); // a step of 60 ms: every other task waits
      yield;
    });
    const main = routine(function* main() {
      yield parse();
    });
    worker.assign(main());
    worker.work();
    const slow = reports.filter((r) => r.seconds >= 0.05);
    assert.equal(slow.length, 1, reports.map((r) => r.message).join("\n"));
    const [report] = slow as [SlowStep];
    assert.equal(report.task.name, "main");
    assert.deepEqual(report.stack, ["main", "parse"]);
    assert.match(
      report.message,
      /^a step of task "main" took 0\.\d{3} s \(over 0\.020 s; every other task waited\), at main > parse$/,
    );
  });

  it("refuses a threshold that is not above 0, and reports an alarm that throws as an error", () => {
    assert.throws(() => new Worker({ slowStep: 0 }), /"slowStep" expects seconds above 0, got 0/);
    assert.throws(() => new Worker({ slowStep: -1 }), RangeError);
    assert.throws(() => new Worker({ onSlowStep: 5 as never }), /"onSlowStep" expects a function/);
    const errors: unknown[] = [];
    const broken = new Error("the alarm broke");
    const worker = new Worker({
      clock: new VirtualClock(),
      slowStep: 0.01,
      onSlowStep: () => {
        throw broken;
      },
      onError: (error) => errors.push(error),
    });
    worker.assign(
      (function* slow() {
        busy(30);
        yield;
      })(),
    );
    worker.work();
    assert.ok(errors.includes(broken), "the alarm's error reached onError");
  });
});
