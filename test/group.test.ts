/**
 * all, race and timeout: routines run together.
 *
 * Each runs its routines as child tasks of the calling task, named after
 * the routines, so `worker.dump()` shows them and their errors keep the
 * routine names. The ones no longer needed are cancelled, and the call
 * returns or throws only after their `finally` blocks have run.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expectTypeOf } from "expect-type";
import {
  all,
  CancelledError,
  Channel,
  race,
  routine,
  sleep,
  TimeoutError,
  timeout,
  VirtualClock,
  Worker,
  wrap,
} from "../src/index.ts";
import { collectingWorker } from "./support.ts";

const nap = routine(function* nap(seconds: number, value: string) {
  yield sleep(seconds);
  return value;
});

const fail = routine(function* fail(seconds: number, message: string): Generator<unknown, never> {
  yield sleep(seconds);
  throw new Error(message);
});

describe("all", () => {
  it("runs routines at once and gives their results in order", () => {
    const clock = new VirtualClock();
    const results = wrap(all([nap(3, "slow"), nap(1, "quick"), nap(2, "middle")]), { clock });
    assert.deepEqual(results, ["slow", "quick", "middle"]);
    assert.equal(clock.now(), 3, "concurrently: the longest, not the sum");
  });

  it("infers a tuple of result types", () => {
    function* typed() {
      const [a, b] = yield* all([
        nap(1, "x"),
        (function* () {
          return 5;
        })(),
      ]);
      expectTypeOf(a).toEqualTypeOf<string>();
      expectTypeOf(b).toEqualTypeOf<number>();
      return [a, b] as const;
    }
    assert.deepEqual(wrap(typed(), { clock: new VirtualClock() }), ["x", 5]);
  });

  it("throws the first failure after cancelling the others and letting them clean up", () => {
    const clock = new VirtualClock();
    const trace: string[] = [];
    const patient = routine(function* patient() {
      try {
        yield sleep(100);
      } finally {
        trace.push(`patient cleaned up at ${clock.now()}`);
        yield sleep(1); // cleanup may take time; all() waits for it
      }
    });
    function* main() {
      try {
        yield* all([patient(), fail(2, "broken")]);
      } catch (error) {
        trace.push(`caught "${(error as Error).message}" at ${clock.now()}`);
      }
    }
    wrap(main(), { clock });
    assert.deepEqual(trace, ["patient cleaned up at 2", 'caught "broken" at 3']);
  });

  it("shows its children in dump() and keeps routine names in errors", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock, onError: () => {} });
    const fetchPage = routine(function* fetchPage() {
      yield sleep(1);
      throw new Error("404");
    });
    const crawl = routine(function* crawl() {
      yield* all([nap(5, "home"), fetchPage()]);
    });
    const task = worker.assign(crawl());
    while (worker.tick()) {}
    const dump = worker.dump();
    assert.match(dump, /task "crawl" waiting on 2 of 2 routines\n {4}at crawl\n/);
    assert.match(dump, /task "nap" waiting on sleep until 5\.000\n {6}at nap\n/);
    assert.match(dump, /task "fetchPage" waiting on sleep until 1\.000/);
    worker.work();
    assert.equal(task.state, "failed");
    assert.match(String((task.error as Error).stack), /task "fetchPage", routine stack: fetchPage/);
  });

  it("refuses what is not an array of routines", () => {
    assert.throws(
      () => all("nope" as never),
      /all\(\) expects an array of routines.*got string "nope"/,
    );
    assert.throws(() => all([nap(1, "a"), 7] as never), /item 1 is number 7/);
  });
});

describe("race", () => {
  it("gives the first routine to finish; the others are cancelled and have cleaned up", () => {
    const clock = new VirtualClock();
    const cleaned: string[] = [];
    const runner = routine(function* runner(name: string, seconds: number) {
      try {
        yield sleep(seconds);
        return name;
      } finally {
        cleaned.push(`${name} at ${clock.now()}`);
      }
    });
    const winner = wrap(race([runner("tortoise", 10), runner("hare", 2)]), { clock });
    assert.equal(winner, "hare");
    assert.deepEqual(cleaned, ["hare at 2", "tortoise at 2"]);
  });

  it("throws when the first to finish fails", () => {
    const clock = new VirtualClock();
    assert.throws(
      () => wrap(race([nap(5, "late"), fail(1, "early failure")]), { clock }),
      /early failure/,
    );
  });

  it("never takes a value it then drops: a race of two ready receives takes exactly one", () => {
    const { worker } = collectingWorker();
    const a = new Channel<string>(1);
    const b = new Channel<string>(1);
    a.trySend("a");
    b.trySend("b");
    const got: string[] = [];
    function* main() {
      got.push(yield* race([a.receive(), b.receive()]));
    }
    worker.assign(main());
    worker.work();
    assert.equal(got.length, 1);
    assert.equal(a.size + b.size, 1, "the other value is still in its channel");
  });

  it("tells only the sender whose value was taken that it was delivered", () => {
    const { worker } = collectingWorker();
    const a = new Channel<string>();
    const b = new Channel<string>();
    const sent: string[] = [];
    const sender = routine(function* sender(channel: Channel<string>, value: string) {
      yield* channel.send(value);
      sent.push(value);
    });
    const senders = [worker.assign(sender(a, "a")), worker.assign(sender(b, "b"))];
    const chooser = worker.assign(
      (function* chooser() {
        yield; // both senders wait now
        return yield* race([a.receive(), b.receive()]);
      })(),
    );
    while (worker.tick()) {}
    assert.equal(chooser.state, "done");
    assert.deepEqual(sent, [chooser.result], "one send happened");
    assert.equal(senders.filter((t) => t.state === "waiting").length, 1, "the other still waits");
    worker.cancelAll();
    worker.work();
  });

  it("cancels a losing routine before it can take anything, when several are ready at once", () => {
    const { worker } = collectingWorker();
    const a = new Channel<string>(1);
    const b = new Channel<string>(1);
    a.trySend("a");
    b.trySend("b");
    const take = routine(function* take(channel: Channel<string>) {
      const value = yield* channel.receive();
      return value;
    });
    const got: string[] = [];
    function* main() {
      got.push(yield* race([take(a), take(b)]));
    }
    worker.assign(main());
    worker.work();
    assert.equal(got.length, 1);
    assert.equal(a.size + b.size, 1, "the loser took nothing");
  });

  it("starves no member when several are ready at once, over many rounds", () => {
    for (const form of ["operations", "routines"]) {
      const { worker } = collectingWorker();
      const channels = [new Channel<number>(1), new Channel<number>(1)];
      const take = routine(function* take(channel: Channel<number>) {
        return yield* channel.receive();
      });
      const wins = [0, 0];
      function* main() {
        for (let round = 0; round < 2000; round++) {
          channels.forEach((c, i) => {
            if (c.size === 0) c.trySend(i);
          });
          const members = channels.map((c) => (form === "operations" ? c.receive() : take(c)));
          const winner = yield* race(members);
          wins[winner] = (wins[winner] as number) + 1;
        }
      }
      worker.assign(main());
      worker.work();
      for (const w of wins) assert.ok(w > 700, `${form}: each wins about half: ${wins}`);
    }
  });

  it("keeps every request of a select-shaped state machine (Go by Example's stateful goroutines)", () => {
    // One task owns the state and serves reads and writes as they come, racing the two channels.
    const { worker } = collectingWorker();
    type Read = { key: number; reply: Channel<number> };
    type Write = { key: number; value: number; reply: Channel<boolean> };
    const reads = new Channel<Read>();
    const writes = new Channel<Write>();
    let served = 0;
    const owner = routine(function* owner() {
      const state = new Map<number, number>();
      for (;;) {
        const request = yield* race<Read | Write>([reads.receive(), writes.receive()]);
        if ("value" in request) {
          state.set(request.key, request.value);
          yield* request.reply.send(true);
        } else yield* request.reply.send(state.get(request.key) ?? 0);
        served++;
      }
    });
    const reader = routine(function* reader(n: number) {
      for (let i = 0; i < 50; i++) {
        const reply = new Channel<number>();
        yield* reads.send({ key: (n + i) % 5, reply });
        yield* reply.receive();
      }
    });
    const writer = routine(function* writer(n: number) {
      for (let i = 0; i < 50; i++) {
        const reply = new Channel<boolean>();
        yield* writes.send({ key: (n * i) % 5, value: i, reply });
        yield* reply.receive();
      }
    });
    const ownerTask = worker.assign(owner());
    const clients = [0, 1, 2, 3].map((n) => worker.assign(reader(n)));
    clients.push(...[0, 1].map((n) => worker.assign(writer(n))));
    while (worker.tick()) {} // until everyone waits: the owner for the next request
    assert.deepEqual(
      clients.map((c) => c.state),
      clients.map(() => "done"),
      "no client hangs",
    );
    assert.equal(served, 300, "every request was served");
    ownerTask.cancel();
    worker.work();
  });

  it("needs at least one routine", () => {
    assert.throws(() => wrap(race([])), /race\(\) needs at least one routine/);
  });
});

describe("timeout", () => {
  it("races a slow routine against a deadline: TimeoutError, and the routine is cancelled", () => {
    const clock = new VirtualClock();
    const trace: string[] = [];
    const slowQuery = routine(function* slowQuery() {
      try {
        yield sleep(30);
        return "rows";
      } finally {
        trace.push(`query cancelled at ${clock.now()}`);
      }
    });
    assert.throws(
      () => wrap(timeout(5, slowQuery()), { clock }),
      (error: unknown) =>
        error instanceof TimeoutError &&
        error.message === 'task "slowQuery" timed out after 5 s (it was cancelled)',
    );
    assert.deepEqual(trace, ["query cancelled at 5"]);
  });

  it("gives the routine's value or error when it ends in time", () => {
    const clock = new VirtualClock();
    assert.equal(wrap(timeout(5, nap(1, "in time")), { clock }), "in time");
    assert.throws(() => wrap(timeout(5, fail(1, "own error")), { clock }), /own error/);
    assert.equal(clock.now(), 2, "the timer did not hold anything up");
  });

  it("is cancelled with its caller, and so is the routine", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    const trace: string[] = [];
    const guarded = routine(function* guarded() {
      try {
        yield sleep(100);
      } finally {
        trace.push("guarded routine cleaned up");
      }
    });
    function* caller() {
      try {
        yield* timeout(50, guarded());
      } catch (error) {
        trace.push(`caller saw ${(error as Error).name}`);
      }
    }
    const task = worker.assign(caller());
    while (worker.tick()) {}
    task.cancel();
    worker.work();
    assert.deepEqual(trace, ["guarded routine cleaned up"]);
    assert.equal(task.state, "cancelled");
    assert.ok(!trace.some((line) => line.includes(CancelledError.name)));
  });

  it("gives the value or the timeout around a receive, never both: a value due at the deadline is not lost", () => {
    // The deadline falls on the step where the value arrives.
    for (const form of ["operation", "routine"]) {
      const { clock, worker } = collectingWorker();
      const channel = new Channel<string>(1);
      const take = routine(function* take() {
        return yield* channel.receive();
      });
      const seen: string[] = [];
      function* sender() {
        yield sleep(1);
        yield* channel.send("on the deadline");
      }
      function* receiver() {
        try {
          seen.push(yield* timeout(1, form === "operation" ? channel.receive() : take()));
        } catch (error) {
          if (!(error instanceof TimeoutError)) throw error;
          seen.push(`timed out at ${clock.now()}`);
        }
      }
      worker.assign(sender());
      worker.assign(receiver());
      worker.work();
      const left: string[] = [];
      for (let r = channel.tryReceive(); r.ok; r = channel.tryReceive()) left.push(r.value);
      assert.equal(seen.length, 1, form);
      if (seen[0] === "on the deadline") assert.deepEqual(left, [], form);
      else assert.deepEqual(left, ["on the deadline"], `${form}: timed out, and the value is kept`);
    }
  });

  it("refuses bad seconds and non-routines at the call", () => {
    assert.throws(() => timeout(-1, nap(1, "x")), RangeError);
    assert.throws(() => timeout(Number.NaN, nap(1, "x")), RangeError);
    assert.throws(() => timeout(1, (() => 5) as never), /timeout\(\) expects an array of routines/);
  });
});
