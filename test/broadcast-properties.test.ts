/**
 * Properties of Broadcast, checked on random programs.
 *
 * fast-check writes small programs: senders that each send their own
 * tagged sequence (`s0#0`, `s0#1`, ...) with `yield* send`, `yield send`,
 * `trySend` retried after a sleep, a `select` of the send and a one-second
 * sleep (retried), or as a chatter, whose every send is a `select` with a
 * receive from its own subscription (it then listens until the end);
 * subscribers that join after a random pause, with a buffer of 1 to 3 and
 * an overflow of "wait", "drop-oldest" or "drop-newest", and read with
 * `receive`, `yield receive`, `each`, a `select` beside a channel nobody
 * sends on, or `tryReceive` retried after a sleep, pausing between values
 * (`yield`, `sleep 1`); a subscriber reads until the broadcast is closed,
 * or takes a few values and then closes its subscription (and reads what
 * it still holds) or, if it drops values, returns with its subscription
 * open; and up to three cancels of senders and subscribers (one, or all at
 * once), after a number of steps, while the target waits inside an
 * operation, or at the moment it was woken inside one but has not yet run
 * (the hard case: a reader promised a value, a send served). A closer
 * closes the broadcast once every sender has made its sends. Each program
 * runs on a real `Worker` with a `VirtualClock`, driven by `work()`,
 * `tick()` (cancels then come from outside between ticks as well) or
 * `await run()`.
 *
 * What was delivered is watched by a witness: a subscription made outside
 * any task, never read, that keeps every value (drop-newest with room for a
 * million, and it drops none). Since a send reaches every subscriber in one
 * moment, the witness's values are the broadcast's whole history, and its
 * size when a subscriber joins and when it leaves (its close(), its task's
 * cancel, the broadcast's close) says exactly which values that subscriber
 * was owed.
 *
 * - broadcast 1. A subscriber that chose "wait" gets exactly the values
 *   sent while it was subscribed, in the order sent, none twice (a
 *   cancelled one gets the first of them, with no gap); one that drops
 *   gets some of them in order, none twice, and when it read to the end,
 *   what it got plus its `dropped` count is all of them. A subscription
 *   is closed as soon as its task is cancelled.
 * - broadcast 2. A send reaches everybody or nobody: every send that
 *   completed, or was served before its task was cancelled, was delivered;
 *   a send cancelled while it waited, or failed by the close, was not;
 *   each sender's values go out in the order sent, none twice. At every
 *   event and between ticks, no subscription holds more than its buffer,
 *   and a send waits only while a subscription that chose to wait is full;
 *   a send never goes through at once while another waits, and a
 *   `trySend` fails only when a send would wait.
 * - broadcast 3. Nothing is left behind: no task, no error reported, no
 *   subscription (the subscriber count is 0 once the broadcast is closed),
 *   and the witness dropped nothing.
 *
 * The chatter is there for one ordering in the broadcast: a send served
 * while it is one case of a select whose other case is a receive from the
 * same broadcast is completed before its value goes out (the other way
 * round, the woken receive would commit the select and withdraw the send
 * in the middle of its delivery; with that change these properties fail
 * within a few hundred programs, as they do when drops go uncounted, a
 * cancelled task's subscription stays open, or a freed slot is not given
 * to a waiting send). Each property makes 3000 programs (about 2 s for
 * the file); set PROPERTY_RUNS=50000 to search longer.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  Broadcast,
  Channel,
  ChannelClosedError,
  each,
  type Subscription,
  select,
  sleep,
  type Task,
  VirtualClock,
  Worker,
  WouldBlockError,
} from "../src/index.ts";

type Pause = "none" | "yield" | "sleep";
const pauseArb = fc.constantFrom<Pause>("none", "yield", "sleep");
/** Readers pause more than senders, and mostly join early, so that sends often wait for room. */
const readerPauseArb = fc.constantFrom<Pause>("none", "yield", "sleep", "sleep");
const joinPauseArb = fc.constantFrom<Pause>("none", "none", "yield", "sleep");

