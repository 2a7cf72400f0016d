/**
 * Properties of the coordination primitives (Channel, Semaphore, Future),
 * checked on random programs.
 *
 * fast-check writes small programs. For a channel: producers that each send
 * their own tagged sequence (`p1#0`, `p1#1`, ...) with `yield* send`,
 * `yield send` or `trySend` retried after a sleep, consumers that receive a
 * number of times or until the channel is closed (`yield* receive`,
 * `yield receive`, or `tryReceive` retried after a sleep), a capacity from
 * 0 to 3, random pauses (`yield`, `sleep 1`) between operations, and
 * cancels of producers and consumers (one, or all at once oldest first as
 * `cancelAll()` does): after a number of steps, or the
 * moment the target has been woken inside an operation but not yet taken
 * the outcome (the hard case for a cancel), made by a controller task or
 * from outside between ticks. A closer task closes the channel once every
 * producer or every consumer has ended, which wakes whoever still waits.
 * Semaphore programs are tasks that take permits with `acquire`, `yield
 * acquire`, `withPermit` or `tryAcquire` and hold them across pauses, and
 * cancels that come while they wait or while they hold; future programs
 * are waiters (`yield* wait`, `yield wait`, once or twice), cancels, and
 * one `resolve` or `reject` from a task or from outside, tried twice. Each
 * program runs on a real `Worker` with a `VirtualClock`, driven by
 * `work()`, by `tick()` (moving the clock when nothing is runnable; cancels
 * "from outside" happen only there, under the others the controller makes
 * them) or by `await run()`.
 *
 * Nothing here predicts the schedule. The test watches what each task does
 * (every event gets the next number of a logical clock, and whether an
 * operation waited shows in the worker's step count) and states what must
 * hold whatever the schedule. In every property, no task is left when the
 * worker returns, and no task fails unless it was cancelled.
 *
 * - channel 1. A value is received at most once; every send that completed
 *   (`send` returned, `trySend` gave true) is received exactly once or is
 *   still buffered at the end; a send cancelled while it waited sends
 *   nothing, and one cancelled after its value was taken still delivers it.
 * - channel 2. Receivers that waited resume first in first out, and so do
 *   senders.
 * - channel 3. Each producer's values are taken strictly in the order sent,
 *   whoever takes them and whoever is cancelled in between (a woken
 *   receiver takes the oldest value only when it runs, so one cancelled
 *   before it runs takes nothing and nothing is given back); values left
 *   in the channel come after every value taken, in order.
 * - channel 4. No barging: a receive or send that finishes without waiting,
 *   or a `tryReceive`/`trySend` that succeeds, never does so while another
 *   task waits to do the same; a try fails only when it would have to wait.
 * - channel 5. At every event and between ticks, the buffer (the values
 *   nobody was promised) holds at most `capacity` values, but for values
 *   left by receivers woken with a value and cancelled before they ran
 *   while no other receiver waited: each such value stays in the channel,
 *   free, and can hold the buffer one over capacity until a receive takes
 *   from the buffer (no sender's value moves in meanwhile). Only such a
 *   cancel adds to the buffer, one value; with another receiver waiting it
 *   adds nothing (the value is promised to that one).
 * - channel 6. A task cancelled inside a receive or a send leaves no trace:
 *   no error is reported for it (not even a ChannelClosedError it was
 *   woken with and never took).
 * - semaphore 1. The tasks holding a permit never outnumber the permits
 *   taken; at the end every permit is back, none leaked by a cancel.
 * - semaphore 2. Waiters acquire first in first out (compared among plain
 *   acquires, and among withPermit bodies); an acquire waits exactly when no permit is free; no
 *   permit is free while a task waits; `tryAcquire` never takes a permit
 *   while a task waits, and fails only when it would have to wait.
 * - future 1. Every waiter that is not cancelled gets the value (or the
 *   error) exactly once per wait, never before it is set, and nothing after
 *   its cancel; waiters resume in the order they waited; a wait after the
 *   settle does not wait; settling twice throws and keeps the first value.
 * - future 2. A waiter cancelled before it takes the error leaves no trace.
 *
 * A failing property prints the shrunk program and the events of its run,
 * e.g. `capacity 0, driver work | p0: send ×2 [yield] | c0: tryReceive
 * until closed [] | c1: receive until closed [] | cancel c1 once woken
 * after 0 steps` with "1 values buffered in a channel of capacity 0, only
 * 0 of them left by cancelled receivers" (a bug these properties found in
 * the earlier design, where a cancelled receiver gave its value back: a
 * take-back held the buffer over capacity, and a receive then moved a
 * waiting sender's value in as well; they also found a wait that failed
 * at once reported as an error after its task was cancelled, and several
 * take-backs coming out in reverse). Each property makes 3000
 * programs (about 10 s for the file); set PROPERTY_RUNS=50000 to search
 * longer.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  Channel,
  ChannelClosedError,
  Future,
  Semaphore,
  sleep,
  type Task,
  VirtualClock,
  Worker,
  WouldBlockError,
} from "../src/index.ts";

// ------------------------------------------------------------ common parts

/** What a task does between two operations. */
type Pause = "none" | "yield" | "sleep";
const pauseArb = fc.constantFrom<Pause>("none", "yield", "sleep");

function* pause(p: Pause): Generator<unknown, void, unknown> {
  if (p === "yield") yield;
  else if (p === "sleep") yield sleep(1);
}

/** The pause before operation `i`: the list is used round and round. */
function pauseAt(pauses: readonly Pause[], i: number): Pause {
  return pauses.length === 0 ? "none" : (pauses[i % pauses.length] as Pause);
}

/** How the worker is driven. */
type Driver = "work" | "tick" | "run";
const driverArb = fc.constantFrom<Driver>("work", "tick", "run");

