/**
 * Properties of select, race and timeout, checked on random programs.
 *
 * fast-check writes small programs over one to three channels (capacity 0
 * to 2), a semaphore of one or two permits (some of them kept by a holder
 * task for the first seconds, so that acquires wait) and a "stop" future.
 * Producers send tagged values (`p0#0`, `p0#1`, ...; each send case gets a
 * value of its own, so every value belongs to exactly one operation on
 * one channel) with `send`, a `select` over send cases (with or without a
 * sleep case), `timeout(s, send)`, `trySend` or `trySelect`. Consumers
 * loop on calls over random lists of cases, where a channel may come
 * twice: `select` over receive, receiveOrClosed, send (a value of the
 * consumer's own), acquire and stop cases plus a sleep case; `race` over
 * operations; `race` over routines that each do one receive (plus a
 * napping member); `timeout(s, receive)` around an operation and around a
 * routine; `trySelect`; plain `receive` and `tryReceive`; by `yield*` or
 * `yield`, cases by index or by key. Random pauses come between calls, a
 * permit a call won is held across a pause, and producers and consumers
 * are cancelled (one, or all at once, oldest first): after a number of
 * steps, or the moment the target (or a member of its race) has been
 * woken inside a call and has not run yet, the hard case. A finisher sets
 * the stop future once every producer or every consumer has ended, then
 * closes every channel or cancels whoever is left. Each program runs on a
 * `Worker` with a `VirtualClock`, driven by `work()`, by `tick()` (moving
 * the clock when nothing is runnable; cancels can then come from outside,
 * between ticks) or by `await run()`.
 *
 * Nothing here predicts the schedule. The test watches what each task does
 * (every event gets the next number of a logical clock; a value is taken
 * in the step its taker records it) and states what must hold whatever
 * the schedule:
 *
 * 1. No value is lost or duplicated: every send that completed (`send` or
 *    a send case returned, `trySend` gave true) is taken exactly once (by
 *    a receive, a select, race or timeout result, a race member, a
 *    `tryReceive` or `trySelect`) or is still in its channel at the end; a
 *    send that timed out, failed or was cancelled while it waited sent
 *    nothing; so a call that was cancelled, or timed out, took nothing. (A
 *    race over routines whose member took a value and won has taken it,
 *    even if its caller is cancelled before it returns.)
 * 2. Exactly one case: each call that returned did the one operation it
 *    reports, and no other: a value is taken from the channel its send
 *    went to, by the case that says so; a send case not reported never
 *    delivers; a race over routines has at most one member that took a
 *    value, and it is the winner; no permit is taken that no call reports.
 * 3. Each sender's values are taken from each channel strictly in the
 *    order sent, across all consumers, whoever is cancelled in between;
 *    values left in a channel come after every value taken, in order.
 * 4. No starvation: when several cases are always ready, each wins at
 *    least a third of its fair share over 2000 rounds, for `select`, for
 *    `race` over operations and for `race` over routines (a case never
 *    ready, or a due `sleep(0)`, never wins).
 * 5. Nothing is left behind: no task is left when the worker returns, no
 *    operation is left parked in a queue (a `trySend` to an unbuffered
 *    channel nobody receives from fails; a buffered one takes exactly its
 *    free room; every value can be drained, after which the channel is
 *    empty and, once closed, reports closed; every permit is back and can
 *    be taken), and no task reports an error. The one error a program
 *    expects: a task cancelled in the step between a routine it called
 *    with `yield` (a race over routines, a timeout around one) throwing
 *    and the task taking the error has that error reported, by the
 *    worker's rule that an error on its way is never lost; and a member of
 *    a race or timeout over routines that fails (a receive on a channel
 *    that closed) while its caller is cancelled in the call has its error
 *    reported, as a cancelled joiner's target has.
 * 6. A call waits only while none of its cases can happen: while it is
 *    parked, its channels have nothing free to receive, no room (or no
 *    waiting receiver) to send, no free permit, and the stop future is not
 *    set.
 *
 * A failing property prints the shrunk program and the events of its run,
 * e.g. `channels [0], permits 1, end close, driver work | c0 until closed:
 * select [r0, r0]` with "finisher failed: TypeError: Cannot read
 * properties of null (reading '_worker')": a bug they found, where
 * `close()` (or a future's `resolve()`) serves a select with two cases in
 * the queue it empties twice; SAME_QUEUE=0 leaves such calls out. Each
 * property makes 2000 programs (the fairness one 80 programs of 2000
 * rounds), about 10 s for the file; set PROPERTY_RUNS=50000 to search
 * longer.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  Channel,
  ChannelClosedError,
  currentTask,
  Future,
  type Received,
  race,
  routine,
  Semaphore,
  select,
  sleep,
  type Task,
  TimeoutError,
  timeout,
  trySelect,
  VirtualClock,
  Worker,
  WouldBlockError,
} from "../src/index.ts";

// ---------------------------------------- common parts (as in coordination-properties)

/** What a task does between two calls. */
type Pause = "none" | "yield" | "sleep";
const pauseArb = fc.constantFrom<Pause>("none", "yield", "sleep");

function* pause(p: Pause): Generator<unknown, void, unknown> {
  if (p === "yield") yield;
  else if (p === "sleep") yield sleep(1);
}

/** How the worker is driven. */
type Driver = "work" | "tick" | "run";
const driverArb = fc.constantFrom<Driver>("work", "tick", "run");

/**
 * A cancel of task `target` (or, when it is the number of tasks, of every
 * task at once, oldest first) once the worker has taken `afterSteps`
 * steps. With `when: "woken"`, only once the target (or a member of its
 * race) was also woken inside a call and has not run since, or 200 steps
 * later if that never happens; "woken late" waits for that after the stop
 * future is set as well.
 */
interface CancelDef {
  target: number;
  afterSteps: number;
  when: "steps" | "woken" | "woken late";
  /** From outside between ticks (under tick() only; otherwise the controller task makes it). */
  outside: boolean;
}

const cancelsArb: fc.Arbitrary<CancelDef[]> = fc.array(
  fc.record({
    target: fc.nat(6),
    afterSteps: fc.nat(60),
    when: fc.constantFrom<CancelDef["when"]>("steps", "woken", "woken late"),
    outside: fc.boolean(),
  }),
  { maxLength: 3 },
);

/** Cancels pointing at existing tasks (or at all, `tasks`), in order of time. */
function normalizeCancels(cancels: readonly CancelDef[], tasks: number): CancelDef[] {
  return cancels
    .map((c) => ({ ...c, target: c.target % (tasks + 1) }))
    .sort((a, b) => a.afterSteps - b.afterSteps);
}

/** `cancel c1 once woken after 5 steps (outside)`. */
function showCancels(cancels: readonly CancelDef[], names: readonly string[]): string[] {
  return cancels.map((c) => {
    const when =
      c.when === "steps" ? "" : c.when === "woken" ? "once woken " : "once woken after the stop ";
    return `cancel ${names[c.target] ?? "every task"} ${when}after ${c.afterSteps} steps${c.outside ? " (outside)" : ""}`;
  });
}

/** Gives a program its readable form in fast-check's counterexample report. */
function printable<P extends object>(program: P, show: (p: P) => string): P {
  return Object.assign(program, { [fc.toStringMethod]: () => show(program) });
}

/** Steps after which a task that loops gives up: the program has a livelock. */
const STEP_LIMIT = 20_000;

/** Programs per property; PROPERTY_RUNS=50000 searches longer. */
const { PROPERTY_RUNS } = process.env;
const RUNS = Number(PROPERTY_RUNS ?? 2000);
/** Fairness programs run 2000 rounds each: fewer of them. */
const FAIR_RUNS = Math.max(1, Math.round(RUNS / 25));

// ---------------------------------------------------------------- programs

type SendStyle = "send" | "select" | "timeout" | "trySend" | "trySelect";

/** One send of a producer: how, to which channels (a select has a case per channel), after what pause. */
interface SendDef {
  style: SendStyle;
  /** `yield op` rather than `yield* op` (send, select, timeout). */
  direct: boolean;
  to: number[];
  /** select: a sleep case of these seconds (or none); timeout: its seconds. */
  sleep: number | null;
  pause: Pause;
}

