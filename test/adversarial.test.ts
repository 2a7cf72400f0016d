/**
 * Adversarial cases: programs written to break a printed guarantee, kept
 * here once the guarantee holds for them.
 *
 * An operation (`receive()`, `send(v)`, `acquire()`, `future.wait()`,
 * `ticker.receive()`) and a `select` are one task's wait (design.md, rule
 * 2): a second task that reaches one while the first waits in it gets an
 * error naming both, never a silent `undefined`, a lost wake or a value
 * meant for the other. The first task waits in it until it has *run* with
 * what woke it, not only until it was woken: between the wake and its next
 * step the wait is still its.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Broadcast,
  Channel,
  Future,
  routine,
  Semaphore,
  select,
  sleep,
  suspend,
  type Worker,
} from "../src/index.ts";
import { collectingWorker } from "./support.ts";

/** A shared wait, and what ends the first task's wait (a send, a resolve, a release...). */
interface Shared {
  shared: Generator<unknown, unknown, unknown>;
  end: () => void;
  /** After the run: what is left behind to check (a channel's next value, the permits...). */
  after?: () => string;
}

/**
 * Task "first" parks on the shared wait (by yield*); `end()` wakes it;
 * before "first" has run again, task "second" reaches the same wait (by
 * yield* or by yield). Says what each got.
 */
function reachWhileWoken(
  how: "yield*" | "yield",
  make: (worker: Worker) => Shared,
): { trace: string[]; errors: unknown[]; after: string } {
  const { worker, errors } = collectingWorker();
  const { shared, end, after } = make(worker);
  const trace: string[] = [];
  const reach = routine(function* reach(name: string, by: "yield*" | "yield") {
    if (name === "second") yield; // lets "first" park first
    try {
      const value = by === "yield*" ? yield* shared : yield shared;
      trace.push(`${name} got ${JSON.stringify(value)}`);
    } catch (error) {
      trace.push(`${name}: ${(error as Error).message}`);
    }
  });
  worker.assign(reach("first", "yield*"), { name: "first" });
  worker.assign(reach("second", how), { name: "second" });
  worker.tick(); // "first" parks on the wait
  worker.tick(); // "second" gives up control once
  end(); // "first" is woken, and queued behind "second"
  try {
    worker.work();
  } catch (error) {
    trace.push(`work(): ${(error as Error).name}`);
  }
  return { trace, errors, after: after?.() ?? "" };
}

const refusedOperation = (what: string) =>
  `second: ${what}: task "second" yielded it, but task "first" is already waiting on it; an ` +
  "operation is one task's wait: make one per task";

describe("an operation woken but not yet run is still its task's wait", () => {
  const cases: [string, string, (worker: Worker) => Shared, string, string][] = [
    [
      "a receive",
      "receive from a channel (1/1 buffered)",
      () => {
        const channel = new Channel<number>(1);
        return {
          shared: channel.receive(),
          end: () => {
            channel.trySend(1);
            channel.trySend(2);
          },
          after: () => `left: ${JSON.stringify(channel.tryReceive())}`,
        };
      },
      "first got 1",
      'left: {"ok":true,"value":2}',
    ],
    [
      "a send",
      "send to a channel (0/0 buffered)",
      () => {
        const channel = new Channel<string>();
        const got: string[] = [];
        return {
          shared: channel.send("sent once"),
          end: () => {
            const r = channel.tryReceive();
            if (r.ok) got.push(r.value);
          },
          after: () => `received: ${got.join()}, then ${JSON.stringify(channel.tryReceive())}`,
        };
      },
      "first got undefined",
      'received: sent once, then {"ok":false,"closed":false}',
    ],
    [
      "a future's wait",
      "a future",
      () => {
        const future = new Future<string>();
        return { shared: future.wait(), end: () => future.resolve("ready") };
      },
      'first got "ready"',
      "",
    ],
    [
      "an acquire",
      "a permit of a semaphore (0/1 free, 0 waiting)",
      () => {
        const semaphore = new Semaphore(1);
        semaphore.tryAcquire();
        return {
          shared: semaphore.acquire(),
          end: () => semaphore.release(),
          after: () => `available: ${semaphore.available}`,
        };
      },
      "first got undefined",
      "available: 0",
    ],
  ];
  for (const [name, described, make, firstGot, left] of cases) {
    for (const how of ["yield*", "yield"] as const) {
      it(`${name}, reached by ${how}: the second task is refused, the first gets what woke it`, () => {
        const { trace, errors, after } = reachWhileWoken(how, make);
        // (By yield, the refusal is thrown in at the second task's next step, after the first's.)
        assert.deepEqual(trace.sort(), [firstGot, refusedOperation(described)].sort());
        assert.equal(after, left);
        assert.deepEqual(errors, []);
      });
    }
  }
});

