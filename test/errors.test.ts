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