interface ProducerDef {
  /** How many sends it makes; its SendDefs are used round and round. */
  count: number;
  sends: SendDef[];
}

type CaseKind = "receive" | "receiveOrClosed" | "send" | "acquire" | "stop";

interface CaseDef {
  kind: CaseKind;
  channel: number;
  /** For a member of a race over routines: its pause before it receives. */
  pause: Pause;
}

type TakeStyle =
  | "select"
  | "race"
  | "race routines"
  | "timeout"
  | "timeout routine"
  | "trySelect"
  | "receive"
  | "tryReceive";

/** One call of a consumer. */
interface TakeDef {
  style: TakeStyle;
  /** `yield call` rather than `yield* call`. */
  direct: boolean;
  /** select and trySelect: cases in an object, by key. */
  named: boolean;
  cases: CaseDef[];
  /** select, race: a sleep case (race over routines: a member that naps); timeout: its seconds. */
  sleep: number | null;
  pause: Pause;
  /** How long it holds a permit its call won. */
  hold: Pause;
}

/** How a consumer's call ended: it did something, nothing (a try, a sleep case, a timeout), a channel is closed, or the stop case happened. */
type Ended = "go on" | "nothing" | "closed" | "stopped";

/** The most calls a consumer makes "until closed" (so that no program loops for ever). */
const UNTIL_CLOSED_LIMIT = 12;

interface ConsumerDef {
  /** How many calls it makes (its stop case ends it sooner); null: until a channel it calls on is closed, at most 12. */
  limit: number | null;
  takes: TakeDef[];
}

interface Program {
  capacities: number[];
  permits: number;
  /** A holder task keeps this many permits from the start, for `heldFor` seconds (so that acquire cases wait). */
  held: number;
  heldFor: number;
  producers: ProducerDef[];
  consumers: ConsumerDef[];
  /** Targets number the producers first, then the consumers. */
  cancels: CancelDef[];
  /** What the finisher does after setting the stop future. */
  end: "close" | "cancel";
  driver: Driver;
}

const caseArb = fc.record({
  kind: fc.constantFrom<CaseKind>("receive", "receiveOrClosed", "send", "acquire", "stop"),
  channel: fc.nat(2),
  pause: pauseArb,
});

const takeArb = fc.record({
  style: fc.constantFrom<TakeStyle>(
    "select",
    "race",
    "race routines",
    "timeout",
    "timeout routine",
    "trySelect",
    "receive",
    "tryReceive",
  ),
  direct: fc.boolean(),
  named: fc.boolean(),
  cases: fc.array(caseArb, { minLength: 1, maxLength: 3 }),
  sleep: fc.option(fc.nat(3), { nil: null }),
  pause: pauseArb,
  hold: pauseArb,
});

const sendArb = fc.record({
  style: fc.constantFrom<SendStyle>("send", "select", "timeout", "trySend", "trySelect"),
  direct: fc.boolean(),
  to: fc.array(fc.nat(2), { minLength: 1, maxLength: 3 }),
  sleep: fc.option(fc.nat(3), { nil: null }),
  pause: pauseArb,
});

