/**
 * Channel: values passed between tasks, first in first out.
 *
 * `yield* channel.send(value)` and `yield* channel.receive()` wait when
 * they must: a send while the buffer is full (an unbuffered channel has no
 * buffer, so a send waits for a receiver), a receive while there is
 * nothing to take. Waiters are served oldest first, nothing is ever
 * received twice or lost, and a task cancelled while it waits leaves no
 * trace. Closing a channel fails the senders; receivers get what is still
 * buffered, then ChannelClosedError, or, with `receiveOrClosed()`, a plain
 * `{ ok: false }` (Go's `v, ok := <-ch`); `each()` loops until then.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Channel,
  ChannelClosedError,
  each,
  routine,
  sleep,
  spawn,
  VirtualClock,
  Worker,
  wrap,
} from "../src/index.ts";
import { collectingWorker } from "./support.ts";

describe("Channel", () => {
  it("hands each value from a sender to a receiver; an unbuffered send waits for the receiver", () => {
    const channel = new Channel<string>();
    const trace: string[] = [];
    function* sender() {
      trace.push("sending a");
      yield* channel.send("a");
      trace.push("a was taken");
    }
    function* receiver() {
      yield; // arrive late
      yield;
      trace.push(`received ${yield* channel.receive()}`);
    }
    const { worker } = collectingWorker();
    worker.assign(sender());
    worker.assign(receiver());
    worker.work();
    assert.deepEqual(trace, ["sending a", "received a", "a was taken"]);
  });

  it("buffers up to its capacity: a producer and a consumer with a bounded buffer", () => {
    const { clock, worker } = collectingWorker();
    const buffer = new Channel<number>(3);
    const sentAt: number[] = [];
    const received: number[] = [];
    const producer = routine(function* producer() {
      for (let i = 0; i < 6; i++) {
        yield* buffer.send(i);
        sentAt.push(clock.now());
      }
      buffer.close();
    });
    const consumer = routine(function* consumer() {
      yield sleep(10); // a slow start: the producer fills the buffer and waits
      for (;;) {
        try {
          received.push(yield* buffer.receive());
        } catch (error) {
          assert.ok(error instanceof ChannelClosedError);
          return;
        }
        yield sleep(1);
      }
    });
    worker.assign(producer());
    worker.assign(consumer());
    worker.work();
    assert.deepEqual(received, [0, 1, 2, 3, 4, 5]);
    // Three sends finish at once (the buffer), the others one per receive.
    assert.deepEqual(sentAt, [0, 0, 0, 10, 11, 12]);
  });

  it("refuses a receive another task waits on, by yield* or by yield: an operation is one task's wait", () => {
    const { worker, errors } = collectingWorker();
    const channel = new Channel<number>();
    const trace: string[] = [];
    const shared = channel.receive();
    const waiter = routine(function* waiter(how: "yield*" | "yield") {
      try {
        const value = how === "yield*" ? yield* shared : ((yield shared) as number);
        trace.push(`${how} got ${value}`);
      } catch (error) {
        trace.push(`${how} refused: ${(error as Error).message}`);
      }
    });
    worker.assign(waiter("yield*"), { name: "first" });
    worker.assign(waiter("yield*"), { name: "second" });
    worker.assign(waiter("yield"), { name: "third" });
    worker.tick(); // each takes its step: the first parks, the others reach the same receive
    worker.tick();
    worker.tick();
    channel.trySend(1);
    worker.work();
    const refused = (name: string, how: string) =>
      `${how} refused: receive from a channel (0/0 buffered): task "${name}" yielded it, but ` +
      `task "first" is already waiting on it; an operation is one task's wait: make one per task`;
    assert.deepEqual(trace, [
      refused("second", "yield*"),
      refused("third", "yield"),
      "yield* got 1",
    ]);
    assert.deepEqual(errors, []);
  });

  it("serves waiting receivers first in first out", () => {
    const { worker } = collectingWorker();
    const channel = new Channel<number>();
    const got: string[] = [];
    const receiver = routine(function* receiver(name: string) {
      got.push(`${name}:${yield* channel.receive()}`);
    });
    function* sender() {
      yield sleep(1);
      for (let i = 1; i <= 3; i++) yield* channel.send(i);
    }
    worker.assign(receiver("a"));
    worker.assign(receiver("b"));
    worker.assign(receiver("c"));
    worker.assign(sender());
    worker.work();
    assert.deepEqual(got, ["a:1", "b:2", "c:3"]);
  });

  it("gives a freed slot to the oldest waiting sender, not to a later trySend (no barging)", () => {
    const { worker } = collectingWorker();
    const channel = new Channel<string>(1);
    assert.equal(channel.trySend("first"), true);
    assert.equal(channel.trySend("second"), false, "full");
    function* waitingSender() {
      yield* channel.send("waited");
    }
    worker.assign(waitingSender());
    while (worker.tick()) {}
    assert.deepEqual(channel.tryReceive(), { ok: true, value: "first" });
    assert.equal(channel.trySend("barger"), false, "the freed slot went to the waiting sender");
    assert.deepEqual(channel.tryReceive(), { ok: true, value: "waited" });
    assert.deepEqual(channel.tryReceive(), { ok: false, closed: false });
    worker.work();
  });

  it("closes: waiting senders fail, buffered values are still received, then receives fail", () => {
    const { worker } = collectingWorker();
    const channel = new Channel<number>(1);
    const trace: string[] = [];
    function* blockedSender() {
      yield* channel.send(1); // buffered
      try {
        yield* channel.send(2); // waits: the buffer is full
      } catch (error) {
        trace.push(`sender: ${(error as Error).name}`);
      }
    }
    worker.assign(blockedSender());
    while (worker.tick()) {}
    channel.close();
    assert.equal(channel.closed, true);
    worker.work();
    assert.throws(() => channel.trySend(3), ChannelClosedError);
    assert.equal(
      wrap(
        (function* () {
          return yield* channel.receive();
        })(),
      ),
      1,
    );
    assert.throws(
      () => wrap(channel.receive()),
      (error: unknown) =>
        error instanceof ChannelClosedError && /is closed and drained/.test(error.message),
    );
    assert.deepEqual(trace, ["sender: ChannelClosedError"]);
  });

  it("wakes waiting receivers with ChannelClosedError when closed empty", () => {
    const { worker } = collectingWorker();
    const channel = new Channel<number>();
    const outcomes: string[] = [];
    const listener = routine(function* listener() {
      try {
        yield* channel.receive();
      } catch (error) {
        outcomes.push((error as Error).name);
      }
    });
    worker.assign(listener());
    worker.assign(listener());
    while (worker.tick()) {}
    channel.close();
    worker.work();
    assert.deepEqual(outcomes, ["ChannelClosedError", "ChannelClosedError"]);
  });

  it("loses no value when a receiver is cancelled after a value was handed to it", () => {
    const { worker } = collectingWorker();
    const channel = new Channel<string>();
    const got: string[] = [];
    const receiver = routine(function* receiver(name: string) {
      got.push(`${name}:${yield* channel.receive()}`);
    });
    const doomed = worker.assign(receiver("doomed"));
    worker.assign(receiver("patient"));
    while (worker.tick()) {}
    channel.trySend("precious"); // promised to "doomed", which has not run since
    doomed.cancel(); // before it could take it: the value goes to the next receiver
    worker.work();
    assert.deepEqual(got, ["patient:precious"]);
    assert.equal(doomed.state, "cancelled");
  });

  it("keeps the order of values left by several cancelled receivers", () => {
    const { worker } = collectingWorker();
    const channel = new Channel<string>(2);
    function* receiveOnce() {
      yield* channel.receive();
    }
    const first = worker.assign(receiveOnce());
    const second = worker.assign(receiveOnce());
    while (worker.tick()) {}
    channel.trySend("a"); // promised to the first receiver
    channel.trySend("b"); // promised to the second
    channel.trySend("c"); // buffered
    worker.cancelAll(); // both receivers are cancelled before they could take a value
    worker.work();
    assert.deepEqual([first.state, second.state], ["cancelled", "cancelled"]);
    const left: string[] = [];
    for (let r = channel.tryReceive(); r.ok; r = channel.tryReceive()) left.push(r.value);
    assert.deepEqual(left, ["a", "b", "c"]);
  });

  it("keeps each sender's order when a receiver that was woken with a value is cancelled before it runs", () => {
    // A woken receiver takes the oldest value when it runs, not the one it was woken for:
    // values come out in the order they were sent, whoever is cancelled in between.
    for (const form of ["yield*", "yield"]) {
      const { worker } = collectingWorker();
      const channel = new Channel<string>();
      const got: string[] = [];
      const receiver = routine(function* receiver(name: string) {
        const value: unknown =
          form === "yield*" ? yield* channel.receive() : yield channel.receive();
        got.push(`${name}:${String(value)}`);
      });
      const doomed = worker.assign(receiver("doomed"));
      worker.assign(receiver("second"));
      while (worker.tick()) {}
      channel.trySend("a"); // wakes "doomed"
      channel.trySend("b"); // wakes "second"
      doomed.cancel(); // before it ran
      worker.assign(receiver("third"));
      worker.work();
      assert.deepEqual(got, ["second:a", "third:b"], form);
    }
  });

  it("gives a slot to the waiting sender, not to a later trySend, when a cancelled receiver left its value", () => {
    const { worker } = collectingWorker();
    const channel = new Channel<string>(1);
    function* receiveOnce() {
      yield* channel.receive();
    }
    const doomed = worker.assign(receiveOnce());
    while (worker.tick()) {}
    channel.trySend("a"); // promised to the receiver
    doomed.cancel(); // "a" is free again: the buffer is full
    function* sender() {
      yield* channel.send("b"); // waits for a slot
    }
    const waiting = worker.assign(sender());
    while (worker.tick()) {}
    assert.equal(waiting.state, "waiting");
    assert.deepEqual(channel.tryReceive(), { ok: true, value: "a" });
    assert.equal(channel.trySend("barger"), false, "the freed slot went to the waiting sender");
    assert.deepEqual(channel.tryReceive(), { ok: true, value: "b" });
    worker.work();
    assert.equal(waiting.state, "done");
  });

  it("leaves no stale waiter behind a cancelled receive or send", () => {
    const { worker } = collectingWorker();
    const channel = new Channel<number>();
    function* receiveForever() {
      yield* channel.receive();
    }
    const cancelled = worker.assign(receiveForever());
    while (worker.tick()) {}
    cancelled.cancel();
    worker.work();
    assert.equal(channel.trySend(1), false, "nobody waits any more");

    function* sendForever() {
      yield* channel.send(99);
    }
    const sender = worker.assign(sendForever());
    while (worker.tick()) {}
    sender.cancel();
    worker.work();
    assert.deepEqual(
      channel.tryReceive(),
      { ok: false, closed: false },
      "a cancelled send sends nothing",
    );
  });

  it("keeps each sender's order: fan-in of three producers", () => {
    const { worker } = collectingWorker();
    const channel = new Channel<string>(2);
    const producer = routine(function* producer(name: string) {
      for (let i = 0; i < 4; i++) {
        yield* channel.send(`${name}${i}`);
        if (i % 2 === 0) yield;
      }
    });
    const received: string[] = [];
    function* main() {
      const producers = ["a", "b", "c"].map((name) => spawn(producer(name)));
      for (let i = 0; i < 12; i++) received.push(yield* channel.receive());
      for (const p of producers) yield* p.join();
    }
    worker.assign(main());
    worker.work();
    assert.equal(received.length, 12);
    for (const name of ["a", "b", "c"]) {
      assert.deepEqual(
        received.filter((v) => v.startsWith(name)),
        [0, 1, 2, 3].map((i) => `${name}${i}`),
      );
    }
  });

  it("chains stages into a pipeline", () => {
    const { worker } = collectingWorker();
    const numbers = new Channel<number>();
    const squares = new Channel<number>();
    const generate = routine(function* generate() {
      for (let i = 1; i <= 5; i++) yield* numbers.send(i);
      numbers.close();
    });
    const square = routine(function* square() {
      try {
        for (;;) {
          const n = yield* numbers.receive();
          yield* squares.send(n * n);
        }
      } catch (error) {
        if (!(error instanceof ChannelClosedError)) throw error;
        squares.close();
      }
    });
    const sum = routine(function* sum() {
      let total = 0;
      try {
        for (;;) total += yield* squares.receive();
      } catch (error) {
        if (!(error instanceof ChannelClosedError)) throw error;
      }
      return total;
    });
    worker.assign(generate());
    worker.assign(square());
    const total = worker.assign(sum());
    worker.work();
    assert.equal(total.result, 1 + 4 + 9 + 16 + 25);
  });

  it("parks on `yield channel.receive()` too, and shows what a task waits on", () => {
    const { worker } = collectingWorker();
    const channel = new Channel<number>(4);
    const waiter = routine(function* waiter() {
      const value: number = yield channel.receive();
      return value;
    });
    const task = worker.assign(waiter());
    while (worker.tick()) {}
    assert.match(
      worker.dump(),
      /task "waiter" waiting on receive from a channel \(0\/4 buffered\)/,
    );
    channel.trySend(7);
    worker.work();
    assert.equal(task.result, 7);
  });

  it("refuses a capacity that is negative, fractional or not a number", () => {
    assert.throws(() => new Channel(-1), {
      name: "RangeError",
      message: /whole number, 0 or more, got number -1/,
    });
    assert.throws(() => new Channel(1.5), RangeError);
    assert.throws(() => new Channel(Number.NaN), RangeError);
    assert.throws(() => new Channel("3" as never), /got string "3"/);
  });

  it("works under run(), with values sent from outside the worker", async () => {
    const worker = new Worker();
    const channel = new Channel<string>(10);
    const got: string[] = [];
    function* listener() {
      for (let i = 0; i < 3; i++) got.push(yield* channel.receive());
    }
    worker.assign(listener());
    let n = 0;
    const timer = setInterval(() => channel.trySend(`tick ${++n}`), 2);
    await worker.run();
    clearInterval(timer);
    assert.deepEqual(got, ["tick 1", "tick 2", "tick 3"]);
  });
});

describe("Channel, closed", () => {
  it("receiveOrClosed() gives { ok: true, value } until the channel is closed and drained, then { ok: false }", () => {
    const channel = new Channel<number>(2);
    channel.trySend(1);
    channel.trySend(2);
    channel.close();
    const seen = wrap(
      (function* main() {
        const out: unknown[] = [];
        for (let i = 0; i < 4; i++) out.push(yield* channel.receiveOrClosed());
        return out;
      })(),
    );
    assert.deepEqual(seen, [
      { ok: true, value: 1 },
      { ok: true, value: 2 },
      { ok: false, closed: true },
      { ok: false, closed: true },
    ]);
  });

  it("receiveOrClosed() wakes a waiting receiver with { ok: false } when the channel is closed", () => {
    const { worker } = collectingWorker();
    const channel = new Channel<number>();
    const seen: unknown[] = [];
    worker.assign(
      (function* receiver() {
        seen.push(yield* channel.receiveOrClosed());
      })(),
    );
    worker.assign(
      (function* closer() {
        yield sleep(1);
        channel.close();
      })(),
    );
    worker.work();
    assert.deepEqual(seen, [{ ok: false, closed: true }]);
  });

  it("tryReceive() tells a channel that is only empty for now from one closed and drained", () => {
    const channel = new Channel<string>(1);
    assert.deepEqual(channel.tryReceive(), { ok: false, closed: false });
    channel.trySend("last");
    channel.close();
    assert.deepEqual(channel.tryReceive(), { ok: true, value: "last" });
    assert.deepEqual(channel.tryReceive(), { ok: false, closed: true });
  });

  it("is not drained while a value is promised to a receiver that may still be cancelled", () => {
    // The promised value could come back: a later receiver waits for it rather than failing.
    const { worker } = collectingWorker();
    const channel = new Channel<string>();
    const got: string[] = [];
    function* take(name: string) {
      const r = yield* channel.receiveOrClosed();
      got.push(`${name}: ${r.ok ? r.value : "closed"}`);
    }
    const doomed = worker.assign(take("doomed"));
    worker.tick(); // "doomed" waits
    worker.assign(
      (function* late() {
        yield; // runs again before "doomed" is woken and runs
        yield* take("late");
      })(),
    );
    worker.tick();
    channel.trySend("only"); // promised to "doomed"
    channel.close();
    worker.tick(); // "late" finds nothing free, but a promised value: it waits
    assert.deepEqual(channel.tryReceive(), { ok: false, closed: false });
    doomed.cancel(); // "only" is free again, and goes to "late"
    worker.work();
    assert.deepEqual(got, ["late: only"]);
    assert.deepEqual(channel.tryReceive(), { ok: false, closed: true });
  });
});

describe("each", () => {
  it("calls the body with every value in order until the channel is closed and drained, at the body's pace", () => {
    const clock = new VirtualClock();
    const channel = new Channel<string>(3);
    const seen: string[] = [];
    function* main() {
      spawn(
        (function* producer() {
          for (const word of ["one", "two", "three"]) yield* channel.send(word);
          channel.close();
        })(),
      );
      yield* each(channel, function* (word) {
        yield sleep(1);
        seen.push(`${word} at ${clock.now()}`);
      });
      seen.push("closed");
    }
    wrap(main(), { clock });
    assert.deepEqual(seen, ["one at 1", "two at 2", "three at 3", "closed"]);
  });

  it("takes a plain function too, and refuses what is not a channel or a function", () => {
    const channel = new Channel<number>(2);
    channel.trySend(1);
    channel.trySend(2);
    channel.close();
    const sum = wrap(
      (function* main() {
        let total = 0;
        yield* each(channel, (n) => {
          total += n;
        });
        return total;
      })(),
    );
    assert.equal(sum, 3);
    assert.throws(
      () => each([1, 2] as never, () => {}),
      /each\(\) expects a Channel, got array of 2/,
    );
    assert.throws(
      () => each(channel, 5 as never),
      /expects a function to call with each value, got number 5/,
    );
  });
});
