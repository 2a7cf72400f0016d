/**
 * Our own coordination properties, under explore(): the models of
 * coordination-properties, select-properties and properties (channels,
 * select, semaphores, cancellation) whose invariants can be checked at the
 * end of one run, run under many schedules instead of one round-robin.
 *
 * fast-check varies the program there; here explore() varies the schedule
 * (which runnable task steps) and, through sim().choose(), the program's
 * data too: a capacity, when a cancel comes, who is cancelled. Each program
 * records what its tasks did and returns it; each check states what must
 * hold whatever the schedule. Each model also comes with a deliberate
 * mistake in the test's own bookkeeping, which the same check must catch:
 * a check that cannot fail proves nothing. Bounded: a few hundred
 * schedules per model, about a second in all.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CancelledError,
  Channel,
  Semaphore,
  select,
  sleep,
  spawn,
  type Task,
} from "../src/index.ts";
import { explore, type Outcome, sim } from "../src/sim.ts";

const RUNS = 400;
/** A run longer than this fails (a livelock), so that a broken model fails fast. */
const MAX_STEPS = 2000;

/** The choice among `options` of the running program (0 outside a simulation). */
const choose = (options: number, label: string): number => sim()?.choose(options, label) ?? 0;

/** A task that cancels `target` after `steps` steps of its own (never when steps is 0). */
function cancelAfter(target: Task<unknown>, steps: number): Task<void> {
  return spawn(
    (function* canceller() {
      if (steps === 0) return;
      for (let i = 0; i < steps; i++) yield;
      target.cancel();
    })(),
    { name: "canceller" },
  );
}

/** Waits until `task` has ended; its cancel is no error here (a failure is). */
function* settled(task: Task<unknown>): Generator<unknown, void, any> {
  try {
    yield* task.join();
  } catch (error) {
    if (!(error instanceof CancelledError)) throw error;
  }
}

/** Fails a run whose program failed, else applies `check` to its value. */
const holds =
  <R>(check: (value: R) => string | null) =>
  (outcome: Outcome<R>): string | null =>
    outcome.ok ? check(outcome.value) : `a task failed: ${String(outcome.error)}`;

function expectHolds<R>(
  name: string,
  program: () => Generator<unknown, R, any>,
  check: (value: R) => string | null,
): void {
  for (const seed of [1, 2]) {
    const result = explore(program, {
      runs: RUNS / 2,
      seed,
      maxSteps: MAX_STEPS,
      check: holds(check),
    });
    if (!result.ok) {
      assert.fail(
        `${name}, seed ${seed}: ${result.failure.why}\n${result.failure.trace.join("\n")}\nreplay: ${result.failure.shrunk}`,
      );
    }
  }
}

function expectCaught<R>(
  name: string,
  program: () => Generator<unknown, R, any>,
  check: (value: R) => string | null,
): void {
  const result = explore(program, { runs: RUNS, maxSteps: MAX_STEPS, check: holds(check) });
  assert.equal(result.ok, false, `${name}: the mistake was not caught`);
}

// ------------------------------------------------------------- channel

interface ChannelRun {
  /** Values whose send completed. */
  sent: string[];
  /** Values received, in the order taken. */
  received: string[];
  /** Values left in the channel at the end. */
  left: string[];
}

/**
 * Two producers send three tagged values each (`p0#0` ...); two consumers
 * receive until the channel is closed; a closer closes it once both
 * producers have ended. The capacity (0 to 2) is chosen, and so is a cancel
 * of one producer or one consumer after a chosen number of its steps.
 */