describe("a select is one task's wait", () => {
  for (const how of ["yield*", "yield"] as const) {
    it(`a second task that reaches it by ${how} while the first waits is refused`, () => {
      const { worker, errors } = collectingWorker();
      const channel = new Channel<number>();
      const shared = select([channel.receive()]);
      const trace: string[] = [];
      const reach = routine(function* reach(name: string, by: "yield*" | "yield") {
        try {
          const got = by === "yield*" ? yield* shared : yield shared;
          trace.push(`${name} got ${JSON.stringify(got)}`);
        } catch (error) {
          trace.push(`${name}: ${(error as Error).message}`);
        }
      });
      worker.assign(reach("first", "yield*"), { name: "first" });
      worker.assign(reach("second", how), { name: "second" });
      worker.tick(); // "first" parks on the select
      worker.tick(); // "second" reaches it
      channel.trySend(7);
      worker.work();
      assert.deepEqual(trace, [
        'second: task "second" reached a select() that task "first" is waiting in: a select() is ' +
          "one task's wait; make one in each task",
        'first got {"index":0,"value":7}',
      ]);
      assert.deepEqual(errors, []);
    });
  }

  it("an operation already parked on elsewhere is refused as a case when the select parks", () => {
    const { worker, errors } = collectingWorker();
    const channel = new Channel<number>();
    const other = new Channel<number>();
    const receive = channel.receive();
    const trace: string[] = [];
    const direct = routine(function* direct() {
      trace.push(`direct got ${yield* receive}`);
    });
    const both = select([receive, other.receive()]); // made while the receive is still fresh
    const selecting = routine(function* selecting() {
      try {
        const got = yield* both;
        trace.push(`select got ${JSON.stringify(got)}`);
      } catch (error) {
        trace.push(`select: ${(error as Error).message}`);
      }
    });
    worker.assign(direct(), { name: "direct" });
    worker.assign(selecting(), { name: "selecting" });
    worker.tick(); // "direct" parks on the receive
    worker.tick(); // the select parks: its case 0 is already another task's wait
    channel.trySend(1);
    other.trySend(2);
    worker.work();
    assert.deepEqual(trace, [
      "select: select(): case 0 (receive from a channel (0/0 buffered)) was already used; " +
        "each case must be a fresh operation",
      "direct got 1",
    ]);
    assert.deepEqual(errors, []);
  });
});

/**
 * A subscription ends with the task that made it (broadcast.test.ts: "closes
 * a subscription whose task returned without closing it, in the step the
 * task ends: a send waiting for room goes on"), also one made in a cleanup
 * that a cancel started.
 */
describe("a subscription made while its task is being cancelled", () => {
  it("ends with the task: a send waiting for room in it goes on", () => {
    const { worker, errors } = collectingWorker();
    const news = new Broadcast<number>();
    const trace: string[] = [];
    const listener = routine(function* listener() {
      try {
        yield suspend();
      } finally {
        const late = news.subscribe(); // buffer 1, back-pressure
        yield* sleep(1); // the sender fills it meanwhile
        trace.push(`cleanup ends, holding ${late.size}`);
      }
    });
    const sender = routine(function* sender() {
      yield* sleep(0.5);
      yield* news.send(1);
      trace.push("sent 1");
      yield* news.send(2); // waits for room in the listener's subscription, until it ends
      trace.push("sent 2");
    });
    const task = worker.assign(listener());
    worker.tick();
    task.cancel();
    worker.assign(sender());
    worker.work();
    assert.deepEqual(trace, ["sent 1", "cleanup ends, holding 1", "sent 2"]);
    assert.equal(news.subscribers, 0);
    assert.deepEqual(errors, []);
  });
});

/**
 * `withPermit(body)` gives a routine object, one task's as a generator is
 * (spawn.test.ts: "a routine object is one task's"). A second task that
 * reaches it while the first waits for its permit is refused: it must not
 * run the body without a permit, nor end the first task's wait.
 */