function* pause(p: Pause): Generator<unknown, void, unknown> {
  if (p === "yield") yield;
  else if (p === "sleep") yield sleep(1);
}

function pauseAt(pauses: readonly Pause[], i: number): Pause {
  return pauses.length === 0 ? "none" : (pauses[i % pauses.length] as Pause);
}

type Driver = "work" | "tick" | "run";
type SendStyle = "send" | "yield send" | "trySend" | "select" | "chat";
type ReadStyle = "receive" | "yield receive" | "each" | "select" | "tryReceive";
type Overflow = "wait" | "drop-oldest" | "drop-newest";
/** How a subscriber leaves: reads until closed, or after `limit` values closes (then drains) or returns. */
type Leave = "until closed" | "close" | "return";

interface SenderDef {
  style: SendStyle;
  count: number;
  pauses: Pause[];
}

interface SubscriberDef {
  join: Pause[];
  buffer: number;
  overflow: Overflow;
  style: ReadStyle;
  leave: Leave;
  limit: number;
  pauses: Pause[];
}

interface CancelDef {
  /** Senders first, then subscribers; one past the last: every one of them at once. */
  target: number;
  afterSteps: number;
  /**
   * "waiting": once the target waits inside an operation; "woken": once it was woken inside
   * one and has not run yet (either, or 200 steps later).
   */
  when: "steps" | "waiting" | "woken";
  /** From outside between ticks (under tick() only; otherwise the controller task makes it). */
  outside: boolean;
}

interface Program {
  senders: SenderDef[];
  subscribers: SubscriberDef[];
  cancels: CancelDef[];
  driver: Driver;
}