function channelProgram(mistake: boolean) {
  return function* channel(): Generator<unknown, ChannelRun, any> {
    const ch = new Channel<string>(choose(3, "capacity"));
    const run: ChannelRun = { sent: [], received: [], left: [] };
    const producers = [0, 1].map((p) =>
      spawn(
        (function* producer() {
          for (let i = 0; i < 3; i++) {
            yield* ch.send(`p${p}#${i}`);
            run.sent.push(`p${p}#${i}`);
          }
        })(),
        { name: `p${p}` },
      ),
    );
    const consumers = [0, 1].map((c) =>
      spawn(
        (function* consumer() {
          for (let next = yield* ch.receiveOrClosed(); next.ok; ) {
            // The mistake: the second consumer forgets its second value.
            if (!(mistake && c === 1 && run.received.length === 1)) run.received.push(next.value);
            next = yield* ch.receiveOrClosed();
          }
        })(),
        { name: `c${c}` },
      ),
    );
    const who = choose(5, "who is cancelled"); // 0: nobody
    const victim = [producers[0], producers[1], consumers[0], consumers[1]][who - 1];
    const canceller =
      victim === undefined ? undefined : cancelAfter(victim, 1 + choose(6, "after"));
    const closer = spawn(
      (function* closer() {
        for (const p of producers) yield* settled(p);
        ch.close();
      })(),
      { name: "closer" },
    );
    yield* closer.join();
    for (const c of consumers) yield* settled(c);
    if (canceller !== undefined) yield* canceller.join();
    for (let next = ch.tryReceive(); next.ok; next = ch.tryReceive()) run.left.push(next.value);
    return run;
  };
}

function checkChannel({ sent, received, left }: ChannelRun): string | null {
  const taken = [...received, ...left];
  if (new Set(taken).size !== taken.length) return `a value was taken twice: ${taken}`;
  const lost = sent.filter((v) => !taken.includes(v));
  if (lost.length > 0)
    return `sent and never received: ${lost} (received ${received}, left ${left})`;
  for (const p of ["p0", "p1"]) {
    const order = taken.filter((v) => v.startsWith(p));
    const sorted = [...order].sort();
    if (order.join() !== sorted.join()) return `${p}'s values out of order: ${order}`;
  }
  return null;
}

// ----------------------------------------------------------- semaphore

interface SemaphoreRun {
  permits: number;
  /** The most tasks that held a permit at once. */
  most: number;
  /** Permits free at the end. */
  available: number;
}

/**
 * Three tasks take a permit of a semaphore of 1 or 2 (with withPermit, or
 * acquire and release in finally) and hold it across pauses; one of them
 * may be cancelled after a chosen number of steps, waiting or holding.
 */
function semaphoreProgram(mistake: boolean) {
  return function* semaphore(): Generator<unknown, SemaphoreRun, any> {
    const permits = 1 + choose(2, "permits");
    const sem = new Semaphore(permits);
    let holding = 0;
    let most = 0;
    const hold = function* hold() {
      holding++;
      most = Math.max(most, holding);
      try {
        yield;
        yield;
      } finally {
        holding--;
      }
    };
    const tasks = [0, 1, 2].map((t) =>
      spawn(
        (function* taker() {
          yield;
          if (t === 0) {
            yield* sem.withPermit(hold());
            return;
          }
          yield* sem.acquire();
          try {
            yield* hold();
          } finally {
            // The mistake: the last taker keeps its permit.
            if (!(mistake && t === 2)) sem.release();
          }
        })(),
        { name: `t${t}` },
      ),
    );
    const who = choose(4, "who is cancelled");
    const victim = tasks[who - 1];
    if (victim !== undefined) cancelAfter(victim, 1 + choose(5, "after"));
    for (const t of tasks) yield* settled(t);
    return { permits, most, available: sem.available };
  };
}

function checkSemaphore({ permits, most, available }: SemaphoreRun): string | null {
  if (most > permits) return `${most} tasks held a permit at once, of ${permits}`;
  if (available !== permits) return `${permits - available} permits never came back`;
  return null;
}

// -------------------------------------------------------------- select

/**
 * Two channels (capacity 0 or 1, chosen); a sender on each sends two
 * tagged values; two consumers each select over both channels twice. Every
 * value must be taken exactly once, by one case: the one of its channel.
 */