const programArb: fc.Arbitrary<Program> = fc
  .record({
    capacities: fc.array(fc.nat(2), { minLength: 1, maxLength: 3 }),
    permits: fc.integer({ min: 1, max: 2 }),
    held: fc.nat(2),
    heldFor: fc.integer({ min: 1, max: 3 }),
    producers: fc.array(
      fc.record({ count: fc.nat(4), sends: fc.array(sendArb, { minLength: 1, maxLength: 3 }) }),
      { maxLength: 3 },
    ),
    consumers: fc.array(
      fc.record({
        limit: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
        takes: fc.array(takeArb, { minLength: 1, maxLength: 3 }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    cancels: cancelsArb,
    end: fc.constantFrom<Program["end"]>("close", "cancel"),
    driver: driverArb,
  })
  .map((p) => {
    const channels = p.capacities.length;
    const program: Program = {
      ...p,
      held: Math.min(p.held, p.permits),
      heldFor: p.held === 0 ? 0 : p.heldFor,
      producers: p.producers.map((d) => ({
        ...d,
        sends: d.sends.map((s) => normalizeSend(s, channels)),
      })),
      consumers: p.consumers.map((d) => ({
        ...d,
        takes: d.takes.map((t) => normalizeTake(t, channels)),
      })),
      cancels: normalizeCancels(p.cancels, p.producers.length + p.consumers.length),
    };
    return printable(program, showProgram);
  });

const { SAME_QUEUE: sameQueue } = process.env;
/** Calls may have two cases in one queue (two receives on one channel, two waits on one future); SAME_QUEUE=0 leaves them out. */
const SAME_QUEUE = sameQueue !== "0";

/**
 * Without SAME_QUEUE: no two cases of a call that wait in one queue, the
 * queues that are served all at once (a channel's receivers or senders on
 * close, a future's waiters). Acquires may repeat: a release serves one.
 */
function oneQueueEach(cases: CaseDef[]): CaseDef[] {
  if (SAME_QUEUE) return cases;
  const seen = new Set<string>();
  return cases.filter((c) => {
    if (c.kind === "acquire") return true;
    const key =
      c.kind === "stop" ? "stop" : `${c.kind === "send" ? "send" : "receive"}${c.channel}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Drops what a style does not use, so that programs print (and shrink) to what they do. */
function normalizeSend(s: SendDef, channels: number): SendDef {
  const to = SAME_QUEUE
    ? s.to.map((c) => c % channels)
    : [...new Set(s.to.map((c) => c % channels))];
  const one = [to[0] as number];
  switch (s.style) {
    case "send":
      return { ...s, to: one, sleep: null };
    case "select":
      return { ...s, to };
    case "timeout":
      return { ...s, to: one, sleep: s.sleep ?? 1 };
    case "trySend":
      return { ...s, to: one, sleep: null, direct: false };
    case "trySelect":
      return { ...s, to, sleep: null, direct: false };
  }
}

/** A receiving kind for the calls that only receive (race over routines, timeout around a routine, receive). */
function receiving(kind: CaseKind, stop: boolean): CaseKind {
  if (kind === "send") return "receive";
  if (kind === "acquire") return "receiveOrClosed";
  if (kind === "stop" && !stop) return "receive";
  return kind;
}

function normalizeTake(t: TakeDef, channels: number): TakeDef {
  const cases = oneQueueEach(
    t.cases.map((c) => ({ ...c, channel: c.channel % channels, pause: "none" as Pause })),
  );
  const first = cases[0] as CaseDef;
  const plain = { named: false, sleep: null };
  let take: TakeDef;
  switch (t.style) {
    case "select":
      take = { ...t, cases };
      break;
    case "trySelect":
      take = { ...t, cases, sleep: null, direct: false };
      break;
    case "race":
      // A race over operations gives the value alone: only cases whose values tell them apart.
      take = {
        ...t,
        named: false,
        cases: oneQueueEach(cases.map((c) => ({ ...c, kind: receiving(c.kind, true) }))),
      };
      break;
    case "race routines":
      take = {
        ...t,
        named: false,
        cases: t.cases.map((c) => ({
          ...c,
          channel: c.channel % channels,
          kind: receiving(c.kind, true),
        })),
      };
      break;
    case "timeout":
      take = { ...t, named: false, cases: [first], sleep: t.sleep ?? 1 };
      break;
    case "timeout routine": {
      const body = t.cases[0] as CaseDef;
      const kind = receiving(body.kind, false);
      take = {
        ...t,
        named: false,
        cases: [{ ...body, channel: body.channel % channels, kind }],
        sleep: t.sleep ?? 1,
      };
      break;
    }
    case "receive":
      take = { ...t, ...plain, cases: [{ ...first, kind: receiving(first.kind, false) }] };
      break;
    case "tryReceive":
      take = { ...t, ...plain, direct: false, cases: [{ ...first, kind: "receive" }] };
      break;
  }
  if (!take.cases.some((c) => c.kind === "acquire")) take.hold = "none";
  return take;
}

const SHORT: Record<CaseKind, string> = {
  receive: "r",
  receiveOrClosed: "rc",
  send: "s",
  acquire: "acquire",
  stop: "stop",
};

function showCase(c: CaseDef): string {
  const what =
    c.kind === "acquire" || c.kind === "stop" ? SHORT[c.kind] : `${SHORT[c.kind]}${c.channel}`;
  return c.pause === "none" ? what : `${what} after ${c.pause}`;
}

/** `yield select {r0, s1, acquire, sleep 2} hold sleep`, `race routines [r0 after yield, nap 1]`. */
function showTake(t: TakeDef): string {
  const before = t.pause === "none" ? "" : `${t.pause}, `;
  const how = t.direct ? "yield " : "";
  const parts = t.cases.map(showCase);
  if (t.sleep !== null && t.style !== "timeout" && t.style !== "timeout routine")
    parts.push(`${t.style === "race routines" ? "nap" : "sleep"} ${t.sleep}`);
  const list = t.named ? `{${parts.join(", ")}}` : `[${parts.join(", ")}]`;
  const call =
    t.style === "timeout" || t.style === "timeout routine"
      ? `${t.style === "timeout" ? "timeout" : "timeout routine"}(${t.sleep}, ${parts[0]})`
      : t.style === "receive" || t.style === "tryReceive"
        ? `${t.style === "tryReceive" ? "tryReceive" : t.cases[0]?.kind} ${t.cases[0]?.channel}`
        : `${t.style} ${list}`;
  return `${before}${how}${call}${t.hold === "none" ? "" : ` hold ${t.hold}`}`;
}

/** `sleep, yield select [0, 1] sleep 2`. */
function showSend(s: SendDef): string {
  const before = s.pause === "none" ? "" : `${s.pause}, `;
  const how = s.direct ? "yield " : "";
  const to = s.to.length === 1 ? `${s.to[0]}` : `[${s.to.join(", ")}]`;
  const extra =
    s.style === "timeout" ? ` in ${s.sleep} s` : s.sleep === null ? "" : ` sleep ${s.sleep}`;
  return `${before}${how}${s.style} ${to}${extra}`;
}

function roleNames(program: Program): string[] {
  return [...program.producers.map((_, i) => `p${i}`), ...program.consumers.map((_, i) => `c${i}`)];
}

/** `channels [0, 2], permits 1, end close, driver work | p0 ×2: select [0, 1] | c0 until closed: race [r0, r1] | cancel c0 after 4 steps` */
function showProgram(program: Program): string {
  return [
    `channels [${program.capacities.join(", ")}], permits ${program.permits}${program.held > 0 ? ` (${program.held} held for ${program.heldFor} s)` : ""}, end ${program.end}, driver ${program.driver}`,
    ...program.producers.map((p, i) => `p${i} ×${p.count}: ${p.sends.map(showSend).join(", ")}`),
    ...program.consumers.map(
      (c, i) =>
        `c${i} ${c.limit === null ? "until closed" : `×${c.limit}`}: ${c.takes.map(showTake).join(", ")}`,
    ),
    ...showCancels(program.cancels, roleNames(program)),
  ].join(" | ");
}

// -------------------------------------------------------------- the records

/** One call (a select, race, timeout, send, receive, or a try), as the test saw it. */
interface Call {
  id: number;
  who: string;
  style: string;
  /** Its cases, by index (a sleep case or a nap member last). */
  cases: CaseRecord[];
  /** Whether it parks its own task on its cases (a race over routines parks its members instead). */
  parks: boolean;
  /** Called by `yield` as a routine of its own (a race over routines, a timeout around one): a frame on the task's stack. */
  frame: boolean;
  /** What it came to: `case 2`, `timeout`, `closed`, `none`; null while it runs or if it was cancelled. */
  result: string | null;
  /** Takes it (or its members) made. */
  takes: Take[];
}

interface CaseRecord {
  kind: CaseKind | "sleep" | "nap";
  channel: number;
  /** For a send case: its value. */
  send: SendRecord | null;
}

/** One value offered by a send case. */
interface SendRecord {
  value: string;
  who: string;
  /** Its place in its sender's values. */
  index: number;
  channel: number;
  call: Call;
  caseIndex: number;
  /** "pending" while the call runs, and for good if it was cancelled. */
  outcome: "pending" | "sent" | "not sent";
}

/** One value taken from a channel. */
interface Take {
  who: string;
  value: string;
  /** The channel the taker says it came from; null when its call cannot tell (a race over receives on several). */
  channel: number | null;
  /** For a race over operations: the channels its receive cases were on. */
  channels: number[];
  seq: number;
  call: Call | null;
}

/** A member of a race over routines (or the body of a timeout around a routine). */
interface Member {
  task: Task<unknown> | null;
  channel: number;
  /** Inside its receive now. */
  receiving: boolean;
}

/** A producer or consumer task, and what it is doing now as the test sees it. */
interface Role {
  readonly name: string;
  task: Task<unknown>;
  /** The call it is inside, or null. */
  call: Call | null;
  /** The members of the race over routines it is inside. */
  members: Member[];
  /** Its next value's index. */
  sent: number;
  /**
   * Set when the test cancelled it: when, and what it was doing then;
   * `inFlight`: its call was a routine of its own that had ended, its
   * result (or error) on its way to the caller, taken on the next step.
   */
  cancel: { seq: number; state: string; call: Call | null; inFlight: boolean } | null;
}

/** What plain code does between ticks, once `due()`. */
interface OutsideAction {
  due: () => boolean;
  act: () => void;
}

// ----------------------------------------------------------------- the run

/** The routine of a race member (or of a timeout's body): an optional pause, then one receive. */
const take = routine(function* take(
  run: SelectRun,
  role: Role,
  call: Call,
  c: CaseDef,
): Generator<unknown, { channel: number; value: string } | { closed: true }, unknown> {
  const member: Member = { task: currentTask() ?? null, channel: c.channel, receiving: false };
  role.members.push(member);
  yield* pause(c.pause);
  const channel = run.channels[c.channel] as Channel<string>;
  member.receiving = true;
  let got: Received<string>;
  try {
    got =
      c.kind === "receive"
        ? { ok: true, value: yield* channel.receive() }
        : yield* channel.receiveOrClosed();
  } finally {
    member.receiving = false;
  }
  if (!got.ok) return { closed: true };
  // Taken in this step, and the member ends in it: recorded here, whatever becomes of the race.
  run.took(`${role.name}'s member`, got.value, c.channel, [], call);
  return { channel: c.channel, value: got.value };
});

const awaitStop = routine(function* awaitStop(run: SelectRun) {
  return yield* run.stop.wait();
});

const nap = routine(function* nap(seconds: number) {
  yield sleep(seconds);
  return "nap";
});

class SelectRun {
  readonly program: Program;
  readonly clock = new VirtualClock();
  readonly worker = new Worker({
    clock: this.clock,
    onError: (error, task) => {
      const what = error instanceof Error ? (error.stack ?? error.message) : String(error);
      const role = this.roles.find((r) => r.task === task);
      // The worker's rule: an error on its way from a routine to a caller that is cancelled
      // before it takes it is reported, not lost (the worker cannot know the caller would catch it).
      if (
        role?.cancel?.inFlight === true &&
        (error instanceof TimeoutError || error instanceof ChannelClosedError)
      ) {
        this.event(
          `${task.name} reports ${(error as Error).name}: it was on its way from call ${role.cancel.call?.id}`,
        );
        return;
      }
      // The same rule for a call over routines: a member's error the call was to throw, when
      // its caller was cancelled in the call, is reported, not lost.
      const caller = this.roles.find((r) => r.task === task.parent);
      if (caller?.cancel?.call != null && error instanceof ChannelClosedError) {
        this.event(
          `${task.name} reports ${error.name}: its call ${caller.cancel.call.id}'s caller ${caller.task?.name} was cancelled in it`,
        );
        return;
      }
      this.problem(["left"], `${task.name} failed: ${what}`);
    },
  });
  readonly channels: Channel<string>[];
  readonly semaphore: Semaphore;
  readonly stop = new Future<string>();
  readonly roles: Role[] = [];
  readonly calls: Call[] = [];
  readonly sendRecords = new Map<string, SendRecord>();
  readonly takes: Take[] = [];
  /** What was left in each channel at the end, in order. */
  readonly left: string[][] = [];
  /** Tasks holding a permit a call won, as the test counts them. */
  holders = 0;
  /** The steps taken when the stop future was set. */
  stoppedAtStep: number | null = null;
  readonly problems = new Map<string, string[]>();
  readonly trace: string[] = [];
  #seq = 0;
  #callIds = 0;

  constructor(program: Program) {
    this.program = program;
    this.channels = program.capacities.map((c) => new Channel<string>(c));
    this.semaphore = new Semaphore(program.permits);
    const names = roleNames(program);
    const producers = program.producers.length;
    names.forEach((name, i) => {
      const role: Role = {
        name,
        task: null as unknown as Task<unknown>,
        call: null,
        members: [],
        sent: 0,
        cancel: null,
      };
      this.roles.push(role);
      role.task = this.worker.assign(
        i < producers
          ? this.producer(role, program.producers[i] as ProducerDef)
          : this.consumer(role, program.consumers[i - producers] as ConsumerDef),
        { name },
      );
    });
    this.worker.assign(this.controller(), { name: "controller" });
    this.worker.assign(this.finisher(), { name: "finisher" });
    if (program.held > 0) {
      // Taken before any task runs, so that the holder surely has them.
      for (let k = 0; k < program.held; k++) this.semaphore.tryAcquire();
      this.holders += program.held;
      this.worker.assign(this.holder(), { name: "holder" });
    }
  }

  // ------------------------------------------------------------ recording

  /** Records an event and returns its number on the logical clock. */
  event(line: string): number {
    const seq = ++this.#seq;
    this.trace.push(`${seq} ${line}`);
    this.invariant();
    return seq;
  }

  problem(kinds: string[], text: string): void {
    for (const kind of kinds) {
      let list = this.problems.get(kind);
      if (list === undefined) {
        list = [];
        this.problems.set(kind, list);
      }
      if (list.length < 5) list.push(text);
    }
    this.trace.push(`  !! ${text}`);
  }

  get steps(): number {
    return this.worker.counters.steps;
  }

  guard(): void {
    if (this.steps > STEP_LIMIT) throw new Error(`livelock: over ${STEP_LIMIT} steps`);
  }

  /** A value taken from a channel (by a call, or by a race member for its call). */
  took(
    who: string,
    value: string,
    channel: number | null,
    channels: number[],
    call: Call | null,
  ): void {
    const from = channel === null ? `one of [${channels.join(", ")}]` : `${channel}`;
    const seq = this.event(`${who} took ${value} from ${from}${call ? ` (call ${call.id})` : ""}`);
    const t: Take = { who, value, channel, channels, seq, call };
    this.takes.push(t);
    call?.takes.push(t);
  }

  /** A new call: its cases recorded, a value made for each send case. */
  startCall(
    role: Role,
    style: string,
    kinds: readonly CaseDef[],
    extra: "sleep" | "nap" | null,
    parks: boolean,
    frame = false,
  ): Call {
    const call: Call = {
      id: ++this.#callIds,
      who: role.name,
      style,
      cases: [],
      parks,
      frame,
      result: null,
      takes: [],
    };
    kinds.forEach((c, i) => {
      let send: SendRecord | null = null;
      if (c.kind === "send") {
        const index = role.sent++;
        const value = `${role.name}#${index}`;
        send = {
          value,
          who: role.name,
          index,
          channel: c.channel,
          call,
          caseIndex: i,
          outcome: "pending",
        };
        this.sendRecords.set(value, send);
      }
      call.cases.push({ kind: c.kind, channel: c.channel, send });
    });
    if (extra !== null) call.cases.push({ kind: extra, channel: -1, send: null });
    this.calls.push(call);
    const shown = call.cases.map((c) =>
      c.send !== null
        ? `send ${c.send.value} to ${c.channel}`
        : c.kind === "acquire" || c.kind === "stop" || c.kind === "sleep" || c.kind === "nap"
          ? c.kind
          : `${c.kind} ${c.channel}`,
    );
    this.event(`${role.name} ${style} [${shown.join(", ")}] (call ${call.id})`);
    role.call = call;
    role.members = [];
    return call;
  }

  /** The call ended with `result`: its send cases other than the one that happened sent nothing. */
  endCall(call: Call, result: string, sentCase: number | null): void {
    call.result = result;
    call.cases.forEach((c, i) => {
      if (c.send !== null) c.send.outcome = i === sentCase ? "sent" : "not sent";
    });
    this.event(`${call.who}'s call ${call.id}: ${result}`);
  }

  // ------------------------------------------------------------- the tasks

  *producer(role: Role, def: ProducerDef): Generator<unknown, void, unknown> {
    for (let k = 0; k < def.count; k++) {
      const s = def.sends[k % def.sends.length] as SendDef;
      yield* pause(s.pause);
      const cases = s.to.map((channel) => ({
        kind: "send" as CaseKind,
        channel,
        pause: "none" as Pause,
      }));
      const extra = s.style === "select" && s.sleep !== null ? "sleep" : null;
      const parks = s.style !== "trySend" && s.style !== "trySelect";
      const call = this.startCall(
        role,
        `${s.direct ? "yield " : ""}${s.style}`,
        cases,
        extra,
        parks,
      );
      const operations = () =>
        call.cases.map((c) => (c.kind === "sleep" ? sleep(s.sleep ?? 0) : this.operation(c)));
      try {
        if (s.style === "send") {
          const op = operations()[0] as Generator<unknown, void, unknown>;
          if (s.direct) yield op;
          else yield* op;
          this.endCall(call, "case 0", 0);
        } else if (s.style === "select") {
          const ops = operations();
          const got = s.direct ? ((yield select(ops)) as { index: number }) : yield* select(ops);
          this.endCall(call, `case ${got.index}`, got.index);
        } else if (s.style === "timeout") {
          const op = timeout(s.sleep ?? 1, operations()[0] as Generator<unknown, void, unknown>);
          try {
            if (s.direct) yield op;
            else yield* op;
            this.endCall(call, "case 0", 0);
          } catch (error) {
            if (!(error instanceof TimeoutError)) throw error;
            this.endCall(call, "timeout", null);
          }
        } else if (s.style === "trySend") {
          const v = call.cases[0]?.send?.value as string;
          const sent = (this.channels[s.to[0] as number] as Channel<string>).trySend(v);
          this.endCall(call, sent ? "case 0" : "none", sent ? 0 : null);
        } else {
          const got = trySelect(operations());
          if (got === undefined) this.endCall(call, "none", null);
          else this.endCall(call, `case ${got.index}`, got.index);
        }
      } catch (error) {
        if (!(error instanceof ChannelClosedError)) throw error;
        this.endCall(call, "closed", null);
        return;
      } finally {
        role.call = null;
      }
    }
  }

  *consumer(role: Role, def: ConsumerDef): Generator<unknown, void, unknown> {
    for (let i = 0; i < (def.limit ?? UNTIL_CLOSED_LIMIT); i++) {
      const t = def.takes[i % def.takes.length] as TakeDef;
      yield* pause(t.pause);
      const [steps, now] = [this.steps, this.clock.now()];
      const ended = yield* this.consume(role, t);
      if (ended === "stopped" || (ended === "closed" && def.limit === null)) return;
      // A loop that never waits keeps the virtual clock still (it moves only when no task can
      // run), and with it every timer: one that took nothing sleeps, one that took gives way.
      if (ended === "nothing" && this.clock.now() === now) yield sleep(1);
      else if (this.steps === steps) yield;
      this.guard();
    }
  }

  /** The operation for a case. */
  operation(c: CaseRecord): Generator<unknown, unknown, any> {
    const channel = this.channels[c.channel] as Channel<string>;
    switch (c.kind) {
      case "receive":
        return channel.receive();
      case "receiveOrClosed":
        return channel.receiveOrClosed();
      case "send":
        return channel.send((c.send as SendRecord).value);
      case "acquire":
        return this.semaphore.acquire();
      case "stop":
        return this.stop.wait();
      default:
        throw new Error(`no operation for a ${c.kind} case`);
    }
  }

  /** One call of a consumer. */
  *consume(role: Role, t: TakeDef): Generator<unknown, Ended, unknown> {
    const { style, direct } = t;
    const name = `${direct ? "yield " : ""}${style}`;
    const extra =
      t.sleep === null || style.startsWith("timeout")
        ? null
        : style === "race routines"
          ? "nap"
          : "sleep";
    const parks =
      style === "select" || style === "race" || style === "timeout" || style === "receive";
    const frame = direct && (style === "race routines" || style === "timeout routine");
    const call = this.startCall(role, name, t.cases, extra, parks, frame);
    let outcome: { index: number; value: unknown } | "timeout" | "none";
    try {
      outcome = yield* this.callOnce(role, call, t);
    } catch (error) {
      if (error instanceof ChannelClosedError) {
        this.endCall(call, "closed", null);
        return "closed";
      }
      if (error instanceof TimeoutError) outcome = "timeout";
      else throw error;
    } finally {
      role.call = null;
    }
    if (outcome === "timeout" || outcome === "none") {
      this.endCall(call, outcome, null);
      return "nothing";
    }
    return yield* this.happened(role, call, outcome.index, outcome.value, t.hold);
  }

  /** Makes the call; gives which case happened and its value, "none" (a try) or "timeout". */
  *callOnce(
    role: Role,
    call: Call,
    t: TakeDef,
  ): Generator<unknown, { index: number; value: unknown } | "timeout" | "none", unknown> {
    const { direct } = t;
    const operations = () =>
      call.cases.map((c) => (c.kind === "sleep" ? sleep(t.sleep ?? 0) : this.operation(c)));
    const channel = this.channels[call.cases[0]?.channel ?? 0] as Channel<string>;
    switch (t.style) {
      case "select": {
        const all = operations();
        if (t.named) {
          const keys = call.cases.map((c, i) => `${c.kind}${i}`);
          const cases = Object.fromEntries(keys.map((k, i) => [k, all[i]])) as Record<
            string,
            Generator<unknown, unknown, any>
          >;
          const got = direct
            ? ((yield select(cases)) as { key: string; value: unknown })
            : yield* select(cases);
          return { index: keys.indexOf(got.key), value: got.value };
        }
        const got = direct
          ? ((yield select(all)) as { index: number; value: unknown })
          : yield* select(all);
        return { index: got.index, value: got.value };
      }
      case "trySelect": {
        const all = operations();
        if (t.named) {
          const keys = call.cases.map((c, i) => `${c.kind}${i}`);
          const got = trySelect(
            Object.fromEntries(keys.map((k, i) => [k, all[i]])) as Record<
              string,
              Generator<unknown, unknown, any>
            >,
          );
          return got === undefined ? "none" : { index: keys.indexOf(got.key), value: got.value };
        }
        const got = trySelect(all);
        return got === undefined ? "none" : { index: got.index, value: got.value };
      }
      case "race": {
        const members = operations();
        const value = direct ? yield race(members) : yield* race(members);
        return { index: this.raceCase(call, value), value };
      }
      case "race routines": {
        const members = call.cases.map((c, i) =>
          c.kind === "nap"
            ? nap(t.sleep ?? 0)
            : c.kind === "stop"
              ? awaitStop(this)
              : take(this, role, call, t.cases[i] as CaseDef),
        ) as Generator<unknown, unknown, any>[];
        const value = direct ? yield race(members) : yield* race(members);
        return { index: -1, value };
      }
      case "timeout": {
        const op = timeout(t.sleep ?? 1, operations()[0] as Generator<unknown, unknown, any>);
        const value = direct ? yield op : yield* op;
        return { index: 0, value };
      }
      case "timeout routine": {
        const body = timeout(t.sleep ?? 1, take(this, role, call, t.cases[0] as CaseDef));
        const value = direct ? yield body : yield* body;
        return { index: -1, value };
      }
      case "receive": {
        const op = operations()[0] as Generator<unknown, unknown, any>;
        const value = direct ? yield op : yield* op;
        return { index: 0, value };
      }
      case "tryReceive": {
        const got = channel.tryReceive();
        if (got.ok) return { index: 0, value: got.value };
        if (got.closed) throw new ChannelClosedError("closed and drained");
        return "none";
      }
    }
  }

  /** Which case of a race over operations gave `value` (values tell the kinds apart). */
  raceCase(call: Call, value: unknown): number {
    const kind: CaseRecord["kind"] =
      value === undefined
        ? "sleep"
        : value === "stop"
          ? "stop"
          : typeof value === "string"
            ? "receive"
            : "receiveOrClosed";
    const index = call.cases.findIndex((c) => c.kind === kind);
    if (index < 0)
      this.problem(
        ["one"],
        `call ${call.id}: race gave ${String(value)}, which none of its cases gives`,
      );
    return index;
  }

  /** Case `index` of the call happened with `value`: record it; hold a permit it won. */
  *happened(
    role: Role,
    call: Call,
    index: number,
    value: unknown,
    hold: Pause,
  ): Generator<unknown, Ended, unknown> {
    if (index === -1) {
      // A race over routines, or a timeout around one: what the winning member gave.
      if (value === "nap" || value === "stop") {
        this.endCall(call, value, null);
        return value === "stop" ? "stopped" : "nothing";
      }
      const got = value as { channel: number; value: string } | { closed: true };
      if ("closed" in got) {
        this.endCall(call, "closed", null);
        return "closed";
      }
      this.endCall(call, `${got.value} from ${got.channel}`, null);
      const mine = call.takes.map((t) => t.value);
      if (mine.length !== 1 || mine[0] !== got.value)
        this.problem(
          ["one"],
          `call ${call.id} gave ${got.value}, but its members took [${mine.join(", ")}]`,
        );
      return "go on";
    }
    const c = call.cases[index];
    if (c === undefined) {
      this.problem(["one"], `call ${call.id} reports case ${index}, which it does not have`);
      return "go on";
    }
    switch (c.kind) {
      case "sleep":
        if (value !== undefined)
          this.problem(["one"], `call ${call.id}: its sleep case gave ${String(value)}`);
        this.endCall(call, "sleep", null);
        return "nothing";
      case "stop":
        if (value !== "stop")
          this.problem(["one"], `call ${call.id}: its stop case gave ${String(value)}`);
        this.endCall(call, "stop", null);
        return "stopped";
      case "send":
        if (value !== undefined)
          this.problem(["one"], `call ${call.id}: its send case gave ${String(value)}`);
        this.endCall(call, `case ${index}`, index);
        return "go on";
      case "acquire": {
        if (value !== undefined)
          this.problem(["one"], `call ${call.id}: its acquire case gave ${String(value)}`);
        this.holders++;
        this.endCall(call, `case ${index}: a permit`, null);
        try {
          yield* pause(hold);
        } finally {
          this.holders--;
          this.semaphore.release();
          this.event(`${role.name} gives its permit back`);
        }
        return "go on";
      }
      case "receive":
      case "receiveOrClosed": {
        let v: unknown = value;
        if (c.kind === "receiveOrClosed") {
          const r = value as Received<string>;
          if (typeof r !== "object" || r === null || !("ok" in r)) {
            this.problem(
              ["one"],
              `call ${call.id}: its receiveOrClosed case gave ${String(value)}`,
            );
            return "go on";
          }
          if (!r.ok) {
            this.endCall(call, "closed", null);
            return "closed";
          }
          v = r.value;
        }
        if (typeof v !== "string") {
          this.problem(["one"], `call ${call.id}: its ${c.kind} case gave ${String(v)}`);
          return "go on";
        }
        // A race over operations cannot tell which of its receive cases gave the value.
        const channels = [
          ...new Set(call.cases.filter((x) => x.kind === c.kind).map((x) => x.channel)),
        ];
        const known = call.style.endsWith("race")
          ? channels.length === 1
            ? (channels[0] as number)
            : null
          : c.channel;
        this.took(role.name, v, known, known === null ? channels : [], call);
        this.endCall(call, `case ${index}`, null);
        return "go on";
      }
      default:
        return "go on";
    }
  }

  /** Keeps `held` permits (taken at the start) for a while. */
  *holder(): Generator<unknown, void, unknown> {
    const { held, heldFor } = this.program;
    this.event(`holder holds ${held} permits`);
    try {
      yield sleep(heldFor);
    } finally {
      this.holders -= held;
      for (let k = 0; k < held; k++) this.semaphore.release();
      this.event(`holder gives ${held} permits back`);
    }
  }

  // -------------------------------------------------------------- the end

  *finisher(): Generator<unknown, void, unknown> {
    const producers = this.roles.filter((r) => r.name.startsWith("p"));
    const consumers = this.roles.filter((r) => r.name.startsWith("c"));
    // It polls with `yield` while others are runnable (a consumer that never waits keeps the
    // virtual clock still), and sleeps when none is.
    for (let polls = 0; polls < 5000 && this.clock.now() < 200; polls++) {
      if (producers.every((r) => r.task.isDone()) || consumers.every((r) => r.task.isDone())) break;
      yield this.busy() ? undefined : sleep(1);
    }
    this.event("finisher sets the stop future");
    this.stoppedAtStep = this.steps;
    this.stop.resolve("stop");
    if (this.program.end === "close") {
      this.event("finisher closes every channel");
      for (const channel of this.channels) channel.close();
    } else {
      yield sleep(1);
      for (const role of this.roles) this.cancelRole(role, "finisher");
    }
  }

  /** Whether the role (or a member of its race) was woken inside a call and has not run since. */
  woken(role: Role): boolean {
    if (role.call === null) return false;
    if (role.call.parks) return role.task.state === "runnable";
    return role.members.some((m) => m.receiving && m.task?.state === "runnable");
  }

  due(c: CancelDef): boolean {
    if (this.steps < c.afterSteps) return false;
    if (c.when === "steps") return true;
    let from = c.afterSteps;
    if (c.when === "woken late") {
      if (this.stoppedAtStep === null) return false;
      from = Math.max(from, this.stoppedAtStep);
    }
    if (this.steps >= from + 200) return true;
    return this.targets(c).some((role) => role.task.isDone() || this.woken(role));
  }

  targets(c: CancelDef): Role[] {
    const role = this.roles[c.target];
    return role === undefined ? this.roles : [role];
  }

  cancelRole(role: Role, by: string): void {
    if (role.task.isDone() || role.cancel !== null) return;
    const state = role.task.state;
    const where = role.call === null ? "between calls" : `in call ${role.call.id}`;
    const woken = this.woken(role) ? ", woken" : "";
    // The routine of a `yield race(...)` ended; the caller takes its outcome on its next step.
    const inFlight = role.call?.frame === true && role.task.stack.length === 1;
    const flight = inFlight ? ", its call's outcome on its way" : "";
    const seq = this.event(`${by} cancels ${role.name} (${where}, ${state}${woken}${flight})`);
    role.cancel = { seq, state, call: role.call, inFlight };
    role.task.cancel();
    this.invariant();
  }

  /** Whether a producer or consumer (or a member of a race) can run now. */
  busy(): boolean {
    return this.roles.some(
      (r) => r.task.state === "runnable" || r.members.some((m) => m.task?.state === "runnable"),
    );
  }

  *controller(): Generator<unknown, void, unknown> {
    const { cancels, driver } = this.program;
    for (const c of cancels) {
      if (c.outside && driver === "tick") continue;
      while (!this.due(c)) yield this.busy() ? undefined : sleep(1);
      for (const role of this.targets(c)) this.cancelRole(role, "controller");
    }
  }

  async execute(): Promise<this> {
    const { cancels, driver } = this.program;
    const outside: OutsideAction[] = cancels
      .filter((c) => c.outside && driver === "tick")
      .map((c) => ({
        due: () => this.due(c),
        act: () => {
          for (const role of this.targets(c)) this.cancelRole(role, "outside");
        },
      }));
    await this.drive(driver, outside);
    this.checkLeftBehind();
    this.checkDelivery();
    this.checkOrder();
    return this;
  }

  /** Runs the worker to the end (as in coordination-properties). */
  async drive(driver: Driver, outside: readonly OutsideAction[]): Promise<void> {
    try {
      if (driver === "work") {
        this.worker.work();
      } else if (driver === "run") {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stuck = new Promise<"stuck">((resolve) => {
          timer = setTimeout(() => resolve("stuck"), 500);
        });
        const ended = await Promise.race([this.worker.run(), stuck]);
        clearTimeout(timer);
        if (ended === "stuck") {
          this.problem(["left"], `run() did not return: ${this.worker.dump()}`);
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
            this.problem(["left"], `stuck under tick(): ${this.worker.dump()}`);
            break;
          }
          this.clock.advance(1);
        }
      }
    } catch (error) {
      if (!(error instanceof WouldBlockError)) throw error;
      this.problem(["left"], error.message);
    }
    if (this.worker.tasks.length > 0) this.problem(["left"], `tasks left: ${this.worker.dump()}`);
  }

  // ----------------------------------------------------------- the checks

  /**
   * At every event and between ticks. Property 2: no permit is taken that
   * no call reports (beyond those handed to calls woken and not yet run).
   * Property 6: a parked call has no case that could happen.
   */
  invariant(): void {
    const { available, permits } = this.semaphore;
    const taken = permits - available;
    const inTransit = this.roles.filter(
      (r) =>
        r.call?.cases.some((c) => c.kind === "acquire") === true && r.task.state === "runnable",
    ).length;
    if (this.holders > taken)
      this.problem(["one"], `${this.holders} tasks hold a permit, but only ${taken} are taken`);
    if (taken > this.holders + inTransit)
      this.problem(
        ["one"],
        `${taken} permits are taken, but only ${this.holders} tasks hold one and ${inTransit} calls were handed one`,
      );
    for (const role of this.roles) {
      const call = role.call;
      if (call?.parks && role.task.state === "waiting") {
        call.cases.forEach((c, i) => {
          const why = this.couldHappen(role, c);
          if (why !== null)
            this.problem(
              ["wait"],
              `${role.name} waits in call ${call.id}, yet its case ${i} ${why}`,
            );
        });
      }
      for (const m of role.members) {
        if (m.receiving && m.task?.state === "waiting") {
          const size = (this.channels[m.channel] as Channel<string>).size;
          if (size > 0)
            this.problem(
              ["wait"],
              `a member of ${role.name}'s race waits to receive from ${m.channel}, which holds ${size} values`,
            );
        }
      }
    }
  }

  /** Why a parked case could happen now, or null. */
  couldHappen(role: Role, c: CaseRecord): string | null {
    const channel = this.channels[c.channel];
    switch (c.kind) {
      case "receive":
      case "receiveOrClosed": {
        if ((channel as Channel<string>).size > 0)
          return `(${c.kind} ${c.channel}) could take one of ${channel?.size} free values`;
        const sender = this.waitingIn(role, "send", c.channel);
        return sender === undefined
          ? null
          : `(${c.kind} ${c.channel}) could take from ${sender}, who waits to send`;
      }
      case "send": {
        const ch = channel as Channel<string>;
        if (ch.closed) return `(send to ${c.channel}) is on a closed channel`;
        if (ch.capacity > 0)
          return ch.size < ch.capacity
            ? `(send to ${c.channel}) has room: ${ch.size}/${ch.capacity}`
            : null;
        const receiver = this.waitingIn(role, "receive", c.channel);
        return receiver === undefined
          ? null
          : `(send to ${c.channel}) could go to ${receiver}, who waits to receive`;
      }
      case "acquire":
        return this.semaphore.available > 0
          ? `(acquire) has ${this.semaphore.available} permits free`
          : null;
      case "stop":
        return this.stop.settled ? "(stop) is set" : null;
      default:
        return null;
    }
  }

  /** Another role parked with a case of this sort (receive or send) on the channel. */
  waitingIn(except: Role, sort: "receive" | "send", channel: number): string | undefined {
    for (const role of this.roles) {
      if (role === except) continue;
      const call = role.call;
      if (call?.parks && role.task.state === "waiting") {
        const match = call.cases.some(
          (c) =>
            c.channel === channel &&
            (sort === "send"
              ? c.kind === "send"
              : c.kind === "receive" || c.kind === "receiveOrClosed"),
        );
        if (match) return role.name;
      }
      if (
        sort === "receive" &&
        role.members.some(
          (m) => m.receiving && m.channel === channel && m.task?.state === "waiting",
        )
      )
        return `a member of ${role.name}'s race`;
    }
    return undefined;
  }

  /**
   * Property 5: nothing left parked. An unbuffered channel nobody receives
   * from refuses a trySend; a buffered one takes exactly its free room;
   * then every value can be drained, the channel reports empty, and, once
   * closed, closed. Every permit is back and can be taken.
   */
  checkLeftBehind(): void {
    for (const role of this.roles) {
      if (!role.task.isDone()) this.problem(["left"], `${role.name} is ${role.task.state}`);
    }
    if (this.worker.tasks.length > 0) return; // their operations are still parked, rightly
    this.channels.forEach((channel, i) => {
      try {
        this.left.push(this.checkChannelLeft(channel, i));
      } catch (error) {
        this.left.push([]);
        this.problem(
          ["residue"],
          `channel ${i}: a trySend or tryReceive after the end threw ${error}`,
        );
      }
    });
    this.event(
      `left in the channels: ${this.left.map((l, i) => `${i}: [${l.join(" ")}]`).join(", ")}`,
    );
    const { available, permits } = this.semaphore;
    if (available !== permits)
      this.problem(
        ["residue"],
        `${permits - available} of ${permits} permits were never given back`,
      );
    else if (!this.semaphore.tryAcquire())
      this.problem(
        ["residue"],
        `every permit is free, yet tryAcquire() fails: a waiter was left in the queue`,
      );
    else this.semaphore.release();
    if (this.holders !== 0) this.problem(["residue"], `${this.holders} tasks still hold a permit`);
  }

  /** Probes channel `i` once every task has ended (see checkLeftBehind); gives the values left in it. */
  checkChannelLeft(channel: Channel<string>, i: number): string[] {
    const probes: string[] = [];
    const size = channel.size;
    if (!channel.closed) {
      const room = channel.capacity - size;
      for (let k = 0; k <= Math.max(room, 0); k++) {
        const probe = `probe#${k}`;
        if (!channel.trySend(probe)) break;
        probes.push(probe);
      }
      if (probes.length !== Math.max(room, 0))
        this.problem(
          ["residue"],
          `channel ${i} (capacity ${channel.capacity}, ${size} values) took ${probes.length} more values by trySend once every task had ended${channel.capacity === 0 ? ": a receiver was left in its queue" : ""}`,
        );
    } else {
      try {
        channel.trySend("probe");
        this.problem(["residue"], `channel ${i} is closed, yet trySend did not throw`);
      } catch (error) {
        if (!(error instanceof ChannelClosedError)) throw error;
      }
    }
    const left: string[] = [];
    let last: Received<string> = { ok: false, closed: false };
    for (last = channel.tryReceive(); last.ok; last = channel.tryReceive()) {
      left.push(last.value);
      if (left.length > 100) break;
    }
    const values = left.filter((v) => !v.startsWith("probe#"));
    if (left.slice(values.length).join(" ") !== probes.join(" "))
      this.problem(
        ["residue"],
        `channel ${i} gave back [${left.join(", ")}], not its values then the probes [${probes.join(", ")}]`,
      );
    if (last.ok || last.closed !== channel.closed)
      this.problem(["residue"], `channel ${i}, drained, says ${JSON.stringify(last)}`);
    if (channel.size !== 0)
      this.problem(["residue"], `channel ${i} has size ${channel.size} once drained`);
    channel.close();
    const after = channel.tryReceive();
    if (after.ok || !after.closed)
      this.problem(
        ["residue"],
        `channel ${i}, drained and closed, says ${JSON.stringify(after)}: values promised to nobody are still in it`,
      );
    return values;
  }

  /** Properties 1 and 2: each value delivered at most once, from the channel its send went to, and only if sent. */
  checkDelivery(): void {
    const delivered = new Map<
      string,
      { channel: number | null; channels: number[]; by: string }[]
    >();
    const note = (value: string, channel: number | null, channels: number[], by: string) => {
      const list = delivered.get(value) ?? [];
      list.push({ channel, channels, by });
      delivered.set(value, list);
    };
    for (const t of this.takes) note(t.value, t.channel, t.channels, `${t.who} at ${t.seq}`);
    this.left.forEach((values, i) => {
      for (const v of values) note(v, i, [], `left in channel ${i}`);
    });
    for (const [value, list] of delivered) {
      const by = list.map((d) => d.by).join(", ");
      if (list.length > 1)
        this.problem(["delivery"], `${value} was delivered ${list.length} times: ${by}`);
      const send = this.sendRecords.get(value);
      if (send === undefined) {
        this.problem(["delivery"], `${value} was delivered (${by}) but never offered by a send`);
        continue;
      }
      for (const d of list) {
        const ok =
          d.channel === null ? d.channels.includes(send.channel) : d.channel === send.channel;
        if (!ok)
          this.problem(
            ["one"],
            `${value} was sent to channel ${send.channel}, yet taken from ${d.channel ?? `one of [${d.channels.join(", ")}]`} (${d.by})`,
          );
      }
      const call = send.call;
      if (send.outcome === "not sent") {
        const reported = call.result ?? "nothing";
        const other = reported.startsWith("case ");
        this.problem(
          other ? ["one"] : ["delivery"],
          `${value} was delivered (${by}), yet its call ${call.id} (${call.style} by ${call.who}) came to ${reported}${other ? ", another case" : ""}`,
        );
      }
      if (send.outcome === "pending") {
        const role = this.roles.find((r) => r.name === send.who);
        if (role?.cancel?.call === call && role.cancel.state === "waiting")
          this.problem(
            ["delivery"],
            `${value} was delivered (${by}), yet ${role.name} was cancelled while its call ${call.id} waited`,
          );
      }
    }
    for (const send of this.sendRecords.values()) {
      if (send.outcome === "sent" && !delivered.has(send.value)) {
        const cancelled = this.roles
          .filter((r) => r.cancel?.call?.cases.some((c) => c.channel === send.channel))
          .map((r) => `${r.name} (call ${r.cancel?.call?.id}, at ${r.cancel?.seq})`);
        this.problem(
          ["delivery", "one"],
          `${send.value} was sent to channel ${send.channel} (call ${send.call.id}) but is neither taken nor left there: lost${cancelled.length > 0 ? `; cancelled inside calls on it: ${cancelled.join(", ")}` : ""}`,
        );
      }
    }
    // A race over routines: at most one member took a value (and it won; checked as the call returned).
    for (const call of this.calls) {
      if (call.takes.length > 1)
        this.problem(
          ["one"],
          `call ${call.id} (${call.style} by ${call.who}) took ${call.takes.map((t) => t.value).join(" and ")}`,
        );
      const tookNothing = ["nap", "timeout", "stop", "closed", "sleep", "none"];
      if (call.result !== null && tookNothing.includes(call.result) && call.takes.length > 0)
        this.problem(
          ["delivery", "one"],
          `call ${call.id} came to ${call.result}, yet took ${call.takes[0]?.value}`,
        );
    }
  }

  /** Property 3: per sender and channel, values taken strictly in the order sent; those left come after, in order. */
  checkOrder(): void {
    const lines = new Map<string, { index: number; what: string }[]>();
    const add = (value: string, what: string) => {
      const send = this.sendRecords.get(value);
      if (send === undefined) return;
      const key = `${send.who} → ${send.channel}`;
      const list = lines.get(key) ?? [];
      list.push({ index: send.index, what: `${value} ${what}` });
      lines.set(key, list);
    };
    for (const t of [...this.takes].sort((a, b) => a.seq - b.seq))
      add(t.value, `taken by ${t.who} at ${t.seq}`);
    this.left.forEach((values) => {
      for (const v of values) add(v, "left in the channel");
    });
    for (const [key, list] of lines) {
      for (let k = 1; k < list.length; k++) {
        const a = list[k - 1] as { index: number; what: string };
        const b = list[k] as { index: number; what: string };
        if (b.index < a.index)
          this.problem(["order"], `${key}: ${a.what}, then ${b.what}, which was sent before it`);
      }
    }
  }

  /** Fails with the problems of these kinds (and tasks left, errors), and the run's events. */
  assertNo(...kinds: string[]): void {
    const found = ["left", ...kinds].flatMap((k) => this.problems.get(k) ?? []);
    if (found.length > 0) assert.fail(`${found.join("\n")}\nevents:\n${this.trace.join("\n")}`);
  }
}

const property = (...kinds: string[]) =>
  fc.assert(
    fc.asyncProperty(programArb, async (program) => {
      (await new SelectRun(program).execute()).assertNo(...kinds);
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );

test("1. no value is lost or duplicated: every completed send is taken exactly once or left in its channel; a call cancelled or timed out takes nothing", async () => {
  await property("delivery");
});

test("2. exactly one case: each call that returned did the one operation it reports, and no other", async () => {
  await property("one");
});

test("3. each sender's values are taken from each channel strictly in the order sent, across consumers and cancels", async () => {
  await property("order");
});

// ---------------------------------------------------------------- fairness

/** A case of the fairness programs: ready in every round, or never ready (idle). */
type FairKind =
  | "channel" // a channel kept full (by trySend before each round, or by a producer parked in send)
  | "future" // a future already resolved
  | "permit" // a free permit (given back after each round; select only)
  | "empty channel"
  | "pending future"
  | "sleep" // sleep(1000), or a member napping that long
  | "due sleep"; // sleep(0): due at once, but a ready operation goes first

interface FairCase {
  kind: FairKind;
  capacity: number;
  /** For a ready channel: a producer task keeps it ready, rather than trySend before each round. */
  producer: boolean;
}

interface FairProgram {
  form: "select" | "race" | "race routines";
  direct: boolean;
  named: boolean;
  cases: FairCase[];
}

const READY: readonly FairKind[] = ["channel", "future", "permit"];
const ROUNDS = 2000;

const fairCaseArb = (kinds: FairKind[]) =>
  fc.record({
    kind: fc.constantFrom(...kinds),
    capacity: fc.nat(2),
    producer: fc.boolean(),
  });

const fairProgramArb: fc.Arbitrary<FairProgram> = fc
  .record({
    form: fc.constantFrom<FairProgram["form"]>("select", "race", "race routines"),
    direct: fc.boolean(),
    named: fc.boolean(),
    ready: fc.array(fairCaseArb(["channel", "future", "permit"]), { minLength: 2, maxLength: 4 }),
    idle: fc.array(fairCaseArb(["empty channel", "pending future", "sleep", "due sleep"]), {
      maxLength: 4,
    }),
    order: fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
  })
  .map(({ form, direct, named, ready, idle, order }) => {
    // At most as many idle cases as ready ones, so that each ready case's fair share is at least 1/(2k).
    const all = [...ready, ...idle.slice(0, ready.length)].map((c) => ({
      ...c,
      kind: c.kind === "permit" && form !== "select" ? ("future" as FairKind) : c.kind,
      producer: c.kind === "channel" && (c.producer || c.capacity === 0),
      capacity: c.kind === "channel" ? c.capacity : 0,
    }));
    // Mixed by `order`, so that ready and idle cases come in every arrangement.
    const cases: FairCase[] = [];
    all.forEach((c, i) => {
      cases.splice((order[i] ?? 0) % (cases.length + 1), 0, c);
    });
    return printable(
      { form, direct, named: named && form === "select", cases },
      (p) =>
        `${p.direct ? "yield " : ""}${p.form} ${p.named ? "{" : "["}${p.cases
          .map((c) =>
            c.kind === "channel"
              ? `channel (capacity ${c.capacity}${c.producer ? ", kept full by a producer" : ""})`
              : c.kind,
          )
          .join(", ")}${p.named ? "}" : "]"}`,
    );
  });

const fairTake = routine(function* fairTake(channel: Channel<number>) {
  return yield* channel.receive();
});
const fairWait = routine(function* fairWait(future: Future<number>) {
  return yield* future.wait();
});
const fairNap = routine(function* fairNap(seconds: number) {
  yield sleep(seconds);
  return -1;
});

/** Runs ROUNDS rounds of the program's call; gives the wins of each case (an idle case's wins are a problem). */
function fairRun(program: FairProgram): number[] {
  const worker = new Worker({ clock: new VirtualClock() });
  const { cases, form, direct, named } = program;
  const channels = cases.map((c) => new Channel<number>(c.capacity));
  const futures = cases.map((c, i) => {
    const f = new Future<number>();
    if (c.kind === "future") f.resolve(i);
    return f;
  });
  const permits = new Semaphore(1);
  const wins = cases.map(() => 0);
  const producers = cases.flatMap((c, i) =>
    c.kind === "channel" && c.producer
      ? [
          worker.assign(
            (function* producer() {
              for (;;) yield* (channels[i] as Channel<number>).send(i);
            })(),
          ),
        ]
      : [],
  );
  const operation = (c: FairCase, i: number): Generator<unknown, unknown, any> => {
    switch (c.kind) {
      case "channel":
      case "empty channel":
        return (channels[i] as Channel<number>).receive();
      case "future":
      case "pending future":
        return (futures[i] as Future<number>).wait();
      case "permit":
        return permits.acquire();
      case "sleep":
        return sleep(1000);
      case "due sleep":
        return sleep(0);
    }
  };
  const member = (c: FairCase, i: number): Generator<unknown, number, any> => {
    switch (c.kind) {
      case "channel":
      case "empty channel":
        return fairTake(channels[i] as Channel<number>);
      case "sleep":
        return fairNap(1000);
      case "due sleep":
        return fairNap(0);
      default:
        return fairWait(futures[i] as Future<number>);
    }
  };
  function* consumer(): Generator<unknown, void, any> {
    for (let round = 0; round < ROUNDS; round++) {
      cases.forEach((c, i) => {
        if (c.kind === "channel" && !c.producer)
          while ((channels[i] as Channel<number>).trySend(i)) {}
      });
      let index: number;
      if (form === "select") {
        const ops = cases.map(operation);
        if (named) {
          const got = direct
            ? ((yield select(Object.fromEntries(ops.map((op, i) => [`k${i}`, op])))) as {
                key: string;
              })
            : yield* select(Object.fromEntries(ops.map((op, i) => [`k${i}`, op])));
          index = Number(got.key.slice(1));
        } else {
          const got = direct ? ((yield select(ops)) as { index: number }) : yield* select(ops);
          index = got.index;
        }
        if (cases[index]?.kind === "permit") permits.release();
      } else if (form === "race") {
        // Receives give their case's index, and so do the futures; a sleep case gives undefined.
        const ops = cases.map(operation);
        const value = direct ? yield race(ops) : yield* race(ops);
        index = typeof value === "number" ? value : -1;
      } else {
        const members = cases.map(member);
        index = direct ? ((yield race(members)) as number) : yield* race(members);
      }
      if (index < 0 || index >= wins.length) throw new Error(`round ${round}: a sleep case won`);
      wins[index] = (wins[index] as number) + 1;
      if (producers.length > 0) yield; // the producer of the channel taken from sends again
    }
    for (const p of producers) p.cancel();
  }
  worker.assign(consumer());
  worker.work();
  return wins;
}

test("4. no starvation: when several cases are always ready, each wins at least a third of its fair share over 2000 rounds (select, race over operations, race over routines)", () => {
  fc.assert(
    fc.property(fairProgramArb, (program) => {
      const wins = fairRun(program);
      const ready = program.cases.filter((c) => READY.includes(c.kind)).length;
      const least = ROUNDS / (3 * ready);
      program.cases.forEach((c, i) => {
        const w = wins[i] as number;
        if (READY.includes(c.kind) && w < least)
          assert.fail(
            `case ${i} (${c.kind}) won ${w} of ${ROUNDS} rounds, under ${least.toFixed(0)}: wins [${wins.join(", ")}]`,
          );
        if (!READY.includes(c.kind) && w > 0)
          assert.fail(
            `case ${i} (${c.kind}) is never ready, yet won ${w} rounds: wins [${wins.join(", ")}]`,
          );
      });
    }),
    { numRuns: FAIR_RUNS, includeErrorInReport: true },
  );
});

test("5. nothing is left behind: no task, no parked operation, no permit out, no error reported", async () => {
  await property("residue");
});

test("6. a call waits only while none of its cases can happen", async () => {
  await property("wait");
});
