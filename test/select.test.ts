/**
 * select: wait for the first of several channel operations, and do exactly
 * that one.
 *
 * Like Go's `select`: the cases are operations that have not started
 * (`receive()`, `receiveOrClosed()`, `send(v)`, `acquire()`, `wait()`, and
 * `sleep(s)` as a timeout). Exactly one happens, whatever else happens
 * around it: the others leave their queues in the same moment, so no value
 * is taken from a channel and then dropped, and no sender is told its
 * value was delivered when it was not. The result says which case happened
 * (`index`, or `key` for named cases) with its value, typed per case. When
 * several are ready at once, one is picked at random, so none starves.
 * `trySelect` is the twin that never waits (Go's `default:`).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expectTypeOf } from "expect-type";
import {
  Channel,
  ChannelClosedError,
  Future,
  routine,
  Semaphore,
  select,
  sleep,
  trySelect,
  wrap,
} from "../src/index.ts";
import { collectingWorker } from "./support.ts";

/** Everything left in a channel, oldest first (it is drained). */
function drain<T>(channel: Channel<T>): T[] {
  const left: T[] = [];
  for (let r = channel.tryReceive(); r.ok; r = channel.tryReceive()) left.push(r.value);
  return left;
}

describe("select", () => {
  it("does the one case that is ready and says which, with its value", () => {
    const { worker } = collectingWorker();
    const numbers = new Channel<number>(1);
    const words = new Channel<string>(1);
    words.trySend("ready");
    const seen: unknown[] = [];
    function* main() {
      const got = yield* select([numbers.receive(), words.receive()]);
      seen.push(got);
    }
    worker.assign(main());
    worker.work();
    assert.deepEqual(seen, [{ index: 1, value: "ready" }]);
  });

  it("types its result per case: by index for an array, by key for an object", () => {
    const numbers = new Channel<number>(1);
    const words = new Channel<string>(1);
    const done = new Future<boolean>();
    function* typed() {
      const got = yield* select([numbers.receive(), words.send("x"), sleep(1)]);
      if (got.index === 0) expectTypeOf(got.value).toEqualTypeOf<number>();
      if (got.index === 1) expectTypeOf(got.value).toEqualTypeOf<void>();
      const named = yield* select({ n: numbers.receive(), done: done.wait() });
      if (named.key === "n") expectTypeOf(named.value).toEqualTypeOf<number>();
      if (named.key === "done") expectTypeOf(named.value).toEqualTypeOf<boolean>();
      const closed = yield* select({ next: words.receiveOrClosed() });
      if (closed.value.ok) expectTypeOf(closed.value.value).toEqualTypeOf<string>();
    }
    expectTypeOf(typed).returns.toMatchTypeOf<Generator>();
  });

  it("gives named cases by key", () => {
    const { worker } = collectingWorker();
    const jobs = new Channel<string>(1);
    const quit = new Channel<void>(1);
    const seen: unknown[] = [];
    function* main() {
      jobs.trySend("build");
      const got = yield* select({ job: jobs.receive(), quit: quit.receive() });
      seen.push(got);
    }
    worker.assign(main());
    worker.work();
    assert.deepEqual(seen, [{ key: "job", value: "build" }]);
  });

  it("waits until a case can happen; the others leave their queues in that moment", () => {
    const { clock, worker } = collectingWorker();
    const a = new Channel<string>();
    const b = new Channel<string>();
    const trace: string[] = [];
    function* chooser() {
      const got = yield* select([a.receive(), b.receive()]);
      trace.push(`chose ${got.index}: ${got.value} at ${clock.now()}`);
    }
    function* senders() {
      yield sleep(1);
      a.trySend("from a"); // the select commits to this case now
      trace.push(`b takes a send: ${b.trySend("from b")}`); // nobody waits on b any more
    }
    worker.assign(chooser());
    worker.assign(senders());
    worker.work();
    assert.deepEqual(trace, ["b takes a send: false", "chose 0: from a at 1"]);
  });

  it("sends in exactly one case: the other receiver does not get a value", () => {
    const { worker } = collectingWorker();
    const left = new Channel<string>();
    const right = new Channel<string>();
    const got: string[] = [];
    const receiver = routine(function* receiver(name: string, channel: Channel<string>) {
      const r = yield* channel.receiveOrClosed();
      got.push(r.ok ? `${name} got ${r.value}` : `${name}: closed`);
    });
    function* main() {
      spawn2();
      yield; // both receivers wait now
      const sent = yield* select([left.send("L"), right.send("R")]);
      got.push(`sent case ${sent.index}`);
      left.close();
      right.close();
    }
    function spawn2() {
      worker.assign(receiver("left", left));
      worker.assign(receiver("right", right));
    }
    worker.assign(main());
    worker.work();
    assert.equal(got.filter((g) => g.includes(" got ")).length, 1, got.join(" | "));
    assert.equal(got.filter((g) => g.endsWith("closed")).length, 1, got.join(" | "));
  });

  it("takes a sleep case as a timeout, and withdraws it when a value comes first", () => {
    const { clock, worker } = collectingWorker();
    const replies = new Channel<string>();
    const seen: string[] = [];
    function* asker() {
      const first = yield* select([replies.receive(), sleep(2)]);
      seen.push(first.index === 1 ? `timed out at ${clock.now()}` : `got ${first.value}`);
      const second = yield* select([replies.receive(), sleep(2)]);
      seen.push(second.index === 1 ? `timed out at ${clock.now()}` : `got ${second.value}`);
    }
    function* replier() {
      yield sleep(3);
      yield* replies.send("late but in time for the second");
    }
    worker.assign(asker());
    worker.assign(replier());
    worker.work();
    assert.deepEqual(seen, ["timed out at 2", "got late but in time for the second"]);
  });

  it("at a deadline that falls as a value arrives, does one or the other, and never loses the value", () => {
    // A sender wakes at t=1 (its sleep set first), and the select's timeout is due at t=1 too.
    for (const order of ["sender first", "select first"]) {
      const { clock, worker } = collectingWorker();
      const channel = new Channel<string>(1);
      const seen: string[] = [];
      function* receiver() {
        const got = yield* select([channel.receive(), sleep(1)]);
        seen.push(got.index === 0 ? `got ${got.value}` : `timed out at ${clock.now()}`);
      }
      function* sender() {
        yield sleep(1);
        channel.trySend("v");
      }
      if (order === "sender first") worker.assign(sender());
      worker.assign(receiver());
      if (order === "select first") worker.assign(sender());
      worker.work();
      const left = drain(channel);
      assert.equal(seen.length, 1, order);
      if (seen[0] === "got v") assert.deepEqual(left, [], `${order}: taken once`);
      else {
        assert.equal(seen[0], "timed out at 1", order);
        assert.deepEqual(left, ["v"], `${order}: the value is still there`);
      }
    }
  });

  it("parks on `yield select(...)` too", () => {
    const { worker } = collectingWorker();
    const channel = new Channel<number>();
    const seen: unknown[] = [];
    function* main(): Generator<unknown, void, unknown> {
      seen.push(yield select([channel.receive(), sleep(5)]));
    }
    worker.assign(main());
    worker.assign(
      (function* sender() {
        yield* channel.send(42);
      })(),
    );
    worker.work();
    assert.deepEqual(seen, [{ index: 0, value: 42 }]);
  });

  it("throws a closed channel's error, or gives { ok: false } for receiveOrClosed()", () => {
    const { worker } = collectingWorker();
    const closed = new Channel<number>();
    closed.close();
    const idle = new Channel<number>();
    const seen: unknown[] = [];
    function* main() {
      try {
        yield* select([closed.receive(), idle.receive()]);
      } catch (error) {
        seen.push((error as Error).name);
      }
      seen.push(yield* select([closed.receiveOrClosed(), idle.receive()]));
    }
    worker.assign(main());
    worker.work();
    assert.deepEqual(seen, [
      "ChannelClosedError",
      { index: 0, value: { ok: false, closed: true } },
    ]);
  });

  it("leaves no trace when its task is cancelled while it waits", () => {
    const { worker, errors } = collectingWorker();
    const a = new Channel<string>();
    const b = new Channel<string>(1);
    const pool = new Semaphore(0);
    function* waiter() {
      yield* select([a.receive(), b.send("b"), pool.acquire(), sleep(100)]);
    }
    worker.assign(
      (function* filler() {
        b.trySend("full");
      })(),
    );
    const task = worker.assign(waiter());
    while (worker.tick()) {}
    task.cancel();
    worker.work();
    assert.equal(task.state, "cancelled");
    assert.equal(a.trySend("x"), false, "nobody receives on a any more");
    assert.deepEqual(drain(b), ["full"], "the send never happened");
    assert.equal(pool.tryAcquire(), false);
    assert.equal(pool.describe(), "a semaphore (0/0 free, 0 waiting)");
    assert.deepEqual(errors, []);
  });

  it("takes nothing when cancelled after its receive was served but before it ran: the next receiver gets the value", () => {
    const { worker } = collectingWorker();
    const channel = new Channel<string>();
    const other = new Channel<string>();
    const got: string[] = [];
    function* selecting() {
      const r = yield* select([channel.receive(), other.receive()]);
      got.push(`select got ${r.value}`);
    }
    function* patient() {
      got.push(`patient got ${yield* channel.receive()}`);
    }
    const doomed = worker.assign(selecting());
    worker.assign(patient());
    while (worker.tick()) {}
    channel.trySend("precious"); // commits the select, which has not run since
    doomed.cancel();
    worker.work();
    assert.deepEqual(got, ["patient got precious"]);
  });

  it("gives back a permit it was handed when cancelled before it ran", () => {
    const { worker } = collectingWorker();
    const pool = new Semaphore(1);
    pool.tryAcquire();
    const idle = new Channel<void>();
    const doomed = worker.assign(
      (function* selecting() {
        yield* select([pool.acquire(), idle.receive()]);
      })(),
    );
    while (worker.tick()) {}
    pool.release(); // handed to the select
    doomed.cancel();
    worker.work();
    assert.equal(pool.available, 1);
  });

  it("may have two cases waiting in one queue: a close or a resolve commits it once, and wakes the others", () => {
    const { worker, errors } = collectingWorker();
    const jobs = new Channel<string>();
    const stop = new Future<string>();
    const seen: string[] = [];
    function* selecting() {
      try {
        yield* select([jobs.receive(), jobs.receive()]);
      } catch (error) {
        seen.push(`select: ${(error as Error).name}`);
      }
      const got = yield* select([stop.wait(), stop.wait()]);
      seen.push(`select: ${got.value}`);
    }
    function* plain() {
      try {
        yield* jobs.receive();
      } catch (error) {
        seen.push(`plain: ${(error as Error).name}`);
      }
      seen.push(`plain: ${yield* stop.wait()}`);
    }
    worker.assign(selecting());
    worker.assign(plain());
    worker.assign(
      (function* closer() {
        yield;
        jobs.close();
        yield;
        stop.resolve("stopped");
      })(),
    );
    worker.work();
    assert.deepEqual(seen.sort(), [
      "plain: ChannelClosedError",
      "plain: stopped",
      "select: ChannelClosedError",
      "select: stopped",
    ]);
    assert.deepEqual(jobs.tryReceive(), { ok: false, closed: true });
    assert.deepEqual(errors, []);
  });

  it("picks among ready cases at random, so none starves", () => {
    const { worker } = collectingWorker();
    const channels = [new Channel<number>(1), new Channel<number>(1), new Channel<number>(1)];
    const wins = [0, 0, 0];
    function* main() {
      for (let round = 0; round < 3000; round++) {
        for (const c of channels) if (c.size === 0) c.trySend(round);
        const got = yield* select(channels.map((c) => c.receive()));
        wins[got.index] = (wins[got.index] as number) + 1;
      }
    }
    worker.assign(main());
    worker.work();
    for (const w of wins) assert.ok(w > 800, `each case wins about a third: ${wins}`);
  });

  it("refuses what is not a fresh operation, with a message that says what came", () => {
    const channel = new Channel<number>();
    assert.throws(() => select([]), /needs at least one case/);
    assert.throws(
      () => select(7 as never),
      /expects an array or an object of channel operations, got number 7/,
    );
    assert.throws(
      () => select([channel.receive(), (function* () {})()] as never),
      /case 1 is .*Generator/,
    );
    const buffered = new Channel<number>(1);
    const used = buffered.receive();
    buffered.trySend(1);
    wrap(
      (function* main() {
        yield* used; // a buffered value: done at once
      })(),
    );
    assert.throws(() => select([used]), /case 0 \(receive from a channel.*\) was already used/);
    assert.throws(() => select({ s: sleep(1), t: 5 } as never), /case "t" is number 5/);
  });

  it("refuses the same operation given twice when it has to wait, at the yield, leaving no trace", () => {
    const { worker, errors } = collectingWorker();
    const channel = new Channel<number>();
    const seen: string[] = [];
    worker.assign(
      (function* main() {
        const twice = channel.receive();
        try {
          yield* select([twice, twice]);
        } catch (error) {
          seen.push((error as Error).message);
        }
      })(),
    );
    worker.work();
    assert.match(
      seen[0] as string,
      /select\(\): case 1 \(receive from .*\) is the same operation as an earlier case/,
    );
    assert.equal(channel.trySend(1), false, "no receiver was left waiting");
    assert.deepEqual(errors, []);
  });
});

describe("trySelect", () => {
  it("does one ready case without waiting, or gives undefined", () => {
    const a = new Channel<string>(1);
    const b = new Channel<string>(1);
    assert.equal(trySelect([a.receive(), b.receive()]), undefined);
    b.trySend("b");
    assert.deepEqual(trySelect([a.receive(), b.receive()]), { index: 1, value: "b" });
    assert.deepEqual(trySelect({ put: a.send("x"), get: b.receive() }), {
      key: "put",
      value: undefined,
    });
    assert.deepEqual(drain(a), ["x"]);
  });

  it("refuses a sleep case: it never waits", () => {
    const a = new Channel<string>(1);
    assert.throws(() => trySelect([a.receive(), sleep(1)]), /never waits/);
  });

  it("throws a closed channel's error when that case is the ready one", () => {
    const closed = new Channel<string>();
    closed.close();
    assert.throws(() => trySelect([closed.receive()]), ChannelClosedError);
  });
});