/**
 * A cancel of task `target` (or, when it is the number of tasks, of every
 * task at once, oldest first, as `cancelAll()` or a parent's cancel would)
 * once the worker has taken `afterSteps` steps. With `when: "woken"`, only
 * once the target was also woken inside an operation and has not yet taken
 * the outcome (what a cancelled waiter must not lose), or 200 steps later
 * if that never happens; with "woken late", the same once the program's
 * end has come (the channel closed, the future settled), when operations
 * fail or finish at once.
 */
interface CancelDef {
  target: number;
  afterSteps: number;
  when: "steps" | "woken" | "woken late";
  /** From outside between ticks (under tick() only; otherwise the controller task makes it). */
  outside: boolean;
}

/** Up to three cancels; `late`: the program has an end for "woken late" to wait for. */
function cancelsArb(late: boolean): fc.Arbitrary<CancelDef[]> {
  const when: CancelDef["when"][] = late ? ["steps", "woken", "woken late"] : ["steps", "woken"];
  return fc.array(
    fc.record({
      target: fc.nat(6),
      afterSteps: fc.nat(60),
      when: fc.constantFrom(...when),
      outside: fc.boolean(),
    }),
    { maxLength: 3 },
  );
}

/** What plain code does between ticks, once `due()` (not before `afterSteps` steps). */
interface OutsideAction {
  afterSteps: number;
  due: () => boolean;
  act: () => void;
}

/** Cancels pointing at existing tasks (or at all, `tasks`), in order of time. */
function normalizeCancels(cancels: readonly CancelDef[], tasks: number): CancelDef[] {
  return cancels
    .map((c) => ({ ...c, target: c.target % (tasks + 1) }))
    .sort((a, b) => a.afterSteps - b.afterSteps);
}

/** `cancel c1 once woken after 5 steps (outside)`; `end` names the program's end. */
function showCancels(cancels: readonly CancelDef[], names: readonly string[], end = ""): string[] {
  return cancels.map((c) => {
    const when =
      c.when === "steps" ? "" : c.when === "woken" ? "once woken " : `once woken after ${end} and `;
    return `cancel ${names[c.target] ?? "every task"} ${when}after ${c.afterSteps} steps${c.outside ? " (outside)" : ""}`;
  });
}

/** Gives a program its readable form in fast-check's counterexample report. */
function printable<P extends object>(program: P, show: (p: P) => string): P {
  return Object.assign(program, { [fc.toStringMethod]: () => show(program) });
}

/** A task of the program, and what it is doing now as the test sees it. */
interface Role {
  readonly name: string;
  task: Task<unknown>;
  /** The operation it is inside ("send", "receive", "acquire", "hold", "wait"), or null. */
  op: string | null;
  /** The value it is sending, for producers. */
  value: string | null;
  /** Set when the test cancelled it: when, and what it was doing then. */
  cancel: { seq: number; op: string | null; state: string; value: string | null } | null;
}

/** Steps after which a task that loops gives up: the program has a livelock. */
const STEP_LIMIT = 20_000;

/**
 * One run of a program: a worker on a virtual clock, the tasks (roles), a
 * logical clock for events, and the problems found, by kind.
 */
abstract class Run {
  readonly clock = new VirtualClock();
  /**
   * No task of these programs fails on purpose, so every error the worker
   * reports is a problem: for a task the test cancelled, a trace the cancel
   * left behind ("trace"); otherwise a failure of the run ("left").
   */
  readonly worker = new Worker({
    clock: this.clock,
    onError: (error, task) => {
      const role = this.roles.find((r) => r.task === task);
      const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (role?.cancel != null) {
        this.problem("trace", `${task.name}, cancelled, left an error reported: ${what}`);
      } else {
        this.problem("left", `${task.name} failed: ${error instanceof Error ? error.stack : what}`);
      }
    },
  });
  readonly roles: Role[] = [];

  /** Adds a role named `name` whose task runs the routine `body(role)` makes. */
  addRole(name: string, body: (role: Role) => Generator<unknown, unknown, any>): void {
    const role: Role = {
      name,
      task: null as unknown as Task<unknown>,
      op: null,
      value: null,
      cancel: null,
    };
    this.roles.push(role);
    role.task = this.worker.assign(body(role), { name });
  }

  /** Problems by kind; each property checks some kinds. */
  readonly problems = new Map<string, string[]>();
  readonly trace: string[] = [];
  /** The steps taken when the program's end came (the channel closed, the future settled). */
  endedAtStep: number | null = null;
  #seq = 0;

  /** Records an event and returns its number on the logical clock. */
  event(line: string): number {
    const seq = ++this.#seq;
    this.trace.push(`${seq} ${line}`);
    this.invariant();
    return seq;
  }

  problem(kind: string, text: string): void {
    let list = this.problems.get(kind);
    if (list === undefined) {
      list = [];
      this.problems.set(kind, list);
    }
    if (list.length < 5) list.push(text);
    this.trace.push(`  !! ${text}`);
  }

  get steps(): number {
    return this.worker.counters.steps;
  }

  /** Throws if the program runs much longer than any program should. */
  guard(): void {
    if (this.steps > STEP_LIMIT) throw new Error(`livelock: over ${STEP_LIMIT} steps`);
  }

  /** What must hold at every moment; called at every event and between ticks. */
  abstract invariant(): void;

  /** Another role that waits (parked) inside operation `op`, if any. */
  waiterIn(op: string, except: Role): Role | undefined {
    return this.roles.find((r) => r !== except && r.op === op && r.task.state === "waiting");
  }

  cancelRole(role: Role, by: string): void {
    if (role.task.isDone() || role.cancel !== null) return;
    const state = role.task.state;
    const seq = this.event(
      `${by} cancels ${role.name} (in ${role.op ?? "no operation"}, ${state})`,
    );
    role.cancel = { seq, op: role.op, state, value: role.value };
    this.cancelTask(role);
    this.invariant();
  }

  /** Cancels the role's task (role.cancel is set). */
  cancelTask(role: Role): void {
    role.task.cancel();
  }

