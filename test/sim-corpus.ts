/**
 * A corpus of classic concurrency bugs, each with a fixed twin that must
 * never fail, written with the public API. test/sim.test.ts checks that
 * `explore()` finds every bug and never faults a twin; `npm run bench -- sim`
 * measures schedules a second on them, with the built package.
 *
 * The programs take the library as an argument (`corpus(api)`), so that the
 * tests run them on the sources and the benchmark on the build: the two
 * must not be mixed in one program (a Semaphore of one is not a wait of the
 * other's Worker).
 */
import type * as Core from "../src/index.ts";
import type * as Sim from "../src/sim.ts";
import type { ExploreOptions, Outcome } from "../src/sim.ts";

/** What the corpus programs use of the library. */
export type CorpusApi = Pick<typeof Core, "Channel" | "routine" | "Semaphore" | "sleep" | "spawn"> &
  Pick<typeof Sim, "sim">;

/** One bug and its fixed twin. */
export interface CorpusEntry {
  /** Its name, as the tests and the benchmark print it. */
  name: string;
  /** What goes wrong, and how the twin fixes it. */
  story: string;
  /** The program with the bug: some schedule breaks `options.check`. */
  bug: () => Generator<unknown, unknown, any>;
  /** The same program fixed: no schedule breaks it. */
  fixed: () => Generator<unknown, unknown, any>;
  /** The invariant (and the faults to inject), for both. */
  options: ExploreOptions<unknown>;
  /** What `why` says of the bug's failure. */
  why: RegExp;
  /** The fewest delays of a schedule that fails the bug (the sum of its choices: 0 is round-robin). */
  delays: number;
}

/** The check of programs that must return `expected`. */
export const returns =
  (expected: unknown) =>
  (outcome: Outcome<unknown>): string | null => {
    if (!outcome.ok) return `it failed: ${String(outcome.error)}`;
    return outcome.value === expected ? null : `it returned ${String(outcome.value)}`;
  };