const programArb: fc.Arbitrary<Program> = fc
  .record({
    senders: fc.array(
      fc.record({
        style: fc.constantFrom<SendStyle>("send", "yield send", "trySend", "select", "chat"),
        count: fc.nat(5),
        pauses: fc.array(pauseArb, { maxLength: 3 }),
      }),
      { minLength: 1, maxLength: 2 },
    ),
    subscribers: fc.array(
      fc.record({
        join: fc.array(joinPauseArb, { maxLength: 2 }),
        buffer: fc.constantFrom(1, 1, 2, 3),
        overflow: fc.constantFrom<Overflow>("wait", "drop-oldest", "drop-newest"),
        style: fc.constantFrom<ReadStyle>(
          "receive",
          "yield receive",
          "each",
          "select",
          "tryReceive",
        ),
        leave: fc.constantFrom<Leave>("until closed", "close", "return"),
        limit: fc.integer({ min: 1, max: 4 }),
        pauses: fc.array(readerPauseArb, { maxLength: 3 }),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    cancels: fc.array(
      fc.record({
        target: fc.nat(6),
        afterSteps: fc.nat(60),
        when: fc.constantFrom<CancelDef["when"]>("steps", "waiting", "woken"),
        outside: fc.boolean(),
      }),
      { maxLength: 3 },
    ),
    driver: fc.constantFrom<Driver>("work", "tick", "run"),
  })
  .map((p) => {
    const roles = p.senders.length + p.subscribers.length;
    const program: Program = {
      ...p,
      // A subscriber that waits must not return with its subscription open: a send waiting for
      // room in it would wait until the broadcast next looks (documented; see broadcast.test.ts).
      // And each() ends only when its subscription is closed.
      subscribers: p.subscribers.map((s) =>
        s.leave === "return" && (s.overflow === "wait" || s.style === "each")
          ? { ...s, leave: "close" as const }
          : s,
      ),
      cancels: p.cancels
        .map((c) => ({ ...c, target: c.target % (roles + 1) }))
        .sort((a, b) => a.afterSteps - b.afterSteps),
    };
    return Object.assign(program, { [fc.toStringMethod]: () => show(program) });
  });

function names(program: Program): string[] {
  return [...program.senders.map((_, i) => `s${i}`), ...program.subscribers.map((_, i) => `r${i}`)];
}

/** `driver work | s0: send ×2 [yield] | r0: buffer 1 wait, each, until closed, join [sleep] [] | cancel r0 once woken after 3 steps` */
function show(program: Program): string {
  const all = names(program);
  return [
    `driver ${program.driver}`,
    ...program.senders.map((s, i) => `s${i}: ${s.style} ×${s.count} [${s.pauses.join(", ")}]`),
    ...program.subscribers.map(
      (s, i) =>
        `r${i}: buffer ${s.buffer} ${s.overflow}, ${s.style}, ${s.leave === "until closed" ? s.leave : `${s.leave} after ${s.limit}`}, join [${s.join.join(", ")}] [${s.pauses.join(", ")}]`,
    ),
    ...program.cancels.map(
      (c) =>
        `cancel ${all[c.target] ?? "every task"} ${c.when === "steps" ? "" : `once ${c.when} `}after ${c.afterSteps} steps${c.outside ? " (outside)" : ""}`,
    ),
  ].join(" | ");
}

/** A task of the program, and what it is doing now as the test sees it. */
interface Role {
  readonly name: string;
  task: Task<unknown>;
  /** "send" or "receive" while inside one; null otherwise. */
  op: string | null;
  /** The value a sender is sending. */
  value: string | null;
  /** When the test cancelled it, and what it was doing then. */
  cancel: { seq: number; op: string | null; state: string; value: string | null } | null;
}

/** What a subscriber was owed and got. */
interface Listener {
  role: Role;
  def: SubscriberDef;
  subscription: Subscription<string> | null;
  /** The witness's size when it joined, and when it left (null: at the broadcast's close, or unknown). */
  start: number;
  end: number | null;
  got: string[];
  /** It read until its subscription was closed and drained. */
  readToEnd: boolean;
}

const STEP_LIMIT = 20_000;

/** How a chatter listens: a buffer of one, waiting, through a select, until the broadcast closes. */
const CHATTER: SubscriberDef = {
  join: [],
  buffer: 1,
  overflow: "wait",
  style: "select",
  leave: "until closed",
  limit: 1,
  pauses: [],
};

class Run {
  readonly clock = new VirtualClock();
  readonly worker = new Worker({
    clock: this.clock,
    onError: (error, task) => {
      const what = error instanceof Error ? (error.stack ?? error.message) : String(error);
      this.problem("left", `${task.name} failed: ${what}`);
    },
  });
  readonly broadcast = new Broadcast<string>();
  /** Made outside any task, never read: every value ever delivered, in order. */
  readonly witness = this.broadcast.subscribe({ buffer: 1_000_000, overflow: "drop-newest" });
  /** A channel nobody sends on, for the select readers. */
  readonly silence = new Channel<string>();
  readonly roles: Role[] = [];
  readonly listeners: Listener[] = [];
  readonly trace: string[] = [];
  readonly problems = new Map<string, string[]>();
  /** Sends that completed, and sends started. */
  readonly sent = new Set<string>();
  readonly started = new Set<string>();
  /** Chatters that have made their sends (and now only listen). */
  readonly doneSending = new Set<Role>();
  closedAt: number | null = null;
  #seq = 0;

  constructor(readonly program: Program) {
    const all = names(program);
    // The subscribers' tasks start first, so that one that joins at once is there for the first send.
    program.subscribers.forEach((def, i) => {
      const listener: Listener = {
        role: null as unknown as Role,
        def,
        subscription: null,
        start: 0,
        end: null,
        got: [],
        readToEnd: false,
      };
      this.listeners.push(listener);
      this.addRole(all[program.senders.length + i] as string, (role) => {
        listener.role = role;
        return this.subscriber(listener);
      });
    });
    program.senders.forEach((def, i) => {
      this.addRole(all[i] as string, (role) => {
        if (def.style !== "chat") return this.sender(role, def);
        // A chatter is a listener too: it reads the broadcast it sends on, in the same select.
        const listener: Listener = {
          role,
          def: { ...CHATTER, pauses: def.pauses },
          subscription: null,
          start: 0,
          end: null,
          got: [],
          readToEnd: false,
        };
        this.listeners.push(listener);
        return this.chatter(listener, def);
      });
    });
    this.roles.sort((x, y) => all.indexOf(x.name) - all.indexOf(y.name)); // senders first, as targets count
    this.worker.assign(this.controller(), { name: "controller" });
    this.worker.assign(this.closer(), { name: "closer" });
  }

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

  event(line: string): number {
    const seq = ++this.#seq;
    this.trace.push(`${seq} ${line}`);
    this.invariant();
    return seq;
  }

  /**
   * broadcast 2, at every event and between ticks: no subscription holds
   * more than its buffer, and a send waits only while a subscription that
   * chose to wait is full.
   */
  invariant(): void {
    let full: string | null = null;
    for (const l of this.listeners) {
      const s = l.subscription;
      if (s === null || s.closed) continue;
      if (s.size > s.capacity)
        this.problem(
          "sends",
          `${l.role.name}'s subscription holds ${s.size} values, over its buffer of ${s.capacity}`,
        );
      if (s.overflow === "wait" && s.size >= s.capacity && !l.role.task.isDone())
        full = l.role.name;
    }
    if (this.broadcast._senders.live > 0 && full === null)
      this.problem("sends", "a send waits though every subscription has room");
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

  guard(): void {
    if (this.steps > STEP_LIMIT) throw new Error(`livelock: over ${STEP_LIMIT} steps`);
  }

  /** How many values have been delivered so far. */
  get delivered(): number {
    return this.witness.size;
  }

  // ------------------------------------------------------------ the roles

  *sender(role: Role, def: SenderDef): Generator<unknown, void, unknown> {
    const b = this.broadcast;
    try {
      for (let i = 0; i < def.count; i++) {
        yield* pause(pauseAt(def.pauses, i));
        const value = `${role.name}#${i}`;
        role.value = value;
        this.started.add(value);
        this.event(`${role.name} ${def.style} ${value}`);
        role.op = "send";
        if (def.style === "send") {
          const before = this.steps;
          yield* b.send(value);
          if (this.steps === before)
            this.checkNoBarging(role, `send(${value}) went through at once`);
        } else if (def.style === "yield send") yield b.send(value);
        else if (def.style === "trySend") {
          while (!b.trySend(value)) {
            this.checkTrySendFailed(role);
            role.op = "retry";
            this.guard();
            yield sleep(1);
            role.op = "send";
          }
          this.checkNoBarging(role, `trySend(${value}) succeeded`);
        } else {
          for (;;) {
            const got = yield* select({ sent: b.send(value), later: sleep(1) });
            if (got.key === "sent") break;
            this.guard();
          }
        }
        role.op = null;
        this.sent.add(value);
        this.event(`${role.name} sent ${value}`);
      }
    } catch (error) {
      if (!(error instanceof ChannelClosedError)) throw error;
      this.event(`${role.name} found the broadcast closed`);
    } finally {
      role.op = null;
    }
  }

  /** A sender that reads the broadcast too: each send is a select with a receive from its own subscription. */
  *chatter(listener: Listener, def: SenderDef): Generator<unknown, void, unknown> {
    const { role } = listener;
    const b = this.broadcast;
    const subscription = b.subscribe();
    listener.subscription = subscription;
    listener.start = this.delivered;
    this.event(`${role.name} subscribes at ${listener.start}`);
    const took = (next: { ok: true; value: string } | { ok: false; closed: boolean }) => {
      if (next.ok) {
        listener.got.push(next.value);
        this.event(`${role.name} got ${next.value}`);
        return true;
      }
      listener.readToEnd = true;
      this.event(`${role.name} found its subscription closed`);
      return false;
    };
    try {
      for (let i = 0; i < def.count; i++) {
        yield* pause(pauseAt(def.pauses, i));
        const value = `${role.name}#${i}`;
        role.value = value;
        this.started.add(value);
        this.event(`${role.name} chat ${value}`);
        role.op = "send";
        for (;;) {
          const got = yield* select({ sent: b.send(value), heard: subscription.receiveOrClosed() });
          if (got.key === "sent") break;
          if (!took(got.value)) return; // closed: the send never happened
        }
        role.op = null;
        this.sent.add(value);
        this.event(`${role.name} sent ${value}`);
      }
    } catch (error) {
      if (!(error instanceof ChannelClosedError)) throw error;
      this.event(`${role.name} found the broadcast closed`);
    } finally {
      role.op = null;
    }
    this.doneSending.add(role);
    while (took(yield* subscription.receiveOrClosed())) {}
  }

  /** No other sender may wait to send when `role` got through without waiting. */
  checkNoBarging(role: Role, what: string): void {
    const waiter = this.roles.find(
      (r) => r !== role && r.op === "send" && r.task.state === "waiting",
    );
    if (waiter !== undefined)
      this.problem("sends", `${role.name}: ${what} while ${waiter.name} waited to send`);
  }

  /** A trySend fails only when a send would wait. */
  checkTrySendFailed(role: Role): void {
    const full = this.listeners.some((l) => {
      const s = l.subscription;
      return s !== null && !s.closed && s.overflow === "wait" && s.size >= s.capacity;
    });
    if (!full && this.broadcast._senders.live === 0)
      this.problem("sends", `${role.name}: trySend() failed though every subscription had room`);
  }

  *subscriber(listener: Listener): Generator<unknown, void, unknown> {
    const { role, def } = listener;
    for (const p of def.join) yield* pause(p);
    const subscription = this.broadcast.subscribe({ buffer: def.buffer, overflow: def.overflow });
    listener.subscription = subscription;
    listener.start = this.delivered;
    this.event(`${role.name} subscribes at ${listener.start}`);
    let i = 0;
    /** After a value: leaves (close, and go on draining; or return) once it has its `limit`. */
    const took = (value: string): "more" | "return" => {
      listener.got.push(value);
      this.event(`${role.name} got ${value}`);
      if (def.leave === "until closed" || ++i < def.limit || subscription.closed) return "more";
      if (def.leave === "return") return "return";
      listener.end = this.delivered;
      this.event(`${role.name} closes its subscription at ${listener.end}`);
      subscription.close();
      return "more";
    };
    const ended = () => {
      listener.readToEnd = true;
      this.event(`${role.name} found its subscription closed`);
    };
    if (def.style === "each") {
      yield* each(subscription, function* (value) {
        took(value);
        yield* pause(pauseAt(def.pauses, i));
      });
      ended();
      return;
    }
    for (;;) {
      yield* pause(pauseAt(def.pauses, i));
      let next: { ok: true; value: string } | { ok: false; closed: boolean };
      role.op = "receive";
      try {
        if (def.style === "receive") next = { ok: true, value: yield* subscription.receive() };
        else if (def.style === "yield receive")
          next = { ok: true, value: (yield subscription.receive()) as string };
        else if (def.style === "select") {
          const got = yield* select([subscription.receiveOrClosed(), this.silence.receive()]);
          next = got.index === 0 ? got.value : { ok: true, value: got.value };
        } else {
          next = subscription.tryReceive();
          if (!next.ok && !next.closed) {
            role.op = null;
            this.guard();
            yield sleep(1);
            continue;
          }
        }
      } catch (error) {
        if (!(error instanceof ChannelClosedError)) throw error;
        next = { ok: false, closed: true };
      } finally {
        role.op = null;
      }
      if (!next.ok) {
        ended();
        return;
      }
      if (took(next.value) === "return") {
        this.event(`${role.name} returns with its subscription open`);
        return;
      }
    }
  }

  /** Closes the broadcast once every sender has ended. */
  *closer(): Generator<unknown, void, unknown> {
    const senders = this.roles.filter((r) => r.name.startsWith("s"));
    const done = (r: Role) => r.task.isDone() || this.doneSending.has(r);
    for (let polls = 0; polls < 200 && !senders.every(done); polls++) {
      yield sleep(1);
    }
    this.closedAt = this.event(`closer closes the broadcast at ${this.delivered}`);
    this.broadcast.close();
  }

  /** The cancels (all of them under work() and run(); under tick() those not made from outside). */
  *controller(): Generator<unknown, void, unknown> {
    for (const c of this.program.cancels) {
      if (c.outside && this.program.driver === "tick") continue;
      while (!this.due(c)) {
        const busy = this.roles.some((r) => r.task.state === "runnable");
        yield busy ? undefined : sleep(1);
      }
      this.cancelNow(c, "controller");
    }
  }

  due(c: CancelDef): boolean {
    if (this.steps < c.afterSteps) return false;
    if (c.when === "steps" || this.steps >= c.afterSteps + 200) return true;
    const state = c.when === "woken" ? "runnable" : "waiting";
    return this.targets(c).some(
      (r) => r.task.isDone() || (r.op !== null && r.task.state === state),
    );
  }

  targets(c: CancelDef): Role[] {
    const role = this.roles[c.target];
    return role === undefined ? this.roles : [role];
  }

  cancelNow(c: CancelDef, by: string): void {
    for (const role of this.targets(c)) {
      if (role.task.isDone() || role.cancel !== null) continue;
      const state = role.task.state;
      const seq = this.event(
        `${by} cancels ${role.name} (in ${role.op ?? "no operation"}, ${state})`,
      );
      role.cancel = { seq, op: role.op, state, value: role.value };
      // Its subscription ends with the cancel: it is owed nothing sent from now on.
      const listener = this.listeners.find((l) => l.role === role);
      const open = listener?.subscription?.closed === false;
      if (listener !== undefined && open && listener.end === null) listener.end = this.delivered;
      role.task.cancel();
      if (open && listener?.subscription?.closed === false)
        this.problem(
          "lifetime",
          `${role.name}'s subscription is still open after its task was cancelled`,
        );
    }
  }

  // ------------------------------------------------------------ running it

  async execute(): Promise<this> {
    const { driver, cancels } = this.program;
    try {
      if (driver === "work") this.worker.work();
      else if (driver === "run") {
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
        const outside = cancels.filter((c) => c.outside);
        let next = 0;
        let idle = 0;
        for (;;) {
          while (next < outside.length && this.due(outside[next] as CancelDef))
            this.cancelNow(outside[next++] as CancelDef, "outside");
          this.invariant();
          if (this.worker.tick()) {
            idle = 0;
            this.guard();
            continue;
          }
          if (next < outside.length) {
            this.cancelNow(outside[next++] as CancelDef, "outside");
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
    this.checkSubscribers();
    this.checkSends();
    this.checkNothingLeft();
    return this;
  }

  /** broadcast 1. */
  checkSubscribers(): void {
    const history = this.witness._values.toArray();
    for (const l of this.listeners) {
      if (l.subscription === null) continue; // cancelled before it subscribed
      const name = l.role.name;
      const owed = history.slice(l.start, l.end ?? history.length);
      const got = l.got;
      if (new Set(got).size !== got.length)
        this.problem("subscribers", `${name} got a value twice: ${got.join(" ")}`);
      if (l.def.overflow === "wait") {
        const cut = l.readToEnd ? owed : owed.slice(0, got.length);
        if (got.join(" ") !== cut.join(" ") || (l.readToEnd && got.length !== owed.length))
          this.problem(
            "subscribers",
            `${name} (subscribed at ${l.start}, left at ${l.end ?? "the close"}) got [${got.join(" ")}], owed [${owed.join(" ")}]${l.readToEnd ? "" : " (or the first of them)"}`,
          );
      } else {
        let k = 0;
        for (const v of got) {
          while (k < owed.length && owed[k] !== v) k++;
          if (k === owed.length) {
            this.problem(
              "subscribers",
              `${name} (${l.def.overflow}) got [${got.join(" ")}], not in order among those it was owed [${owed.join(" ")}]`,
            );
            break;
          }
          k++;
        }
        const dropped = l.subscription.dropped;
        if (l.readToEnd && got.length + dropped !== owed.length)
          this.problem(
            "subscribers",
            `${name} (${l.def.overflow}) read to the end: got ${got.length} and dropped ${dropped}, but was owed ${owed.length}`,
          );
      }
    }
  }

  /** broadcast 2. */
  checkSends(): void {
    const history = this.witness._values.toArray();
    const seen = new Set<string>();
    const lastOf = new Map<string, number>();
    for (const v of history) {
      if (seen.has(v)) this.problem("sends", `${v} was delivered twice`);
      seen.add(v);
      if (!this.started.has(v)) this.problem("sends", `${v} was delivered but never sent`);
      const [sender, i] = v.split("#") as [string, string];
      if ((lastOf.get(sender) ?? -1) > Number(i))
        this.problem("sends", `${v} went out after a later value of ${sender}`);
      lastOf.set(sender, Number(i));
    }
    for (const v of this.sent)
      if (!seen.has(v)) this.problem("sends", `${v} was sent but reached nobody`);
    for (const role of this.roles) {
      const c = role.cancel;
      if (c === null || c.op !== "send" || c.value === null) continue;
      const closedBefore = this.closedAt !== null && this.closedAt < c.seq;
      if (c.state === "waiting" && seen.has(c.value))
        this.problem(
          "sends",
          `${role.name} was cancelled while it waited to send ${c.value}, yet it was delivered`,
        );
      if (
        c.state === "runnable" &&
        !closedBefore &&
        !this.sent.has(c.value) &&
        !seen.has(c.value) &&
        this.servedBeforeCancel(role)
      )
        this.problem(
          "sends",
          `${c.value} was served before ${role.name} was cancelled, yet never delivered`,
        );
    }
    for (const v of seen) {
      if (this.sent.has(v)) continue;
      const role = this.roles.find((r) => r.cancel?.value === v && r.cancel.op === "send");
      if (role === undefined)
        this.problem(
          "sends",
          `${v} was delivered though its send neither completed nor was cancelled`,
        );
    }
  }

  /** A sender woken inside a plain send was served (its wake is the send's completion). */
  servedBeforeCancel(role: Role): boolean {
    const def = this.program.senders[this.roles.indexOf(role)];
    return def !== undefined && (def.style === "send" || def.style === "yield send");
  }

  /** broadcast 3. */
  checkNothingLeft(): void {
    if (!this.broadcast.closed) this.problem("left", "the broadcast was never closed");
    this.witness.close();
    if (this.broadcast.subscribers !== 0 || this.broadcast._subscriptions.size !== 0)
      this.problem("left", `${this.broadcast._subscriptions.size} subscriptions are left`);
    if (this.witness.dropped !== 0)
      this.problem("left", `the witness dropped ${this.witness.dropped}`);
    for (const l of this.listeners) {
      if (l.subscription !== null && !l.subscription.closed)
        this.problem("left", `${l.role.name}'s subscription is still open`);
    }
  }

  assertNo(...kinds: string[]): void {
    const found = ["left", ...kinds].flatMap((k) => this.problems.get(k) ?? []);
    if (found.length > 0) assert.fail(`${found.join("\n")}\nevents:\n${this.trace.join("\n")}`);
  }
}

const { PROPERTY_RUNS } = process.env;
const RUNS = Number(PROPERTY_RUNS ?? 3000);

const property = (...kinds: string[]) =>
  fc.assert(
    fc.asyncProperty(programArb, async (program) => {
      (await new Run(program).execute()).assertNo(...kinds);
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );

test("broadcast 1. each subscriber gets exactly the values sent while it was subscribed, in order, none twice (one that drops: some of them, in order, and counts the rest)", async () => {
  await property("subscribers", "lifetime");
});

test("broadcast 2. a send reaches everybody or nobody, each sender's values go out in order, none twice", async () => {
  await property("sends");
});

test("broadcast 3. nothing is left behind: no task, no error, no subscription", async () => {
  await property();
});
