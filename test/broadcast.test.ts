/**
 * Broadcast: a multicast stream. Every subscriber gets every value sent
 * while it is subscribed, in the order sent, and joins from the next value
 * on. `broadcast.subscribe()` gives a subscription: a channel of the
 * subscriber's own, read like any other (`each`, `receive`,
 * `receiveOrClosed`, `select`). A send reaches every subscriber in one
 * moment: `send()` waits until every subscription that wants back-pressure
 * (the default) has room, so nothing is lost and the slowest reader sets
 * the pace; a send cancelled while it waits reaches nobody. A subscriber
 * that would rather skip values than hold the others up says so
 * (`overflow: "drop-oldest"` or `"drop-newest"`), and its `dropped` counts
 * what it missed. A subscription made in a task ends with the task (at
 * once if the task is cancelled); `close()` ends one at once; closing the
 * broadcast ends them all after the values already sent.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expectTypeOf } from "expect-type";
import {
  Broadcast,
  Channel,
  ChannelClosedError,
  each,
  routine,
  Subscription,
  select,
  sleep,
  spawn,
  type Task,
  VirtualClock,
  wrap,
} from "../src/index.ts";
import { collectingWorker } from "./support.ts";

describe("Broadcast", () => {
  it("gives every value to every subscriber, in the order sent", () => {
    const { worker, errors } = collectingWorker();
    const news = new Broadcast<number>();
    const got: Record<string, number[]> = {};
    const reader = routine(function* reader(name: string) {
      const subscription = news.subscribe();
      expectTypeOf(subscription).toEqualTypeOf<Subscription<number>>();
      const seen: number[] = [];
      got[name] = seen;
      yield* each(subscription, (n) => {
        expectTypeOf(n).toEqualTypeOf<number>();
        seen.push(n);
      });
    });
    for (const name of ["a", "b", "c"]) worker.assign(reader(name));
    worker.assign(
      (function* editor() {
        // The readers took their first step (and subscribed) before this one.
        for (let i = 1; i <= 5; i++) yield* news.send(i);
        news.close();
      })(),
    );
    worker.work();
    assert.deepEqual(got, { a: [1, 2, 3, 4, 5], b: [1, 2, 3, 4, 5], c: [1, 2, 3, 4, 5] });
    assert.deepEqual(errors, []);
  });

  it("lets a subscriber join from the next value on: a late one gets only what is sent after it subscribed", () => {
    const { worker } = collectingWorker();
    const news = new Broadcast<string>();
    const got: string[] = [];
    const reader = routine(function* reader(name: string, after: number) {
      if (after > 0) yield sleep(after);
      yield* each(news.subscribe(), (headline) => {
        got.push(`${name}: ${headline}`);
      });
    });
    worker.assign(reader("early", 0));
    worker.assign(reader("late", 1.5));
    worker.assign(
      (function* editor() {
        for (const headline of ["one", "two", "three"]) {
          yield* news.send(headline);
          yield sleep(1); // sent at 0, 1 and 2
        }
        news.close();
      })(),
    );
    worker.work();
    assert.deepEqual(got, ["early: one", "early: two", "early: three", "late: three"]);
  });

  it("ends every subscription when it is closed, after the values already sent: each() returns, later sends fail", () => {
    const { worker } = collectingWorker();
    const news = new Broadcast<number>();
    const trace: string[] = [];
    worker.assign(
      (function* reader() {
        const subscription = news.subscribe({ buffer: 3 });
        yield sleep(1); // the values are sent and the broadcast closed meanwhile
        yield* each(subscription, (n) => {
          trace.push(`got ${n}`);
        });
        trace.push("each() returned");
      })(),
    );
    worker.assign(
      (function* editor() {
        for (let i = 1; i <= 3; i++) yield* news.send(i); // buffered: no wait
        news.close();
        trace.push("closed");
        try {
          yield* news.send(4);
        } catch (error) {
          assert.ok(error instanceof ChannelClosedError);
          trace.push(`send after close: ${error.name}`);
        }
      })(),
    );
    worker.work();
    assert.deepEqual(trace, [
      "closed",
      "send after close: ChannelClosedError",
      "got 1",
      "got 2",
      "got 3",
      "each() returned",
    ]);
    assert.throws(
      () => news.trySend(5),
      /cannot send number 5: a broadcast \(0 subscribers, closed\) is closed/,
    );
    const tooLate = news.subscribe();
    assert.equal(tooLate.closed, true, "a subscription to a closed broadcast is closed already");
    assert.deepEqual(tooLate.tryReceive(), { ok: false, closed: true });
  });

  it("fails a send that waits when the broadcast is closed: it reached nobody", () => {
    const { worker } = collectingWorker();
    const news = new Broadcast<string>();
    const slow = news.subscribe(); // made outside a task: it lasts until closed
    const trace: string[] = [];
    worker.assign(
      (function* editor() {
        yield* news.send("first"); // fills slow's buffer of one
        try {
          yield* news.send("second"); // waits for room in slow
        } catch (error) {
          trace.push(`${(error as Error).name}: ${(error as Error).message}`);
        }
      })(),
    );
    while (worker.tick()) {}
    news.close();
    worker.work();
    assert.deepEqual(trace, [
      "ChannelClosedError: a broadcast (1 subscriber, closed): it was closed while the task waited to send",
    ]);
    assert.deepEqual(slow.tryReceive(), { ok: true, value: "first" });
    assert.deepEqual(slow.tryReceive(), { ok: false, closed: true }, "never the second");
  });

  it("waits for the slowest subscriber: a send happens when every subscription has room, so nothing is lost", () => {
    const { clock, worker } = collectingWorker();
    const news = new Broadcast<number>();
    const sentAt: number[] = [];
    const got: Record<string, string[]> = { fast: [], slow: [] };
    const reader = routine(function* reader(name: string, pause: number) {
      yield* each(news.subscribe(), function* (n) {
        got[name]?.push(`${n} at ${clock.now()}`);
        yield sleep(pause);
      });
    });
    worker.assign(reader("fast", 0));
    worker.assign(reader("slow", 1));
    worker.assign(
      (function* editor() {
        for (let i = 1; i <= 4; i++) {
          yield* news.send(i);
          sentAt.push(clock.now());
        }
        news.close();
      })(),
    );
    worker.work();
    // 1 goes to the waiting readers, 2 into their buffers of one; then each send waits for the slow one.
    assert.deepEqual(sentAt, [0, 0, 1, 2]);
    assert.deepEqual(got, {
      fast: ["1 at 0", "2 at 0", "3 at 1", "4 at 2"],
      slow: ["1 at 0", "2 at 1", "3 at 2", "4 at 3"],
    });
  });

  it("sends to all or to none: trySend() gives false while a subscription is full, and a later trySend cannot pass a waiting send", () => {
    const { worker } = collectingWorker();
    const news = new Broadcast<string>();
    const roomy = news.subscribe({ buffer: 10 });
    const tight = news.subscribe(); // a buffer of one
    assert.equal(news.trySend("a"), true);
    assert.equal(news.trySend("b"), false, "tight is full: nobody gets b");
    worker.assign(
      (function* editor() {
        yield* news.send("waited"); // waits for room in tight
      })(),
    );
    while (worker.tick()) {}
    assert.deepEqual(tight.tryReceive(), { ok: true, value: "a" }); // room: the waiting send goes now
    assert.equal(news.trySend("barger"), false, "the room went to the send that waited");
    worker.work();
    assert.deepEqual(tight.tryReceive(), { ok: true, value: "waited" });
    assert.deepEqual(tight.tryReceive(), { ok: false, closed: false });
    const rest: string[] = [];
    for (let next = roomy.tryReceive(); next.ok; next = roomy.tryReceive()) rest.push(next.value);
    assert.deepEqual(rest, ["a", "waited"]);
  });

  it("lets a subscriber choose drop-oldest: it keeps the newest values, counts what it missed, and holds up nobody", () => {
    const { clock, worker } = collectingWorker();
    const stats = new Broadcast<number>();
    const sentAt: number[] = [];
    const got: number[] = [];
    let dropped = -1;
    worker.assign(
      (function* slowViewer() {
        const latest = stats.subscribe({ overflow: "drop-oldest" }); // the latest value only
        yield* each(latest, function* (n) {
          got.push(n);
          yield sleep(2.5); // slow to show it
        });
        dropped = latest.dropped;
      })(),
    );
    worker.assign(
      (function* meter() {
        for (let i = 1; i <= 6; i++) {
          yield* stats.send(i);
          sentAt.push(clock.now());
          if (i < 6) yield sleep(1);
        }
        stats.close();
      })(),
    );
    worker.work();
    assert.deepEqual(sentAt, [0, 1, 2, 3, 4, 5], "the sender never waited");
    // 2 was replaced by 3 while it was busy, 4 by 5, and 5 by 6 (the viewer takes a few steps to get back to receiving).
    assert.deepEqual(got, [1, 3, 6]);
    assert.equal(dropped, 3);
    assert.equal(got.length + dropped, 6, "every value is either received or counted");
  });

  it("lets a subscriber choose drop-newest: it keeps the oldest values and counts the new ones it missed (Go's select with default)", () => {
    const news = new Broadcast<number>();
    const backlog = news.subscribe({ buffer: 2, overflow: "drop-newest" });
    for (let i = 1; i <= 5; i++) assert.equal(news.trySend(i), true, "never waits for it");
    assert.equal(backlog.dropped, 3);
    assert.equal(
      backlog.describe(),
      "a subscription (2/2 buffered, drop-newest, 3 dropped)",
      "what dump() shows for a reader waiting on it",
    );
    assert.deepEqual(
      [backlog.tryReceive(), backlog.tryReceive()],
      [
        { ok: true, value: 1 },
        { ok: true, value: 2 },
      ],
    );
  });

  it("ends a subscription when its task ends: a thousand listeners that come and go leave nothing behind", () => {
    const { worker, errors } = collectingWorker();
    const feed = new Broadcast<number>();
    const gaps: string[] = [];
    let mostHeld = 0;
    let listeners = 0;
    // Listeners of three kinds: one that reads a few values and closes its subscription; one
    // that reads until it is cancelled; and one that keeps only the latest value, reads a few
    // and returns with its subscription still open.
    const listener = routine(function* listener(i: number) {
      const kind = i % 3;
      const subscription = feed.subscribe({ overflow: kind === 2 ? "drop-oldest" : "wait" });
      listeners++;
      let last = -1;
      for (let k = 0; kind === 1 || k < 1 + (i % 4); k++) {
        const n = yield* subscription.receive();
        if (kind !== 2 && last >= 0 && n !== last + 1) gaps.push(`${i}: ${last} then ${n}`);
        last = n;
      }
      if (kind === 0) subscription.close();
    });
    worker.assign(
      (function* host() {
        const spawned: Task<void>[] = [];
        for (let i = 0; i < 1000; i++) {
          spawned.push(spawn(listener(i)));
          if (i >= 10 && (i - 10) % 3 === 1) spawned[i - 10]?.cancel(); // after 0.1 s
          mostHeld = Math.max(mostHeld, feed._subscriptions.size);
          yield sleep(0.01);
        }
        for (const task of spawned) task.cancel();
      })(),
    );
    worker.assign(
      (function* source() {
        for (let n = 0; n < 300; n++) {
          yield* feed.send(n);
          yield sleep(0.05);
        }
        feed.close();
      })(),
    );
    worker.work();
    assert.deepEqual(errors, []);
    assert.equal(listeners, 1000);
    assert.deepEqual(gaps, [], "a listener that waits misses nothing while it listens");
    assert.equal(feed.subscribers, 0);
    assert.equal(feed._subscriptions.size, 0, "no subscription is kept once its task has ended");
    assert.ok(mostHeld < 100, `at most ${mostHeld} subscriptions were held at once`);
  });

  it("ends a subscription at once when its task is cancelled: a send waiting for room in it goes on", () => {
    const { worker } = collectingWorker();
    const news = new Broadcast<string>();
    const trace: string[] = [];
    const busy = worker.assign(
      (function* busy() {
        news.subscribe(); // never read: its buffer fills
        yield sleep(100);
      })(),
      { name: "busy" },
    );
    worker.assign(
      (function* editor() {
        yield* news.send("a"); // into busy's buffer
        yield* news.send("b"); // waits for room in it
        trace.push(`b sent to ${news.subscribers} subscribers`);
      })(),
    );
    while (worker.tick()) {}
    assert.match(
      worker.dump(),
      /waiting on send to a broadcast \(1 subscriber, 1 send waiting\), until the subscription of task "busy" has room/,
    );
    busy.cancel();
    worker.work();
    assert.deepEqual(trace, ["b sent to 0 subscribers"]);
  });

  it("ends a subscription at once with close(): no more values, what it holds can still be received, a waiting send goes on", () => {
    const { worker } = collectingWorker();
    const news = new Broadcast<number>();
    const got: number[] = [];
    let subscription: Subscription<number> | undefined;
    worker.assign(
      (function* reader() {
        subscription = news.subscribe();
        yield sleep(1);
        yield* each(subscription, (n) => {
          got.push(n);
        });
      })(),
    );
    const editor = worker.assign(
      (function* editor() {
        yield* news.send(1);
        yield* news.send(2); // waits: the reader is asleep
        yield* news.send(3);
        return news.subscribers;
      })(),
    );
    while (worker.tick()) {}
    (subscription as Subscription<number>).close();
    worker.work();
    assert.deepEqual(got, [1], "the value it held, and then the end");
    assert.equal(editor.result, 0, "2 and 3 were sent to nobody");
  });

  it("closes a subscription whose task returned without closing it, in the step the task ends: a send waiting for room goes on", () => {
    const { worker } = collectingWorker();
    const news = new Broadcast<number>();
    const trace: string[] = [];
    worker.assign(
      (function* quitter() {
        const subscription = news.subscribe();
        yield* subscription.receive(); // one value, then it returns, leaving the next in its buffer
      })(),
    );
    worker.assign(
      (function* editor() {
        for (let i = 1; i <= 3; i++) yield* news.send(i); // 3 waits for room in the quitter's buffer
        trace.push("all sent");
      })(),
    );
    worker.work();
    assert.deepEqual(trace, ["all sent"]);
    assert.equal(news.subscribers, 0);
  });

  it("loses nothing when a reader is cancelled: another reader of the subscription gets its value, other subscribers are untouched", () => {
    const { worker } = collectingWorker();
    const news = new Broadcast<string>();
    const shared = news.subscribe({ buffer: 2 });
    const own = news.subscribe({ buffer: 2 });
    const got: string[] = [];
    const reader = routine(function* reader(name: string, from: Subscription<string>) {
      got.push(`${name}: ${yield* from.receive()}`);
    });
    const doomed = worker.assign(reader("doomed", shared));
    worker.assign(reader("patient", shared));
    worker.assign(reader("other", own));
    while (worker.tick()) {}
    assert.equal(news.trySend("precious"), true); // promised to "doomed", which has not run since
    doomed.cancel();
    worker.work();
    assert.deepEqual(got.sort(), ["other: precious", "patient: precious"]);
  });

  it("sends to everybody or nobody when the sender is cancelled: nobody while it waits, everybody once it was served", () => {
    const { worker } = collectingWorker();
    const news = new Broadcast<string>();
    const a = news.subscribe();
    const b = news.subscribe();
    const sender = routine(function* sender(value: string) {
      yield* news.send(value);
    });
    assert.equal(news.trySend("filler"), true); // both buffers are full now
    const waiting = worker.assign(sender("never"));
    while (worker.tick()) {}
    waiting.cancel(); // while it waits: it reached nobody
    worker.work();
    const served = worker.assign(sender("happened"));
    while (worker.tick()) {}
    a.tryReceive(); // room in a ...
    b.tryReceive(); // ... and in b: the send happens now, for both
    served.cancel(); // before the sender ran again: it has still happened
    worker.work();
    assert.equal(waiting.state, "cancelled");
    assert.equal(served.state, "cancelled");
    assert.deepEqual(a.tryReceive(), { ok: true, value: "happened" });
    assert.deepEqual(b.tryReceive(), { ok: true, value: "happened" });
    assert.deepEqual([a.tryReceive().ok, b.tryReceive().ok], [false, false], "never 'never'");
  });

  it("goes in a select: a subscription beside a channel, and a send with a time limit", () => {
    const { worker } = collectingWorker();
    const prices = new Broadcast<number>();
    const orders = new Channel<string>();
    const log: string[] = [];
    worker.assign(
      (function* trader() {
        const ticker = prices.subscribe();
        for (;;) {
          const next = yield* select({ price: ticker.receiveOrClosed(), order: orders.receive() });
          if (next.key === "order") {
            expectTypeOf(next.value).toEqualTypeOf<string>();
            log.push(`order ${next.value}`);
          } else if (next.value.ok) {
            expectTypeOf(next.value.value).toEqualTypeOf<number>();
            log.push(`price ${next.value.value}`);
          } else return;
        }
      })(),
    );
    worker.assign(
      (function* market() {
        yield* prices.send(10);
        yield* orders.send("buy");
        yield* prices.send(11);
        prices.close();
      })(),
    );
    worker.work();
    assert.deepEqual(log, ["price 10", "order buy", "price 11"]);

    // A send is an operation too: here it gives up after a second if a subscriber has no room.
    const news = new Broadcast<string>();
    const stuck = news.subscribe();
    news.trySend("filler");
    const outcome = wrap(
      (function* hurried() {
        const sent = yield* select({ sent: news.send("late news"), gaveUp: sleep(1) });
        return sent.key;
      })(),
      { clock: new VirtualClock() },
    );
    assert.equal(outcome, "gaveUp");
    assert.deepEqual(
      [stuck.tryReceive(), stuck.tryReceive()],
      [
        { ok: true, value: "filler" },
        { ok: false, closed: false },
      ],
      "the send that gave up reached nobody",
    );
  });

  it("lets a task send and read in one select (a chat room): exactly one happens, and every line, its own included, reaches everyone in one order", () => {
    const { worker, errors } = collectingWorker();
    const room = new Broadcast<string>();
    const heard = new Map<string, string[]>();
    let spoken = 0;
    const chatter = routine(function* chatter(name: string, lines: string[]) {
      const subscription = room.subscribe();
      const log: string[] = [];
      heard.set(name, log);
      yield; // everyone has come in
      for (let said = 0; said < lines.length; ) {
        const next = yield* select({
          said: room.send(`${name}: ${lines[said]}`),
          heard: subscription.receive(),
        });
        if (next.key === "heard") {
          log.push(next.value);
          continue;
        }
        said++;
        if (++spoken === 5) room.close(); // the last line was said
      }
      yield* each(subscription, (line) => {
        log.push(line);
      });
    });
    worker.assign(chatter("ann", ["hi", "how are you?", "bye"]));
    worker.assign(chatter("bob", ["hello", "fine"]));
    worker.work();
    assert.deepEqual(errors, []);
    assert.equal(heard.get("ann")?.length, 5);
    assert.deepEqual(heard.get("ann"), heard.get("bob"), "the same lines in the same order");
    assert.deepEqual(
      heard.get("ann")?.filter((line) => line.startsWith("ann")),
      ["ann: hi", "ann: how are you?", "ann: bye"],
    );
  });

  it("keeps a subscription made outside a task until it is closed", () => {
    const { worker } = collectingWorker();
    const news = new Broadcast<number>();
    const log = news.subscribe({ buffer: 100 }); // plain code: no task owns it
    worker.assign(
      (function* editor() {
        for (let i = 1; i <= 3; i++) yield* news.send(i);
      })(),
    );
    worker.work();
    assert.equal(news.subscribers, 1);
    log.close();
    assert.equal(news.subscribers, 0);
    assert.deepEqual(
      [log.tryReceive(), log.tryReceive(), log.tryReceive(), log.tryReceive()],
      [
        { ok: true, value: 1 },
        { ok: true, value: 2 },
        { ok: true, value: 3 },
        { ok: false, closed: true },
      ],
    );
  });

  it("refuses bad input with messages that say what was expected", () => {
    const news = new Broadcast<number>();
    assert.throws(
      () => new (Broadcast as unknown as new (n: number) => Broadcast<number>)(10),
      /new Broadcast\(\) takes no arguments, got number 10; each subscriber chooses its buffer: broadcast.subscribe\(\{ buffer: 10 \}\)/,
    );
    assert.throws(() => news.subscribe({ buffer: 0 }), {
      name: "RangeError",
      message:
        "Broadcast.subscribe() expects a buffer that is a whole number, 1 or more, got number 0 (a send reaches every subscriber at one moment, so each needs room for a value)",
    });
    assert.throws(() => news.subscribe({ buffer: 1.5 }), RangeError);
    assert.throws(() => news.subscribe({ buffer: Number.NaN }), RangeError);
    assert.throws(
      () => news.subscribe({ overflow: "drop" as "drop-oldest" }),
      /expects overflow "wait", "drop-oldest" or "drop-newest", got string "drop"/,
    );
    assert.throws(
      () => news.subscribe({ bufer: 4 } as unknown as { buffer: number }),
      /has no option "bufer"; the options are buffer and overflow/,
    );
    assert.throws(
      () => (news.subscribe as (options: unknown) => unknown)(3),
      /expects an options object \(\{ buffer, overflow \}\), got number 3/,
    );
    const subscription = news.subscribe();
    assert.throws(
      () => subscription.send(1),
      /cannot send number 1 to a subscription: it only receives; send to its broadcast/,
    );
    assert.throws(() => subscription.trySend(1), TypeError);
    assert.throws(
      () => new Subscription(null as unknown as Broadcast<number>, 1, "wait"),
      /made by broadcast.subscribe\(\)/,
    );
    assert.equal(news.subscribers, 1, "nothing was subscribed by the refused calls");
  });
});