describe("a withPermit routine waiting for its permit", () => {
  it("refuses a second task; the first runs the body holding the permit", () => {
    const { worker, errors } = collectingWorker();
    const pool = new Semaphore(1);
    const trace: string[] = [];
    const shared = pool.withPermit(
      (function* body() {
        trace.push(`body runs, ${pool.available} permits free`);
        yield;
        return "done";
      })(),
    );
    const reach = routine(function* reach(name: string) {
      try {
        trace.push(`${name} got ${yield* shared}`);
      } catch (error) {
        trace.push(`${name}: ${(error as Error).message}`);
      }
    });
    assert.ok(pool.tryAcquire()); // held elsewhere, for now
    worker.assign(reach("first"), { name: "first" });
    worker.assign(reach("second"), { name: "second" });
    worker.tick(); // "first" waits for the permit
    worker.tick(); // "second" reaches the same routine object
    pool.release(); // the permit passes to "first"
    worker.work();
    assert.deepEqual(trace, [
      'second: task "second" reached a withPermit routine that task "first" is waiting in: a ' +
        "routine object is one task's, as a generator is; make one in each task",
      "body runs, 0 permits free",
      "first got done",
    ]);
    assert.equal(pool.available, 1);
    assert.deepEqual(errors, []);
  });
});

/**
 * An operation is done once. Reached again by the task that did it, it
 * gives undefined, as a finished generator does (and as `join()`, `call()`
 * and `park()` routines do), by `yield` as by `yield*`: it never waits
 * again, takes nothing more and gives nothing more.
 */
describe("an operation that has ended, reached again by its task", () => {
  const cases: [string, () => { op: Generator<unknown, unknown, unknown>; left: () => string }][] =
    [
      [
        "a future's wait",
        () => {
          const future = new Future<number>();
          future.resolve(3);
          return { op: future.wait(), left: () => "" };
        },
      ],
      [
        "a receive",
        () => {
          const channel = new Channel<number>(2);
          channel.trySend(3);
          channel.trySend(4);
          return { op: channel.receive(), left: () => `${channel.size} left` };
        },
      ],
      [
        "an acquire",
        () => {
          const semaphore = new Semaphore(2);
          return { op: semaphore.acquire(), left: () => `${semaphore.available} free` };
        },
      ],
      [
        "a send",
        () => {
          const channel = new Channel<number>(2);
          return { op: channel.send(3), left: () => `${channel.size} sent` };
        },
      ],
    ];
  for (const [name, make] of cases) {
    for (const [first, again] of [
      ["yield", "yield"],
      ["yield*", "yield"],
      ["yield", "yield*"],
    ] as const) {
      it(`${name}: done by ${first}, reached again by ${again}, gives undefined at once`, () => {
        const { worker, errors } = collectingWorker();
        const { op, left } = make();
        const trace: string[] = [];
        worker.assign(
          (function* twice() {
            const once = first === "yield" ? yield op : yield* op;
            trace.push(`once: ${once}`);
            const twice = again === "yield" ? yield op : yield* op;
            trace.push(`again: ${twice}`);
          })(),
        );
        worker.work(); // threw WouldBlockError: the second `yield` waited again, for ever
        const expected = {
          "a future's wait": ["once: 3", "again: undefined", ""],
          "a receive": ["once: 3", "again: undefined", "1 left"],
          "an acquire": ["once: undefined", "again: undefined", "1 free"],
          "a send": ["once: undefined", "again: undefined", "1 sent"],
        }[name];
        assert.deepEqual([...trace, left()], expected);
        assert.deepEqual(errors, []);
      });
    }
  }
});

describe("a select that has ended, reached again by its task", () => {
  for (const ready of [true, false]) {
    for (const [first, again] of [
      ["yield", "yield"],
      ["yield*", "yield"],
      ["yield", "yield*"],
    ] as const) {
      it(`${ready ? "done at once" : "done after it waited"} by ${first}, reached again by ${again}: undefined, no second case`, () => {
        const { worker, errors } = collectingWorker();
        const channel = new Channel<number>(3);
        const trace: string[] = [];
        const fill = () => {
          channel.trySend(1);
          channel.trySend(2);
        };
        if (ready) fill();
        const once = select([channel.receive()]);
        worker.assign(
          (function* twice() {
            trace.push(JSON.stringify(first === "yield" ? yield once : yield* once));
            trace.push(String(again === "yield" ? yield once : yield* once));
          })(),
        );
        if (!ready) {
          worker.tick(); // it waits
          fill();
        }
        // It waited again for ever (WouldBlockError), or refused its own case as a duplicate.
        worker.work();
        assert.deepEqual(trace, ['{"index":0,"value":1}', "undefined"]);
        assert.equal(channel.size, 1, "the second value is still there");
        assert.deepEqual(errors, []);
      });
    }
  }
});
