/**
 * Semaphore and Future.
 *
 * A Semaphore holds permits: `yield* acquire()` takes one, waiting while
 * none is free; `release()` hands it to the oldest waiter or back to the
 * pool; `withPermit(routine)` holds one around a routine and gives it back
 * however the routine ends. A Future is a value set once, from anywhere,
 * that any number of tasks wait for.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Future, routine, Semaphore, sleep, spawn, Worker, wrap } from "../src/index.ts";
import { virtualWorker } from "./support.ts";

describe("Semaphore", () => {
  it("limits a pool of workers: at most N hold a permit at once", () => {
    const { clock, worker } = virtualWorker();
    const pool = new Semaphore(3);
    let active = 0;
    let peak = 0;
    const job = routine(function* job(i: number) {
      return yield* pool.withPermit(
        (function* work() {
          active++;
          peak = Math.max(peak, active);
          yield sleep(1);
          active--;
          return i * 10;
        })(),
      );
    });
    function* main() {
      const tasks = [1, 2, 3, 4, 5, 6, 7].map((i) => spawn(job(i)));
      const results: number[] = [];
      for (const t of tasks) results.push(yield* t.join());
      return results;
    }
    const task = worker.assign(main());
    worker.work();
    assert.deepEqual(task.result, [10, 20, 30, 40, 50, 60, 70]);
    assert.equal(peak, 3);
    assert.equal(clock.now(), 3, "seven one-second jobs, three at a time");
    assert.equal(pool.available, 3);
  });

  it("serves waiters first in first out, with no barging by tryAcquire", () => {
    const { worker } = virtualWorker();
    const lock = new Semaphore(1);
    const order: string[] = [];
    const waiter = routine(function* waiter(name: string) {
      yield* lock.acquire();
      order.push(name);
      lock.release();
    });
    assert.equal(lock.tryAcquire(), true);
    worker.assign(waiter("a"));
    worker.assign(waiter("b"));
    while (worker.tick()) {}
    lock.release(); // goes to "a", not to the pool
    assert.equal(lock.tryAcquire(), false, "the freed permit went to the oldest waiter");
    worker.work();
    assert.deepEqual(order, ["a", "b"]);
    assert.equal(lock.available, 1);
  });

  it("releases the permit when the routine throws or is cancelled", () => {
    const { worker } = virtualWorker();
    const pool = new Semaphore(1);
    function* failing(): Generator<unknown, never> {
      yield;
      throw new Error("boom");
    }
    assert.throws(() => wrap(pool.withPermit(failing())), /boom/);
    assert.equal(pool.available, 1);
    function* holder() {
      yield* pool.withPermit(
        (function* () {
          yield sleep(100);
        })(),
      );
    }
    const task = worker.assign(holder());
    while (worker.tick()) {}
    assert.equal(pool.available, 0);
    task.cancel();
    worker.work();
    assert.equal(pool.available, 1);
  });

  it("runs bodies of every kind: generators of functions made anew each turn, hand-made iterators, a sleep", () => {
    const lock = new Semaphore(1);
    const trace: string[] = [];
    function* main() {
      for (let i = 0; i < 3; i++) {
        // A new generator function each turn (resumed through %GeneratorPrototype%.next).
        const got = yield* lock.withPermit(
          (function* body() {
            yield;
            return i * 10;
          })(),
        );
        trace.push(`body ${got}`);
      }
      const answer = yield* lock.withPermit(wrapIterator(42)); // a hand-made iterator: its own next()
      trace.push(`iterator ${answer}`);
      yield* lock.withPermit(sleep(1)); // a sleep is a wait and its own iterator
      trace.push(`slept, ${lock.available} permit free`);
    }
    const { worker, clock } = virtualWorker();
    worker.assign(main());
    worker.work();
    assert.deepEqual(trace, [
      "body 0",
      "body 10",
      "body 20",
      "iterator 42",
      "slept, 1 permit free",
    ]);
    assert.equal(clock.now(), 1);

    /** An iterator with the generator protocol, not a generator: yields once, then returns `value`. */
    function wrapIterator(value: number): Generator<unknown, number, unknown> {
      let started = false;
      const it: Generator<unknown, number, unknown> = {
        next: () => {
          if (started) return { value, done: true };
          started = true;
          return { value: undefined, done: false };
        },
        return: (v) => ({ value: v as number, done: true }),
        throw: (e) => {
          throw e;
        },
        [Symbol.iterator]: () => it,
        [Symbol.toStringTag]: "Generator",
      } as Generator<unknown, number, unknown>;
      return it;
    }
  });

  it("gives the body's result back, shows as a withPermit frame when yielded as a call, and refuses a body that is not a generator", () => {
    assert.throws(() => new Semaphore(1).withPermit(7 as unknown as Generator), /got number 7/);
    const { worker } = virtualWorker();
    const lock = new Semaphore(1);
    const seen: string[][] = [];
    const body = routine(function* body() {
      yield;
      seen.push(worker.tasks[0]?.stack ?? []);
      return 42;
    });
    const task = worker.assign(
      routine(function* main() {
        return yield lock.withPermit(body()); // a plain yield: the withPermit object is a frame of its own
      })(),
    );
    worker.work();
    assert.equal(task.result, 42);
    assert.deepEqual(seen, [["main", "withPermit"]], "the body runs inside the withPermit frame");
    assert.equal(lock.available, 1);
    assert.throws(
      () => lock.withPermit(body as unknown as Generator),
      (error: unknown) =>
        error instanceof TypeError &&
        /withPermit\(\) expects a generator object, got the generator function body: call it, e\.g\. withPermit\(body\(\)\)/.test(
          error.message,
        ),
    );
  });

  it("leaks no permit when a waiter is cancelled, even after a permit was handed to it", () => {
    const { worker } = virtualWorker();
    const lock = new Semaphore(1);
    lock.tryAcquire();
    function* waiter() {
      yield* lock.acquire();
      lock.release();
    }
    const early = worker.assign(waiter());
    const late = worker.assign(waiter());
    while (worker.tick()) {}
    lock.release(); // handed to "early", which has not run since
    early.cancel(); // so the permit passes on to "late"
    worker.work();
    assert.equal(early.state, "cancelled");
    assert.equal(late.state, "done");
    assert.equal(lock.available, 1);
  });

  it("refuses bad permits, and a release without an acquire", () => {
    assert.throws(() => new Semaphore(-1), { name: "RangeError", message: /got number -1/ });
    assert.throws(() => new Semaphore(0.5), RangeError);
    const sem = new Semaphore(2);
    assert.throws(() => sem.release(), /no permit is held \(all 2 are available\)/);
  });
});

