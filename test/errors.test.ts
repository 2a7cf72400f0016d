/**
 * Errors are never lost.
 *
 * A task error that nobody joins goes to the worker's `onError` if there is
 * one; otherwise the original error object is thrown from the call that was
 * driving the worker (`tick`, `doNextTask`, `tickFor`, `work`), or rejects
 * `run()`. The failed task is removed and the other tasks go on. An error
 * that crossed nested routines carries the task's routine stack in its
 * `stack` text.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { routine, sleep, spawn, VirtualClock, Worker } from "../src/index.ts";

const boom = new Error("boom");

function* failsOnSecondStep(): Generator<unknown, never> {
  yield;
  throw boom;
}

describe("errors", () => {
  it("are thrown, as the original object, from tick() and doNextTask() (semantic 5)", () => {
    const worker = new Worker();
    const task = worker.assign(failsOnSecondStep());
    worker.tick();
    assert.throws(
      () => worker.tick(),
      (e) => e === boom,
    );
    assert.equal(task.state, "failed");
    assert.equal(task.error, boom);
    assert.equal(worker.tasks.length, 0, "the failed task is removed");

    const again = new Worker();
    again.assign(failsOnSecondStep());
    again.doNextTask();
    assert.throws(
      () => again.doNextTask(),
      (e) => e === boom,
    );
  });

  it("are thrown from work() and tickFor(), and the other tasks go on", () => {
    const worker = new Worker({ clock: new VirtualClock() });
    let count = 0;
    function* counter() {
      for (let i = 0; i < 5; i++) {
        count++;
        yield;
      }
    }
    worker.assign(counter());
    worker.assign(failsOnSecondStep());
    assert.throws(
      () => worker.work(),
      (e) => e === boom,
    );
    assert.equal(worker.tasks.length, 1, "the counter is untouched");
    worker.work();
    assert.equal(count, 5);

    const timed = new Worker();
    timed.assign(failsOnSecondStep());
    assert.throws(
      () => timed.tickFor(0.01),
      (e) => e === boom,
    );
  });

  it("go to onError instead, with the task, when it is given", () => {
    const seen: [unknown, string][] = [];
    const worker = new Worker({ onError: (error, task) => seen.push([error, task.name]) });
    worker.assign(failsOnSecondStep(), { name: "doomed" });
    worker.work();
    assert.deepEqual(seen, [[boom, "doomed"]]);
  });

  it("reject run()", async () => {
    const worker = new Worker();
    worker.assign(failsOnSecondStep());
    await assert.rejects(worker.run(), (e) => e === boom);
  });

  it("are thrown from the driving call if onError itself throws", () => {
    const worker = new Worker({
      onError: () => {
        throw new Error("onError broke");
      },
    });
    worker.assign(failsOnSecondStep());
    assert.throws(() => worker.work(), /onError broke/);
  });

  it("carry the routine names of the task's stack (semantic 5)", () => {
    const parse = routine(function* parse(text: string): Generator<unknown, never> {
      yield;
      throw new SyntaxError(`cannot parse ${text}`);
    });
    const fetchPage = routine(function* fetchPage() {
      return yield parse("<html");
    });
    const crawl = routine(function* crawl() {
      yield fetchPage();
    });
    const worker = new Worker();
    worker.assign(crawl());
    assert.throws(
      () => worker.work(),
      (error: unknown) => {
        assert.ok(error instanceof SyntaxError, "the original error, not a wrapper");
        assert.match(
          String(error.stack),
          /in task "crawl", routine stack: crawl > fetchPage > parse/,
        );
        return true;
      },
    );
  });

  it("whose stack is an accessor (V8 12: Node 22) are not formatted until read, and then carry the routine names", () => {
    // Node 20 keeps `stack` as a data property; Node 22 as an own accessor, as made here.
    let formatted = 0;
    let stored: string | undefined;
    const own = {
      configurable: true,
      enumerable: false,
      get(): string {
        formatted++;
        return stored ?? "Error: deep\n    at deep (deep.js:1:1)";
      },
      set(value: string) {
        stored = value;
      },
    };
    const error = new Error("deep");
    Object.defineProperty(error, "stack", own);
    const deep = routine(function* deep(): Generator<unknown, never> {
      yield;
      throw error;
    });
    const outer = routine(function* outer() {
      let caught: unknown;
      try {
        yield deep();
      } catch (thrown) {
        caught = thrown;
      }
      return caught;
    });
    const worker = new Worker();
    const task = worker.assign(outer());
    worker.work();
    assert.equal(task.result, error, "the original error, caught by the caller");
    assert.equal(formatted, 0, "nobody read its stack, so it was not formatted");
    assert.match(
      String(error.stack),
      /^Error: deep\n.*\n {4}in task "outer", routine stack: outer > deep$/s,
    );
    assert.equal(formatted, 2, "read once for the note, once more as written back");
    const now = Object.getOwnPropertyDescriptor(error, "stack");
    assert.equal(now?.get, own.get, "its own accessor is back");
    assert.equal(now?.set, own.set);
    assert.match(String(error.stack), /routine stack: outer > deep$/, "the note is added once");

    // Written before it is read: what is written is what is read, as when the note came at once.
    stored = undefined;
    const rewritten = new Error("deep");
    Object.defineProperty(rewritten, "stack", own);
    const fails = worker.assign(
      routine(function* fails(): Generator<unknown, never> {
        yield;
        throw rewritten;
      })(),
    );
    assert.throws(
      () => worker.work(),
      (e) => e === rewritten,
    );
    assert.equal(fails.error, rewritten);
    rewritten.stack = "mine";
    assert.equal(rewritten.stack, "mine");
    assert.equal(Object.getOwnPropertyDescriptor(rewritten, "stack")?.get, own.get);
  });

  it("from a child nobody joins reach the top through the parent, once", () => {
    const reported: unknown[] = [];
    const worker = new Worker({ clock: new VirtualClock(), onError: (e) => reported.push(e) });
    const child = routine(function* child(): Generator<unknown, never> {
      yield sleep(1);
      throw boom;
    });
    const parent = routine(function* parent() {
      spawn(child());
      yield sleep(5);
    });
    worker.assign(parent());
    worker.work();
    assert.deepEqual(reported, [boom]);
  });
});