function selectProgram(mistake: boolean) {
  return function* selecting(): Generator<unknown, { taken: string[]; wrong: string[] }, any> {
    const capacity = choose(2, "capacity");
    const channels = [new Channel<string>(capacity), new Channel<string>(capacity)];
    const taken: string[] = [];
    const wrong: string[] = [];
    channels.forEach((ch, k) => {
      spawn(
        (function* sender() {
          for (let i = 0; i < 2; i++) yield* ch.send(`ch${k}#${i}`);
        })(),
        { name: `s${k}` },
      );
    });
    const consumers = [0, 1].map((c) =>
      spawn(
        (function* consumer() {
          for (let i = 0; i < 2; i++) {
            const [a, b] = channels as [Channel<string>, Channel<string>];
            const { index, value } = yield* select([a.receive(), b.receive()]);
            if (!value.startsWith(`ch${index}#`)) wrong.push(`case ${index} gave ${value}`);
            // The mistake: the first consumer records its first value twice.
            taken.push(value);
            if (mistake && c === 0 && i === 0) taken.push(value);
          }
        })(),
        { name: `c${c}` },
      ),
    );
    for (const c of consumers) yield* c.join();
    return { taken, wrong };
  };
}

function checkSelect({ taken, wrong }: { taken: string[]; wrong: string[] }): string | null {
  if (wrong.length > 0) return wrong.join("; ");
  const all = ["ch0#0", "ch0#1", "ch1#0", "ch1#1"];
  const sorted = [...taken].sort();
  return sorted.join() === all.join() ? null : `taken ${taken}, expected each of ${all} once`;
}

// -------------------------------------------------------- cancellation

/**
 * A parent with two children that work until cancelled, every routine's
 * body in try/finally whose cleanup waits (it yields); the parent is
 * cancelled after a chosen number of steps. Every routine that started
 * runs its finally to its end exactly once, and the children's cleanups
 * end before the parent's starts. (The finallies are entered by the cancel
 * alone: a cancel that comes while a task is in a finally it entered by
 * itself ends that finally at its next yield, as a generator's return()
 * does; shield() is for that.)
 */
function cancelProgram(mistake: boolean) {
  return function* cancelling(): Generator<
    unknown,
    { started: string[]; cleaned: string[]; order: string[] },
    any
  > {
    const started: string[] = [];
    const cleaned: string[] = [];
    const order: string[] = [];
    const child = function* child(name: string) {
      started.push(name);
      const pause = 1 + choose(3, `${name} works`);
      try {
        for (;;) yield* sleep(pause); // works until cancelled
      } finally {
        order.push(`${name} cleans`);
        yield; // a cleanup that waits
        cleaned.push(name);
        // The mistake: the first child's cleanup is counted twice.
        if (mistake && name === "child 0") cleaned.push(name);
      }
    };
    const parent = spawn(
      (function* parent() {
        started.push("parent");
        try {
          const kids = [spawn(child("child 0")), spawn(child("child 1"))];
          for (const k of kids) yield* k.join();
        } finally {
          order.push("parent cleans");
          yield;
          cleaned.push("parent");
        }
      })(),
      { name: "parent" },
    );
    cancelAfter(parent, 1 + choose(6, "cancel after"));
    yield* settled(parent);
    return { started, cleaned, order };
  };
}

function checkCancel({
  started,
  cleaned,
  order,
}: {
  started: string[];
  cleaned: string[];
  order: string[];
}): string | null {
  if ([...started].sort().join() !== [...cleaned].sort().join()) {
    return `started ${started}, cleaned up ${cleaned}: each exactly once (order: ${order})`;
  }
  const parentAt = order.indexOf("parent cleans");
  const late = order.slice(parentAt + 1).filter((o) => o.startsWith("child"));
  return parentAt >= 0 && late.length > 0
    ? `a child cleaned up after its parent began: ${order}`
    : null;
}

describe("coordination properties under explore()", () => {
  const models = [
    {
      name: "channel: every completed send taken exactly once, each producer's values in order",
      program: channelProgram,
      check: checkChannel,
    },
    {
      name: "semaphore: never more holders than permits, every permit back, under cancels",
      program: semaphoreProgram,
      check: checkSemaphore,
    },
    {
      name: "select: each value taken exactly once, by its channel's case",
      program: selectProgram,
      check: checkSelect,
    },
    {
      name: "cancellation: every finally runs once, children's cleanups before the parent's",
      program: cancelProgram,
      check: checkCancel,
    },
  ] as const;
  for (const { name, program, check } of models) {
    it(`${name} (and the check catches a mistake)`, () => {
      expectHolds(name, program(false), check as (value: unknown) => string | null);
      expectCaught(name, program(true), check as (value: unknown) => string | null);
    });
  }
});