describe("Future", () => {
  it("wakes every waiter with the value, set from outside any task", () => {
    const { worker } = virtualWorker();
    const ready = new Future<string>();
    const waiter = routine(function* waiter() {
      return yield* ready.wait();
    });
    const a = worker.assign(waiter());
    const b = worker.assign(waiter());
    while (worker.tick()) {}
    assert.equal(ready.settled, false);
    ready.resolve("go");
    worker.work();
    assert.deepEqual([a.result, b.result], ["go", "go"]);
    assert.equal(wrap(ready.wait()), "go", "a settled future answers at once");
  });

  it("throws a rejection into every waiter", () => {
    const failed = new Future<number>();
    failed.reject(new Error("no"));
    assert.throws(() => wrap(failed.wait()), /no/);
  });

  it("refuses to be settled twice", () => {
    const once = new Future<number>();
    once.resolve(1);
    assert.throws(
      () => once.resolve(2),
      /Future\.resolve\(number 2\): the future was already resolved/,
    );
    assert.throws(() => once.reject(new Error("x")), /already resolved/);
  });

  it("lets a cancelled waiter leave; the others still get the value", () => {
    const { worker } = virtualWorker();
    const ready = new Future<number>();
    function* waiter() {
      return yield* ready.wait();
    }
    const leaving = worker.assign(waiter());
    const staying = worker.assign(waiter());
    while (worker.tick()) {}
    leaving.cancel();
    ready.resolve(42);
    worker.work();
    assert.equal(leaving.state, "cancelled");
    assert.equal(staying.result, 42);
  });

  it("bridges a callback into a task under run()", async () => {
    const worker = new Worker();
    const reply = new Future<string>();
    setTimeout(() => reply.resolve("pong"), 5);
    const task = worker.assign(reply.wait());
    await worker.run();
    assert.equal(task.result, "pong");
  });
});