  /** Whether the time for cancel `c` has come. */
  due(c: CancelDef): boolean {
    if (this.steps < c.afterSteps) return false;
    if (c.when === "steps") return true;
    let from = c.afterSteps;
    if (c.when === "woken late") {
      if (this.endedAtStep === null) return false;
      from = Math.max(from, this.endedAtStep);
    }
    if (this.steps >= from + 200) return true;
    return this.targets(c).some((role) => {
      const waitingOp = role.op !== null && role.op !== "hold";
      return role.task.isDone() || (waitingOp && role.task.state === "runnable");
    });
  }

  /** The roles cancel `c` hits. */
  targets(c: CancelDef): Role[] {
    const role = this.roles[c.target];
    return role === undefined ? this.roles : [role];
  }

  /** Makes cancel `c`. */
  cancelNow(c: CancelDef, by: string): void {
    for (const role of this.targets(c)) this.cancelRole(role, by);
  }

  /**
   * The controller's part: the cancels it makes (all of them under work()
   * and run(), the others under tick()). It polls with `yield` while other
   * tasks are runnable, and sleeps when none is, so that time moves on.
   */
  *cancelling(cancels: readonly CancelDef[], driver: Driver): Generator<unknown, void, unknown> {
    for (const c of cancels) {
      if (c.outside && driver === "tick") continue;
      while (!this.due(c)) {
        const busy = this.roles.some((r) => r.task.state === "runnable");
        yield busy ? undefined : sleep(1);
      }
      this.cancelNow(c, "controller");
    }
  }

  /** The cancels made from outside between ticks (under tick() only). */
  outsideCancels(cancels: readonly CancelDef[], driver: Driver): OutsideAction[] {
    return cancels
      .filter((c) => c.outside && driver === "tick")
      .map((c) => ({
        afterSteps: c.afterSteps,
        due: () => this.due(c),
        act: () => this.cancelNow(c, "outside"),
      }));
  }

  /**
   * Runs the worker to the end with the driver. `outside` holds what plain
   * code does between ticks (only under tick()), in order; when nothing is
   * runnable the next of those happens at once, else the clock moves one
   * second (every deadline is a whole second).
   */
  async drive(driver: Driver, outside: readonly OutsideAction[]): Promise<void> {
    try {
      if (driver === "work") {
        this.worker.work();
      } else if (driver === "run") {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stuck = new Promise<"stuck">((resolve) => {
          timer = setTimeout(() => resolve("stuck"), 2000);
        });
        const ended = await Promise.race([this.worker.run(), stuck]);
        clearTimeout(timer);
        if (ended === "stuck") {
          this.problem("left", `run() did not return: ${this.worker.dump()}`);
          this.worker.cancelAll();
        }
      } else {
        let next = 0;
        let idle = 0;
        for (;;) {
          while (next < outside.length && outside[next]?.due() === true) outside[next++]?.act();
          this.invariant();
          if (this.worker.tick()) {
            idle = 0;
            this.guard();
            continue;
          }
          if (next < outside.length) {
            outside[next++]?.act();
            continue;
          }
          if (this.worker.tasks.length === 0) break;
          if (++idle > 3) {
            this.problem("left", `stuck under tick(): ${this.worker.dump()}`);
            break;
          }
          this.clock.advance(1);
        }
      }
    } catch (error) {
      if (!(error instanceof WouldBlockError)) throw error;
      this.problem("left", error.message);
    }
    if (this.worker.tasks.length > 0) this.problem("left", `tasks left: ${this.worker.dump()}`);
    for (const role of this.roles) {
      if (!role.task.isDone()) this.problem("left", `${role.name} is ${role.task.state}`);
    }
  }

  /** Fails with the problems of these kinds (and tasks left), and the run's events. */
  assertNo(...kinds: string[]): void {
    const found = ["left", ...kinds].flatMap((k) => this.problems.get(k) ?? []);
    if (found.length > 0) assert.fail(`${found.join("\n")}\nevents:\n${this.trace.join("\n")}`);
  }
}

/** Programs per property; PROPERTY_RUNS=50000 searches longer. */
const { PROPERTY_RUNS } = process.env;
const RUNS = Number(PROPERTY_RUNS ?? 3000);

// ---------------------------------------------------------------- channels

type SendStyle = "send" | "yield send" | "trySend";
type ReceiveStyle = "receive" | "yield receive" | "tryReceive";

interface ProducerDef {
  style: SendStyle;
  /** Sends `name#0` ... `name#(count-1)`. */
  count: number;
  pauses: Pause[];
}

interface ConsumerDef {
  style: ReceiveStyle;
  /** How many values it takes; null: until the channel is closed and drained. */
  limit: number | null;
  pauses: Pause[];
}

interface ChannelProgram {
  capacity: number;
  producers: ProducerDef[];
  consumers: ConsumerDef[];
  /** Targets number the producers first, then the consumers. */
  cancels: CancelDef[];
  driver: Driver;
}