/** The corpus, its programs made with `api`. */
export function corpus(api: CorpusApi): CorpusEntry[] {
  const { Channel, routine, Semaphore, sim, sleep, spawn } = api;

  const counterProgram = (locked: boolean) =>
    function* counter(): Generator<unknown, number, any> {
      let value = 0;
      const lock = new Semaphore(1);
      const increment = function* increment(after: number) {
        for (let i = 0; i < after; i++) yield; // other work first
        const body = (function* readWrite() {
          const read = value;
          yield;
          value = read + 1;
        })();
        if (locked) yield* lock.withPermit(body);
        else yield* body;
      };
      const tasks = [spawn(increment(0)), spawn(increment(2)), spawn(increment(4))];
      for (const t of tasks) yield t;
      return value;
    };

  const cacheProgram = (atomic: boolean) =>
    function* cache(): Generator<unknown, number, any> {
      const cache = new Map<string, number>();
      let loads = 0;
      const get = function* get(delay: number) {
        for (let i = 0; i < delay; i++) yield;
        if (atomic) {
          if (!cache.has("k")) {
            loads++;
            cache.set("k", 1);
          }
          return;
        }
        if (!cache.has("k")) {
          yield; // "load" it
          loads++;
          cache.set("k", 1);
        }
      };
      const a = spawn(get(0));
      const b = spawn(get(2));
      yield a;
      yield b;
      return loads;
    };

  const locksProgram = (sameOrder: boolean) =>
    function* locks(): Generator<unknown, string, any> {
      const first = new Semaphore(1);
      const second = new Semaphore(1);
      const worker = function* worker(a: Core.Semaphore, b: Core.Semaphore, delay: number) {
        for (let i = 0; i < delay; i++) yield;
        yield* a.acquire();
        yield;
        yield* b.acquire();
        b.release();
        a.release();
      };
      const x = spawn(worker(first, second, 0));
      const y = spawn(sameOrder ? worker(first, second, 3) : worker(second, first, 3));
      yield x;
      yield y;
      return "done";
    };

  const orderProgram = (signalled: boolean) =>
    function* order(): Generator<unknown, string, any> {
      let config: string | undefined;
      const ready = new Channel<void>(1);
      const writer = spawn(
        routine(function* writer() {
          yield;
          yield;
          config = "loaded";
          yield* ready.send();
        })(),
      );
      const reader = spawn(
        routine(function* reader() {
          if (signalled) yield* ready.receive();
          else {
            yield;
            yield;
            yield;
          }
          return config ?? "undefined";
        })(),
      );
      yield writer;
      return (yield reader) as string;
    };

  const tornProgram = (locked: boolean) =>
    function* torn(): Generator<unknown, string, any> {
      const pair = { x: 0, y: 0 };
      const lock = new Semaphore(1);
      const writer = spawn(
        routine(function* writer() {
          for (let i = 1; i <= 2; i++) {
            const body = (function* write() {
              pair.x = i;
              yield;
              pair.y = i;
            })();
            if (locked) yield* lock.withPermit(body);
            else yield* body;
          }
        })(),
      );
      const reader = spawn(
        routine(function* reader() {
          let seen = "consistent";
          for (let i = 0; i < 4; i++) {
            const body = (function* read() {
              const x = pair.x;
              yield;
              const y = pair.y;
              if (x !== y) seen = `torn ${x}/${y}`;
            })();
            if (locked) yield* lock.withPermit(body);
            else yield* body;
            yield;
          }
          return seen;
        })(),
      );
      yield writer;
      return (yield reader) as string;
    };

  const tiesProgram = (explicit: boolean) =>
    function* ties(): Generator<unknown, string, any> {
      const log: string[] = [];
      const early = spawn(
        routine(function* early() {
          yield* sleep(1);
          log.push("early");
        })(),
      );
      const late = spawn(
        routine(function* late() {
          yield* sleep(1);
          if (explicit) yield early;
          log.push("late");
        })(),
      );
      yield early;
      yield late;
      return log.join(",");
    };

  const leakProgram = (guarded: boolean) =>
    function* leak(): Generator<unknown, string, any> {
      const lock = new Semaphore(1);
      const job = function* job() {
        yield* lock.acquire();
        if (guarded) {
          try {
            if (sim()?.fault("crash")) throw new Error("crash");
            yield;
          } finally {
            lock.release();
          }
        } else {
          if (sim()?.fault("crash")) throw new Error("crash");
          yield;
          lock.release();
        }
      };
      for (let i = 0; i < 3; i++) {
        try {
          yield spawn(job());
        } catch {
          // a crashed job is retried by the next one
        }
      }
      return "done";
    };

  /** A lock-free-style stack: pop and push read the top, yield, then compare-and-set it. */
  const stackProgram = (versioned: boolean) =>
    function* stack(): Generator<unknown, string, any> {
      interface Node {
        name: string;
        next: Node | null;
      }
      // A fresh top object at every update: comparing the objects compares versions.
      let top: { node: Node | null } = { node: null };
      const nodes = ["c", "b", "a"].map((name): Node => ({ name, next: null }));
      for (const node of nodes) top = { node: { ...node, next: top.node } };
      const compareAndSet = (seen: { node: Node | null }, node: Node | null): boolean => {
        if (versioned ? top !== seen : top.node !== seen.node) return false;
        top = { node };
        return true;
      };
      const pop = function* pop(): Generator<unknown, Node | null, any> {
        for (;;) {
          const seen = top;
          if (seen.node === null) return null;
          const next = seen.node.next;
          yield; // another task may pop and push here
          if (compareAndSet(seen, next)) return seen.node;
        }
      };
      const push = function* push(node: Node): Generator<unknown, void, any> {
        for (;;) {
          const seen = top;
          node.next = seen.node;
          yield;
          if (compareAndSet(seen, node)) return;
        }
      };
      const held: (Node | null)[] = [];
      const slow = spawn(
        routine(function* slow() {
          held.push(yield* pop());
        })(),
      );
      const busy = spawn(
        routine(function* busy() {
          const a = yield* pop();
          held.push(yield* pop());
          if (a !== null) yield* push(a); // a is back on top: the same node, another stack below
        })(),
      );
      yield slow;
      yield busy;
      const left: string[] = [];
      for (let node = top.node; node !== null && left.length < 5; node = node.next) {
        left.push(held.includes(node) ? `${node.name} (popped!)` : node.name);
      }
      return left.join(",");
    };

  /** A producer writes into a ring of 3 slots; a consumer reads them in order. */
  const ringProgram = (bounded: boolean) =>
    function* ring(): Generator<unknown, string, any> {
      const slots = [0, 0, 0];
      const filled = new Channel<void>(6); // a signal for each slot written
      const free = new Semaphore(slots.length); // slots the producer may write
      const got: number[] = [];
      const producer = spawn(
        routine(function* producer() {
          for (let i = 1; i <= 6; i++) {
            if (bounded) yield* free.acquire(); // full: wait
            slots[(i - 1) % slots.length] = i;
            filled.trySend();
            yield;
          }
        })(),
      );
      const consumer = spawn(
        routine(function* consumer() {
          for (let i = 0; i < 6; i++) {
            yield* filled.receive(); // empty: wait
            got.push(slots[i % slots.length] as number);
            if (bounded) free.release();
            yield;
          }
        })(),
      );
      yield producer;
      yield consumer;
      return got.join(",");
    };

  /** Two producers each check the job queue has room (else shed the job), build the job, then put it. */
  const queueProgram = (waits: boolean) =>
    function* queue(): Generator<unknown, string, any> {
      const jobs = new Channel<string>(1);
      const accepted: string[] = [];
      const got: string[] = [];
      const producer = function* producer(name: string) {
        if (jobs.size === jobs.capacity) return; // full: shed this job, by design
        accepted.push(name);
        yield; // build the job
        if (waits)
          yield* jobs.send(name); // waits for room
        else jobs.trySend(name); // false when the room was taken meanwhile: an accepted job dropped
      };
      const consumer = spawn(
        routine(function* consumer() {
          yield; // starts up
          for (let next = yield* jobs.receiveOrClosed(); next.ok; ) {
            got.push(next.value);
            next = yield* jobs.receiveOrClosed();
          }
        })(),
      );
      const a = spawn(producer("a"), { name: "producer a" });
      const b = spawn(producer("b"), { name: "producer b" });
      yield a;
      yield b;
      jobs.close();
      yield consumer;
      return accepted.filter((name) => !got.includes(name)).join(",") || "none lost";
    };

  return [
    {
      name: "lost update",
      story: "read, yield, write back; fixed: the read and the write under one lock",
      bug: counterProgram(false),
      fixed: counterProgram(true),
      options: { check: returns(3) },
      why: /returned [12]/,
      delays: 2,
    },
    {
      name: "check-then-act",
      story: "two tasks both find the cache empty; fixed: the check and the act in one step",
      bug: cacheProgram(false),
      fixed: cacheProgram(true),
      options: { check: returns(1) },
      why: /returned 2/,
      delays: 2,
    },
    {
      name: "lock-order deadlock",
      story: "two locks taken in opposite orders; fixed: one order",
      bug: locksProgram(false),
      fixed: locksProgram(true),
      options: {},
      why: /deadlocked/,
      delays: 3,
    },
    {
      name: "order violation",
      story:
        "a reader runs before the writer initialised what it reads; fixed: it waits for a signal",
      bug: orderProgram(false),
      fixed: orderProgram(true),
      options: { check: returns("loaded") },
      why: /returned undefined/,
      delays: 2,
    },
    {
      name: "torn read",
      story: "a reader sees a torn pair of fields; fixed: both fields under one lock",
      bug: tornProgram(false),
      fixed: tornProgram(true),
      options: { check: returns("consistent") },
      why: /returned torn/,
      delays: 1,
    },
    {
      name: "timer ties",
      story:
        "two sleepers due at the same time run in either order; fixed: the order is made explicit",
      bug: tiesProgram(false),
      fixed: tiesProgram(true),
      options: { check: returns("early,late") },
      why: /returned late,early/,
      delays: 1,
    },
    {
      name: "leaked permit",
      story: "a fault between acquire and release leaks the permit; fixed: release in finally",
      bug: leakProgram(false),
      fixed: leakProgram(true),
      options: { faults: { rate: 0.3 } },
      why: /deadlocked/,
      delays: 1,
    },
    {
      name: "ABA",
      story:
        "a pop compares the top node alone, and another task popped it and pushed it back meanwhile; fixed: compare a version too",
      bug: stackProgram(false),
      fixed: stackProgram(true),
      // One node is left, whichever, and no task holds it.
      options: {
        check: (o) => (o.ok && /^[abc]$/.test(String(o.value)) ? null : returns("one node")(o)),
      },
      why: /popped!/,
      delays: 3,
    },
    {
      name: "overrun ring",
      story:
        "a bug three delays deep: a producer three slots ahead overwrites what the consumer has not read; fixed: it waits while the ring is full",
      bug: ringProgram(false),
      fixed: ringProgram(true),
      options: { check: returns("1,2,3,4,5,6") },
      why: /returned (?!1,2,3,4,5,6$)/,
      delays: 3,
    },
    {
      name: "check-then-act through a channel",
      story:
        "two producers both see room in a queue of one, the second trySend() finds it taken and an accepted job is dropped; fixed: send() waits for room",
      bug: queueProgram(false),
      fixed: queueProgram(true),
      options: { check: returns("none lost") },
      why: /returned [ab]$/,
      delays: 2,
    },
  ];
}
