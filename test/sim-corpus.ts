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
      const increment = function* increment() {
        const body = (function* readWrite() {
          const read = value;
          yield;
          value = read + 1;
        })();
        if (locked) yield* lock.withPermit(body);
        else yield* body;
      };
      const tasks = [spawn(increment()), spawn(increment()), spawn(increment())];
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

  return [
    {
      name: "lost update",
      story: "read, yield, write back; fixed: the read and the write under one lock",
      bug: counterProgram(false),
      fixed: counterProgram(true),
      options: { check: returns(3) },
      why: /returned [12]/,
    },
    {
      name: "check-then-act",
      story: "two tasks both find the cache empty; fixed: the check and the act in one step",
      bug: cacheProgram(false),
      fixed: cacheProgram(true),
      options: { check: returns(1) },
      why: /returned 2/,
    },
    {
      name: "lock-order deadlock",
      story: "two locks taken in opposite orders; fixed: one order",
      bug: locksProgram(false),
      fixed: locksProgram(true),
      options: {},
      why: /deadlocked/,
    },
    {
      name: "order violation",
      story:
        "a reader runs before the writer initialised what it reads; fixed: it waits for a signal",
      bug: orderProgram(false),
      fixed: orderProgram(true),
      options: { check: returns("loaded") },
      why: /returned undefined/,
    },
    {
      name: "torn read",
      story:
        "a bug two preemptions deep: a reader sees a torn pair of fields; fixed: both fields under one lock",
      bug: tornProgram(false),
      fixed: tornProgram(true),
      options: { check: returns("consistent") },
      why: /returned torn/,
    },
    {
      name: "timer ties",
      story:
        "two sleepers due at the same time run in either order; fixed: the order is made explicit",
      bug: tiesProgram(false),
      fixed: tiesProgram(true),
      options: { check: returns("early,late") },
      why: /returned late,early/,
    },
    {
      name: "leaked permit",
      story: "a fault between acquire and release leaks the permit; fixed: release in finally",
      bug: leakProgram(false),
      fixed: leakProgram(true),
      options: { faults: { rate: 0.3 } },
      why: /deadlocked/,
    },
  ];
}