const channelProgramArb: fc.Arbitrary<ChannelProgram> = fc
  .record({
    capacity: fc.nat(3),
    producers: fc.array(
      fc.record({
        style: fc.constantFrom<SendStyle>("send", "yield send", "trySend"),
        count: fc.nat(4),
        pauses: fc.array(pauseArb, { maxLength: 3 }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    consumers: fc.array(
      fc.record({
        style: fc.constantFrom<ReceiveStyle>("receive", "yield receive", "tryReceive"),
        limit: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }),
        pauses: fc.array(pauseArb, { maxLength: 3 }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    cancels: cancelsArb(true),
    driver: driverArb,
  })
  .map((p) =>
    printable(
      { ...p, cancels: normalizeCancels(p.cancels, p.producers.length + p.consumers.length) },
      showChannelProgram,
    ),
  );

function channelNames(program: ChannelProgram): string[] {
  return [...program.producers.map((_, i) => `p${i}`), ...program.consumers.map((_, i) => `c${i}`)];
}

/** `capacity 1, driver work | p0: trySend ×2 [yield] | c0: receive until closed [] | cancel c0 after 4 steps` */
function showChannelProgram(program: ChannelProgram): string {
  const names = channelNames(program);
  const producers = program.producers.map(
    (p, i) => `p${i}: ${p.style} ×${p.count} [${p.pauses.join(", ")}]`,
  );
  const consumers = program.consumers.map(
    (c, i) =>
      `c${i}: ${c.style} ${c.limit === null ? "until closed" : `×${c.limit}`} [${c.pauses.join(", ")}]`,
  );
  return [
    `capacity ${program.capacity}, driver ${program.driver}`,
    ...producers,
    ...consumers,
    ...showCancels(program.cancels, names, "the channel closes"),
  ].join(" | ");
}

/** One receive (or successful tryReceive): when it started and ended, and what it got. */
interface ReceiveRecord {
  consumer: string;
  style: ReceiveStyle;
  start: number;
  done: number;
  /** Whether it waited (known for `yield*` receives; tryReceive never waits). */
  parked: boolean | null;
  /** The value, or null when it failed because the channel was closed. */
  value: string | null;
}

/** One `yield* send` that resumed: when it started and ended, and whether it waited. */
interface SendRecord {
  producer: string;
  start: number;
  done: number;
  parked: boolean;
}

class ChannelRun extends Run {
  readonly program: ChannelProgram;
  readonly channel: Channel<string>;
  readonly receives: ReceiveRecord[] = [];
  readonly sends: SendRecord[] = [];
  /** When each value's send started. */
  readonly sendStart = new Map<string, number>();
  /** Values whose send completed. */
  readonly sent = new Set<string>();
  /** Left in the channel at the end, in order. */
  readonly drained: string[] = [];
  /**
   * How far the buffer may be over capacity: values left free by woken
   * receivers cancelled before they ran (while no other receiver waited),
   * less one for each receive from the buffer since.
   */
  leftByCancelled = 0;
  closedAt: number | null = null;

  constructor(program: ChannelProgram) {
    super();
    this.program = program;
    this.channel = new Channel<string>(program.capacity);
    const names = channelNames(program);
    const producers = program.producers.length;
    names.forEach((name, i) => {
      this.addRole(name, (role) =>
        i < producers
          ? this.producer(role, program.producers[i] as ProducerDef)
          : this.consumer(role, program.consumers[i - producers] as ConsumerDef),
      );
    });
    this.worker.assign(this.cancelling(program.cancels, program.driver), { name: "controller" });
    this.worker.assign(this.closer(), { name: "closer" });
  }

  async execute(): Promise<this> {
    const { cancels, driver } = this.program;
    await this.drive(driver, this.outsideCancels(cancels, driver));
    for (let r = this.channel.tryReceive(); r.ok; r = this.channel.tryReceive()) {
      this.drained.push(r.value);
      if (this.drained.length > 100) break;
    }
    this.event(`left in the channel: ${this.drained.join(" ") || "nothing"}`);
    this.checkDelivery();
    this.checkOrder();
    this.invariant();
    return this;
  }

  /** channel 5: the buffer is over capacity only by values cancelled receivers left. */
  override invariant(): void {
    const { size } = this.channel;
    const { capacity } = this.program;
    if (size > capacity + this.leftByCancelled) {
      this.problem(
        "capacity",
        `${size} values buffered in a channel of capacity ${capacity}, only ${this.leftByCancelled} of them left by cancelled receivers`,
      );
    }
  }

  /** channel 5: only a woken receiver's cancel adds to the buffer, one value at most, and none while another receiver waits. */
  override cancelTask(role: Role): void {
    const { size } = this.channel;
    const waiter = this.waiterIn("receive", role);
    role.task.cancel();
    const grew = this.channel.size - size;
    const woken = role.cancel?.op === "receive" && role.cancel.state !== "waiting";
    if (grew > 0 && !woken)
      this.problem("capacity", `cancelling ${role.name} put ${grew} values in the buffer`);
    if (grew > 1)
      this.problem("capacity", `cancelling ${role.name}, woken, put ${grew} values in the buffer`);
    if (grew > 0 && waiter !== undefined)
      this.problem(
        "capacity",
        `cancelling ${role.name}, woken, left its value in the buffer though ${waiter.name} waited to receive`,
      );
    if (grew < 0)
      this.problem("capacity", `cancelling ${role.name} took ${-grew} values from the buffer`);
    this.leftByCancelled += Math.max(grew, 0);
  }

  /** Called just before a receive: one that takes from the buffer takes it back under capacity by one. */
  receiving(): void {
    if (this.channel.size > 0 && this.leftByCancelled > 0) this.leftByCancelled--;
  }

  /** Closes the channel once every producer or every consumer has ended. */
  *closer(): Generator<unknown, void, unknown> {
    const producers = this.roles.filter((r) => r.name.startsWith("p"));
    const consumers = this.roles.filter((r) => r.name.startsWith("c"));
    for (let polls = 0; polls < 200; polls++) {
      if (producers.every((r) => r.task.isDone()) || consumers.every((r) => r.task.isDone())) break;
      yield sleep(1);
    }
    this.closedAt = this.event("closer closes the channel");
    this.endedAtStep = this.steps;
    this.channel.close();
    this.invariant();
  }

  *producer(role: Role, def: ProducerDef): Generator<unknown, void, unknown> {
    try {
      for (let i = 0; i < def.count; i++) {
        yield* pause(pauseAt(def.pauses, i));
        const value = `${role.name}#${i}`;
        role.value = value;
        const start = this.event(`${role.name} ${def.style} ${value}`);
        this.sendStart.set(value, start);
        if (def.style === "trySend") {
          while (!this.channel.trySend(value)) {
            this.checkTrySendFailed(role);
            this.guard();
            yield sleep(1);
          }
          this.sent.add(value);
          this.event(`${role.name} sent ${value}`);
          this.checkNoBarging(role, "send", `trySend(${value}) succeeded`);
        } else {
          role.op = "send";
          const before = this.steps;
          if (def.style === "send") yield* this.channel.send(value);
          else yield this.channel.send(value);
          role.op = null;
          this.sent.add(value);
          const done = this.event(`${role.name} sent ${value}`);
          if (def.style === "send") {
            const parked = this.steps !== before;
            this.sends.push({ producer: role.name, start, done, parked });
            if (!parked) this.checkNoBarging(role, "send", `send(${value}) went through at once`);
          }
        }
        this.invariant();
      }
    } catch (error) {
      if (!(error instanceof ChannelClosedError)) throw error;
      this.event(`${role.name} found the channel closed`);
    } finally {
      role.op = null;
      role.value = null;
    }
  }

  *consumer(role: Role, def: ConsumerDef): Generator<unknown, void, unknown> {
    for (let i = 0; def.limit === null || i < def.limit; i++) {
      yield* pause(pauseAt(def.pauses, i));
      if (def.style === "tryReceive") {
        for (;;) {
          this.receiving();
          const r = this.channel.tryReceive();
          if (r.ok) {
            const seq = this.event(`${role.name} tryReceive got ${r.value}`);
            this.receives.push({
              consumer: role.name,
              style: def.style,
              start: seq,
              done: seq,
              parked: null,
              value: r.value,
            });
            this.checkNoBarging(role, "receive", `tryReceive() got ${r.value}`);
            this.invariant();
            break;
          }
          if (this.channel.closed) {
            this.event(`${role.name} tryReceive found the channel closed and drained`);
            return;
          }
          this.checkTryReceiveFailed(role);
          this.guard();
          yield sleep(1);
        }
        continue;
      }
      const start = this.event(`${role.name} ${def.style}`);
      role.op = "receive";
      const before = this.steps;
      let value: string | null;
      this.receiving();
      try {
        if (def.style === "receive") value = yield* this.channel.receive();
        else value = (yield this.channel.receive()) as string;
      } catch (error) {
        if (!(error instanceof ChannelClosedError)) throw error;
        value = null;
      } finally {
        role.op = null;
      }
      const parked = def.style === "receive" ? this.steps !== before : null;
      const done = this.event(
        `${role.name} ${value === null ? "found the channel closed" : `got ${value}`}`,
      );
      this.receives.push({ consumer: role.name, style: def.style, start, done, parked, value });
      if (value === null) return;
      if (parked === false) this.checkNoBarging(role, "receive", `receive() got ${value} at once`);
      this.invariant();
    }
  }

  /** No other task may wait in `op` when `role` got through without waiting. */
  checkNoBarging(role: Role, op: string, what: string): void {
    const waiter = this.waiterIn(op, role);
    if (waiter !== undefined)
      this.problem("barging", `${role.name}: ${what} while ${waiter.name} waited to ${op}`);
  }

  checkTrySendFailed(role: Role): void {
    const receiver = this.waiterIn("receive", role);
    if (receiver !== undefined)
      this.problem(
        "barging",
        `${role.name}: trySend() failed while ${receiver.name} waited to receive`,
      );
    if (this.channel.size < this.program.capacity)
      this.problem(
        "barging",
        `${role.name}: trySend() failed with ${this.channel.size}/${this.program.capacity} buffered`,
      );
  }

  checkTryReceiveFailed(role: Role): void {
    const sender = this.waiterIn("send", role);
    if (sender !== undefined)
      this.problem(
        "barging",
        `${role.name}: tryReceive() failed while ${sender.name} waited to send`,
      );
    if (this.channel.size > 0)
      this.problem(
        "barging",
        `${role.name}: tryReceive() failed with ${this.channel.size} buffered`,
      );
  }

  /** channel 1: each value received at most once; completed sends delivered; cancelled sends by the rules. */
  checkDelivery(): void {
    const delivered = new Map<string, number>();
    for (const v of [
      ...this.receives.flatMap((r) => (r.value === null ? [] : [r.value])),
      ...this.drained,
    ])
      delivered.set(v, (delivered.get(v) ?? 0) + 1);
    for (const [v, n] of delivered) {
      if (n > 1) this.problem("delivery", `${v} was delivered ${n} times`);
      if (!this.sendStart.has(v)) this.problem("delivery", `${v} was delivered but never sent`);
    }
    for (const v of this.sent) {
      if (!delivered.has(v))
        this.problem("delivery", `${v} was sent but is neither received nor buffered: lost`);
    }
    for (const role of this.roles) {
      const c = role.cancel;
      if (c === null || c.op !== "send" || c.value === null) continue;
      if (c.state === "waiting" && delivered.has(c.value))
        this.problem(
          "delivery",
          `${role.name} was cancelled while it waited to send ${c.value}, yet ${c.value} was delivered`,
        );
      const closedBefore = this.closedAt !== null && this.closedAt < c.seq;
      if (c.state !== "waiting" && !closedBefore && !delivered.has(c.value))
        this.problem(
          "delivery",
          `${c.value} was taken from ${role.name} (cancelled after), yet never delivered`,
        );
    }
    for (const v of delivered.keys()) {
      if (this.sent.has(v)) continue;
      const owner = this.roles.find((r) => r.cancel?.value === v && r.cancel.op === "send");
      if (owner === undefined)
        this.problem(
          "delivery",
          `${v} was delivered though its send did not complete and was not cancelled`,
        );
    }
  }

  /** channel 2: parked operations resume in the order they started; channel 3: per producer, values taken strictly in order. */
  checkOrder(): void {
    const parkedReceives = this.receives.filter((r) => r.parked === true);
    checkFifo(
      this,
      "receive",
      parkedReceives.map((r) => ({ who: r.consumer, start: r.start, done: r.done })),
      "fifo",
    );
    checkFifo(
      this,
      "send",
      this.sends
        .filter((s) => s.parked)
        .map((s) => ({ who: s.producer, start: s.start, done: s.done })),
      "fifo",
    );
    // Per producer, values are taken strictly in the order sent: a receive's value is taken in
    // the step where its event `done` is recorded, so an earlier value has an earlier `done`.
    const got = this.receives.filter((r) => r.value !== null);
    for (const b of got) {
      const [pb, ib] = parseValue(b.value as string);
      for (const a of got) {
        const [pa, ia] = parseValue(a.value as string);
        if (pa === pb && ia < ib && b.done < a.done)
          this.problem(
            "order",
            `${b.value} (by ${b.consumer} at ${b.done}) was taken before ${a.value} (by ${a.consumer} at ${a.done})`,
          );
      }
      for (const v of this.drained) {
        const [q, j] = parseValue(v);
        if (q === pb && j < ib)
          this.problem("order", `${v} was still in the channel after ${b.value} was taken`);
      }
    }
    // Left in the channel: in order.
    for (let k = 1; k < this.drained.length; k++) {
      const [p, i] = parseValue(this.drained[k - 1] as string);
      const [q, j] = parseValue(this.drained[k] as string);
      if (p === q && j < i)
        this.problem("order", `left in the channel out of order: ${this.drained.join(" ")}`);
    }
  }
}

/** `p1#3` → ["p1", 3]. */
function parseValue(value: string): [string, number] {
  const [p, i] = value.split("#");
  return [p as string, Number(i)];
}

/** Operations that waited resume in the order they started (first in, first out). */
function checkFifo(
  run: Run,
  what: string,
  ops: readonly { who: string; start: number; done: number }[],
  kind = "order",
): void {
  const sorted = [...ops].sort((a, b) => a.start - b.start);
  for (let k = 1; k < sorted.length; k++) {
    const a = sorted[k - 1] as (typeof sorted)[number];
    const b = sorted[k] as (typeof sorted)[number];
    if (b.done < a.done)
      run.problem(
        kind,
        `${b.who} (${what} from ${b.start}) was served before ${a.who} (${what} from ${a.start}), who waited longer`,
      );
  }
}

async function channelRun(program: ChannelProgram): Promise<ChannelRun> {
  return new ChannelRun(program).execute();
}

const channelProperty = (...kinds: string[]) =>
  fc.assert(
    fc.asyncProperty(channelProgramArb, async (program) => {
      (await channelRun(program)).assertNo(...kinds);
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );

test("channel 1. every value sent is received exactly once or still buffered; a cancelled send sends nothing", async () => {
  await channelProperty("delivery");
});

test("channel 2. receivers that wait are served first in first out, and so are senders", async () => {
  await channelProperty("fifo");
});

test("channel 3. each producer's values are taken strictly in the order sent, whoever is cancelled in between", async () => {
  await channelProperty("order");
});

test("channel 4. no barging: nothing gets through while another task waits for it; a try fails only when it must", async () => {
  await channelProperty("barging");
});

test("channel 5. the buffer holds at most its capacity, plus values left by woken receivers cancelled while no other receiver waited", async () => {
  await channelProperty("capacity");
});

test("channel 6. a task cancelled inside a receive or a send leaves no trace: no error is reported for it", async () => {
  await channelProperty("trace");
});

// -------------------------------------------------------------- semaphores

type AcquireStyle = "acquire" | "yield acquire" | "withPermit" | "tryAcquire";

/** One use of the semaphore: a pause, ask for a permit, hold it across pauses, give it back. */
interface UseDef {
  style: AcquireStyle;
  before: Pause;
  hold: Pause[];
}

interface SemaphoreProgram {
  permits: number;
  /** Each task's uses, one after another. */
  tasks: UseDef[][];
  cancels: CancelDef[];
  driver: Driver;
}

const semaphoreProgramArb: fc.Arbitrary<SemaphoreProgram> = fc
  .record({
    permits: fc.integer({ min: 1, max: 3 }),
    tasks: fc.array(
      fc.array(
        fc.record({
          style: fc.constantFrom<AcquireStyle>(
            "acquire",
            "yield acquire",
            "withPermit",
            "tryAcquire",
          ),
          before: pauseArb,
          hold: fc.array(pauseArb, { maxLength: 3 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      { minLength: 1, maxLength: 5 },
    ),
    cancels: cancelsArb(false),
    driver: driverArb,
  })
  .map((p) =>
    printable({ ...p, cancels: normalizeCancels(p.cancels, p.tasks.length) }, showSemaphoreProgram),
  );

/** `permits 1, driver tick | t0: yield acquire [sleep], none tryAcquire [] | t1: none withPermit [yield] | cancel t0 after 3 steps` */
function showSemaphoreProgram(program: SemaphoreProgram): string {
  const use = (u: UseDef) => `${u.before} ${u.style} [${u.hold.join(", ")}]`;
  return [
    `permits ${program.permits}, driver ${program.driver}`,
    ...program.tasks.map((uses, i) => `t${i}: ${uses.map(use).join(", ")}`),
    ...showCancels(
      program.cancels,
      program.tasks.map((_, i) => `t${i}`),
    ),
  ].join(" | ");
}

/** An acquire that waited: when it asked, and when its task went on holding the permit. */
interface Acquisition {
  who: string;
  style: AcquireStyle;
  start: number;
  done: number;
}

class SemaphoreRun extends Run {
  readonly program: SemaphoreProgram;
  readonly semaphore: Semaphore;
  /** Tasks holding a permit now, as the test counts them. */
  holders = 0;
  readonly waited: Acquisition[] = [];

  constructor(program: SemaphoreProgram) {
    super();
    this.program = program;
    this.semaphore = new Semaphore(program.permits);
    program.tasks.forEach((uses, i) => {
      this.addRole(`t${i}`, (role) => this.user(role, uses));
    });
    this.worker.assign(this.cancelling(program.cancels, program.driver), { name: "controller" });
  }

  async execute(): Promise<this> {
    const { cancels, driver, permits } = this.program;
    await this.drive(driver, this.outsideCancels(cancels, driver));
    const { available } = this.semaphore;
    if (available !== permits)
      this.problem("holders", `${permits - available} of ${permits} permits were never given back`);
    if (this.holders !== 0) this.problem("holders", `${this.holders} tasks still hold a permit`);
    // Plain acquires are compared among themselves, and withPermit bodies among themselves
    // (a body may start a step after its acquire returned).
    const plain = this.waited.filter((a) => a.style !== "withPermit");
    checkFifo(this, "acquire", plain, "fifo");
    checkFifo(
      this,
      "withPermit",
      this.waited.filter((a) => a.style === "withPermit"),
      "fifo",
    );
    return this;
  }

  /** Holders never outnumber the permits taken, and no permit is free while a task waits for one. */
  override invariant(): void {
    const { available, permits } = this.semaphore;
    if (available < 0 || available > permits)
      this.problem("holders", `available is ${available} of ${permits}`);
    if (this.holders > permits - available) {
      this.problem(
        "holders",
        `${this.holders} tasks hold a permit, but only ${permits - available} of ${permits} are taken`,
      );
    }
    const waiter = this.roles.find((r) => r.op === "acquire" && r.task.state === "waiting");
    if (available > 0 && waiter !== undefined)
      this.problem("fifo", `${available} permits are free while ${waiter.name} waits for one`);
  }

  *user(role: Role, uses: readonly UseDef[]): Generator<unknown, void, unknown> {
    for (const use of uses) {
      yield* pause(use.before);
      try {
        yield* this.use(role, use);
      } finally {
        role.op = null;
      }
    }
  }

  *use(role: Role, use: UseDef): Generator<unknown, void, unknown> {
    const { semaphore } = this;
    const free = semaphore.available;
    const waiter = this.roles.find(
      (r) => r !== role && r.op === "acquire" && r.task.state === "waiting",
    );
    if (use.style === "tryAcquire") {
      if (!semaphore.tryAcquire()) {
        this.event(`${role.name} tryAcquire failed`);
        if (free > 0 && waiter === undefined)
          this.problem(
            "fifo",
            `${role.name}: tryAcquire() failed with ${free} permits free and nobody waiting`,
          );
        return;
      }
      this.event(`${role.name} tryAcquire got a permit`);
      if (waiter !== undefined)
        this.problem(
          "fifo",
          `${role.name}: tryAcquire() took a permit while ${waiter.name} waited`,
        );
      try {
        yield* this.hold(role, use);
      } finally {
        semaphore.release();
      }
      return;
    }
    // An acquire waits exactly when no permit is free.
    const waits = free === 0;
    const start = this.event(`${role.name} ${use.style}${waits ? " (waits)" : ""}`);
    role.op = "acquire";
    const acquired = () => {
      const done = this.event(`${role.name} holds a permit (${use.style})`);
      if (waits) this.waited.push({ who: role.name, style: use.style, start, done });
    };
    if (use.style === "withPermit") {
      yield* semaphore.withPermit(this.hold(role, use, acquired));
      return;
    }
    const before = this.steps;
    if (use.style === "acquire") yield* semaphore.acquire();
    else yield semaphore.acquire();
    if (use.style === "acquire" && this.steps !== before && !waits)
      this.problem("fifo", `${role.name}: acquire() waited though ${free} permits were free`);
    if (use.style === "acquire" && this.steps === before && waits)
      this.problem("fifo", `${role.name}: acquire() got a permit at once though none was free`);
    acquired();
    try {
      yield* this.hold(role, use);
    } finally {
      semaphore.release();
    }
  }

  *hold(role: Role, use: UseDef, acquired?: () => void): Generator<unknown, void, unknown> {
    acquired?.();
    role.op = "hold";
    this.holders++;
    this.invariant();
    try {
      for (const p of use.hold) yield* pause(p);
    } finally {
      this.holders--;
      role.op = null;
      this.event(`${role.name} lets go of its permit`);
    }
  }
}

const semaphoreProperty = (...kinds: string[]) =>
  fc.assert(
    fc.asyncProperty(semaphoreProgramArb, async (program) => {
      (await new SemaphoreRun(program).execute()).assertNo(...kinds);
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );

test("semaphore 1. never more holders than permits taken, no permit leaks, and cancelled tasks leave no trace", async () => {
  await semaphoreProperty("holders", "trace");
});

test("semaphore 2. waiters acquire first in first out, and a free permit never goes to a later tryAcquire", async () => {
  await semaphoreProperty("fifo");
});

// ----------------------------------------------------------------- futures

type WaitStyle = "wait" | "yield wait";

interface WaiterDef {
  style: WaitStyle;
  /** How many times it waits on the future. */
  times: number;
  pauses: Pause[];
}

interface FutureProgram {
  waiters: WaiterDef[];
  /** Rejected (with an Error) rather than resolved. */
  reject: boolean;
  settleAfterSteps: number;
  /** Settled from outside between ticks (under tick() only), else by a task. */
  settleOutside: boolean;
  /** A second settle, which must throw. */
  again: "resolve" | "reject" | null;
  cancels: CancelDef[];
  driver: Driver;
}

const futureProgramArb: fc.Arbitrary<FutureProgram> = fc
  .record({
    waiters: fc.array(
      fc.record({
        style: fc.constantFrom<WaitStyle>("wait", "yield wait"),
        times: fc.integer({ min: 1, max: 2 }),
        pauses: fc.array(pauseArb, { maxLength: 2 }),
      }),
      { minLength: 1, maxLength: 5 },
    ),
    reject: fc.boolean(),
    settleAfterSteps: fc.nat(30),
    settleOutside: fc.boolean(),
    again: fc.constantFrom<FutureProgram["again"]>("resolve", "reject", null),
    cancels: cancelsArb(true),
    driver: driverArb,
  })
  .map((p) =>
    printable({ ...p, cancels: normalizeCancels(p.cancels, p.waiters.length) }, showFutureProgram),
  );

/** `driver run | w0: wait ×1 [yield] | reject after 4 steps (outside), then resolve | cancel w0 after 2 steps` */
function showFutureProgram(program: FutureProgram): string {
  const again = program.again === null ? "" : `, then ${program.again}`;
  return [
    `driver ${program.driver}`,
    ...program.waiters.map((w, i) => `w${i}: ${w.style} ×${w.times} [${w.pauses.join(", ")}]`),
    `${program.reject ? "reject" : "resolve"} after ${program.settleAfterSteps} steps${program.settleOutside ? " (outside)" : ""}${again}`,
    ...showCancels(
      program.cancels,
      program.waiters.map((_, i) => `w${i}`),
      "the future is settled",
    ),
  ].join(" | ");
}

/** One wait that ended: when it started and ended, whether it parked, and what it got. */
interface WaitRecord {
  who: string;
  start: number;
  done: number;
  parked: boolean | null;
  ok: boolean;
  got: unknown;
}

class FutureRun extends Run {
  readonly program: FutureProgram;
  readonly future = new Future<object>();
  /** What the future is settled with: a value, or the error it is rejected with. */
  readonly settlement: object;
  settledAt: number | null = null;
  readonly waits: WaitRecord[] = [];

  constructor(program: FutureProgram) {
    super();
    this.program = program;
    this.settlement = program.reject
      ? new Error("the future's error")
      : { value: "the future's value" };
    program.waiters.forEach((def, i) => {
      this.addRole(`w${i}`, (role) => this.waiter(role, def));
    });
    this.worker.assign(this.cancelling(program.cancels, program.driver), { name: "controller" });
    if (!this.settlesOutside) this.worker.assign(this.settler(), { name: "settler" });
  }

  get settlesOutside(): boolean {
    return this.program.settleOutside && this.program.driver === "tick";
  }

  async execute(): Promise<this> {
    const { cancels, driver, settleAfterSteps } = this.program;
    const outside = this.outsideCancels(cancels, driver);
    if (this.settlesOutside) {
      outside.push({
        afterSteps: settleAfterSteps,
        due: () => this.steps >= settleAfterSteps,
        act: () => this.settle("outside"),
      });
      outside.sort((a, b) => a.afterSteps - b.afterSteps);
    }
    await this.drive(driver, outside);
    if (this.settledAt === null) this.problem("future", "the future was never settled");
    for (const [i, role] of this.roles.entries()) {
      const mine = this.waits.filter((w) => w.who === role.name);
      const times = (this.program.waiters[i] as WaiterDef).times;
      if (role.cancel === null && mine.length !== times)
        this.problem(
          "future",
          `${role.name} waited ${times} times but got ${mine.length} outcomes`,
        );
      const cancel = role.cancel;
      const late = cancel === null ? undefined : mine.find((w) => w.done > cancel.seq);
      if (late !== undefined)
        this.problem(
          "future",
          `${role.name} got an outcome at ${late.done}, after it was cancelled`,
        );
    }
    checkFifo(
      this,
      "wait",
      this.waits.filter((w) => w.parked === true),
      "future",
    );
    return this;
  }

  override invariant(): void {}

  settle(by: string): void {
    this.settledAt = this.event(`${by} ${this.program.reject ? "rejects" : "resolves"} the future`);
    this.endedAtStep = this.steps;
    if (this.program.reject) this.future.reject(this.settlement);
    else this.future.resolve(this.settlement);
    if (!this.future.settled) this.problem("future", "the future is not settled after it was");
    const again = this.program.again;
    if (again === null) return;
    let threw = false;
    try {
      if (again === "resolve") this.future.resolve({ value: "a second value" });
      else this.future.reject(new Error("a second error"));
    } catch {
      threw = true;
    }
    this.event(`${by} tries to ${again} it again${threw ? ", which throws" : ""}`);
    if (!threw) this.problem("future", `a second ${again}() did not throw`);
  }

  *settler(): Generator<unknown, void, unknown> {
    while (this.steps < this.program.settleAfterSteps) yield;
    this.settle("settler");
  }

  *waiter(role: Role, def: WaiterDef): Generator<unknown, void, unknown> {
    for (let i = 0; i < def.times; i++) {
      yield* pause(pauseAt(def.pauses, i));
      const settled = this.future.settled;
      const start = this.event(`${role.name} ${def.style}`);
      role.op = "wait";
      const before = this.steps;
      let ok = true;
      let got: unknown;
      try {
        got = def.style === "wait" ? yield* this.future.wait() : yield this.future.wait();
      } catch (error) {
        ok = false;
        got = error;
      } finally {
        role.op = null;
      }
      const done = this.event(`${role.name} got ${ok ? "the value" : "an error"}`);
      const parked = def.style === "wait" ? this.steps !== before : null;
      this.waits.push({ who: role.name, start, done, parked, ok, got });
      if (this.settledAt === null || this.settledAt > done)
        this.problem("future", `${role.name} got an outcome before the future was settled`);
      if (ok === this.program.reject || got !== this.settlement)
        this.problem(
          "future",
          `${role.name} got ${ok ? "a value" : "an error"} that is not what the future was settled with`,
        );
      if (parked !== null && parked === settled)
        this.problem(
          "future",
          `${role.name}: wait() ${parked ? "waited though the future was settled" : "returned at once though it was not settled"}`,
        );
    }
  }
}

const futureProperty = (...kinds: string[]) =>
  fc.assert(
    fc.asyncProperty(futureProgramArb, async (program) => {
      (await new FutureRun(program).execute()).assertNo(...kinds);
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );

test("future 1. each waiter not cancelled gets the value or error exactly once, after it is set, first in first out; settling twice throws", async () => {
  await futureProperty("future");
});

test("future 2. a waiter cancelled before it takes the error leaves no trace: no error is reported for it", async () => {
  await futureProperty("trace");
});
