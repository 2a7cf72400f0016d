/**
 * Properties of the scheduler, checked on random programs.
 *
 * fast-check writes small programs in a tiny language: a few routines, each
 * a list of instructions (`yield`, `call` a later routine as a frame of the
 * task's stack with `yield r()`, `delegate` to one with `yield* r()`, so
 * that it runs inside the caller's frame, `spawn` one as a child task,
 * `join` or `cancel` a child, `sleep` 0, 1 or 2 seconds, `throw`, and `try`
 * blocks that catch), every body wrapped in try/finally, plus cleanup code
 * that runs in the `finally` when a routine is cancelled, most often code
 * that waits (yields, sleeps, calls or delegates). Routines are made with
 * `routine()`, as a user's would be, so under `yield*` they get the
 * library's delegation. Each program runs as real generators on a real
 * `Worker` with a `VirtualClock`, and on a reference model further down
 * this file: a small interpreter with an array for the run queue, explicit
 * call stacks of instruction pointers (a frame in a `yield*` holds the
 * frame it delegates to) and a sorted timer list, written from the
 * scheduling rules alone and sharing no code with `src/`. Both write the
 * same trace (one line per instruction run, per `finally`, per value or
 * error a resume brings, per error reported to `onError`). The properties:
 *
 * - a. With calls, delegations, spawns, joins and sleeps, the worker's
 *   trace, final task states and results are exactly the model's.
 * - b. With throws and catches too, they still are, and no error is lost or
 *   delivered twice: each thrown error ends in exactly one catch block,
 *   waiting join or `onError` call.
 * - c1. With cancels too (from inside, of children, and from outside, of
 *   top-level tasks between ticks), every routine that started runs its
 *   `finally` exactly once; no routine a cancelled task was running, called
 *   with `yield` or `yield*`, runs its next line or a catch block after the
 *   cancel, even when a cleanup below it waited; no task is left; and a
 *   task cancelled while its body ran ends "cancelled", or "failed" with an
 *   error its cleanup threw.
 * - c2. Under cancels, no error is lost or delivered twice.
 * - c3. Under cancels, the worker's trace, states and results are the model's.
 * - d. Driving the worker with `tick()` (moving the clock when nothing is
 *   runnable) gives the same trace, states and clock as `work()`.
 * - e. Driving it with `await run()` (slices between turns of the event
 *   loop, virtual time jumped when nothing is runnable) does too.
 * - f. Programs made for cancels deep in the stack (more routines, mostly
 *   calls and delegations, so that stacks mix `yield r()` frames and
 *   `yield* r()` chains at several depths, and at least one outside cancel)
 *   satisfy all of c1, c2 and c3.
 *
 * A failing property prints the shrunk program in the language below, e.g.
 * `r0: [spawn r1, delegate r2, join 0] r1: [yield, throw]  r2: [sleep 1]
 * cleanup [yield]  tasks: r0  cancel t1 after 4 steps`. Each property makes
 * 5000 programs; set PROPERTY_RUNS=100000 to search longer.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  CancelledError,
  routine,
  sleep,
  spawn,
  type Task,
  VirtualClock,
  Worker,
} from "../src/index.ts";

// ---------------------------------------------------------------- programs

/** One instruction. Routine references point to later routines only, so calls and spawns are bounded. */
type Instr =
  | { op: "yield" }
  | { op: "call"; routine: number }
  | { op: "delegate"; routine: number }
  | { op: "spawn"; routine: number }
  | { op: "join"; child: number }
  | { op: "sleep"; seconds: 0 | 1 | 2 }
  | { op: "throw" }
  | { op: "try"; body: Instr[] }
  | { op: "cancel"; child: number };

interface RoutineDef {
  /** Runs when the routine is called. */
  body: Instr[];
  /** Runs in the `finally`, only when the routine is cancelled (unwound by `return()`). */
  cleanup: Instr[];
}

interface Program {
  routines: RoutineDef[];
  /** The routine of each top-level task, assigned in this order. */
  tasks: number[];
  /** Top-level tasks cancelled from outside, once `afterSteps` steps have been taken. */
  cancels: { afterSteps: number; task: number }[];
}

/** What a program may contain. */
interface Features {
  throws: boolean;
  /** `cancel` instructions and cleanup code. */
  cancels: boolean;
  /** Cancels of top-level tasks from outside, between ticks. */
  outside: boolean;
  /**
   * Mostly calls and delegations among more routines, and fewer tasks: deep
   * call stacks that mix `yield r()` and `yield* r()`, for the cancels to hit.
   */
  deep: boolean;
}

/** The child a `join i` or `cancel i` means: the i-th (mod count) one this routine spawned so far. */
function pick<T>(spawned: readonly T[], index: number): T | undefined {
  return spawned.length === 0 ? undefined : spawned[index % spawned.length];
}

function instrArb(features: Features, depth: number): fc.Arbitrary<Instr> {
  const w = features.deep
    ? { call: 4, delegate: 5, spawn: 1, join: 1, throw: 1, cancel: 1 }
    : { call: 2, delegate: 3, spawn: 3, join: 3, throw: 2, cancel: 2 };
  const choices: fc.WeightedArbitrary<Instr>[] = [
    { weight: 2, arbitrary: fc.constant<Instr>({ op: "yield" }) },
    { weight: w.call, arbitrary: fc.nat(5).map((routine): Instr => ({ op: "call", routine })) },
    {
      weight: w.delegate,
      arbitrary: fc.nat(5).map((routine): Instr => ({ op: "delegate", routine })),
    },
    { weight: w.spawn, arbitrary: fc.nat(5).map((routine): Instr => ({ op: "spawn", routine })) },
    { weight: w.join, arbitrary: fc.nat(3).map((child): Instr => ({ op: "join", child })) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom<0 | 1 | 2>(0, 1, 2)
        .map((seconds): Instr => ({ op: "sleep", seconds })),
    },
  ];
  if (features.throws) {
    choices.push({ weight: w.throw, arbitrary: fc.constant<Instr>({ op: "throw" }) });
    if (depth < 2) {
      choices.push({
        weight: 1,
        arbitrary: fc
          .array(instrArb(features, depth + 1), { minLength: 1, maxLength: 3 })
          .map((body): Instr => ({ op: "try", body })),
      });
    }
  }
  if (features.cancels) {
    choices.push({
      weight: w.cancel,
      arbitrary: fc.nat(3).map((child): Instr => ({ op: "cancel", child })),
    });
  }
  return fc.oneof(...choices);
}

/** An instruction that makes a cleanup wait: its end comes on a later step. */
const waitArb: fc.Arbitrary<Instr> = fc.oneof(
  fc.constant<Instr>({ op: "yield" }),
  fc.constantFrom<0 | 1 | 2>(0, 1, 2).map((seconds): Instr => ({ op: "sleep", seconds })),
  fc.nat(5).map((routine): Instr => ({ op: "call", routine })),
  fc.nat(5).map((routine): Instr => ({ op: "delegate", routine })),
);

/**
 * Cleanup code: most often around an instruction that waits (a cleanup
 * that ends in the step it started needs no more of the worker).
 */
function cleanupArb(features: Features): fc.Arbitrary<Instr[]> {
  const any = instrArb(features, 1);
  return fc.oneof(
    { weight: 1, arbitrary: fc.array(any, { maxLength: 2 }) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.array(any, { maxLength: 1 }), waitArb, fc.array(any, { maxLength: 1 }))
        .map(([before, wait, after]) => [...before, wait, ...after]),
    },
  );
}

/** Random programs with the given features, normalized so that every reference is valid. */
function programArb(features: Features): fc.Arbitrary<Program> {
  const routine = fc.record({
    body: fc.array(instrArb(features, 0), { maxLength: 6 }),
    cleanup: features.cancels ? cleanupArb(features) : fc.constant<Instr[]>([]),
  });
  return fc
    .record({
      routines: features.deep
        ? fc.array(routine, { minLength: 3, maxLength: 5 })
        : fc.array(routine, { minLength: 2, maxLength: 4 }),
      tasks: features.deep
        ? fc.array(fc.nat(1), { minLength: 1, maxLength: 2 })
        : fc.array(fc.nat(3), { minLength: 1, maxLength: 4 }),
      cancels: features.outside
        ? fc.array(fc.record({ afterSteps: fc.nat(features.deep ? 12 : 20), task: fc.nat(3) }), {
            minLength: features.deep ? 1 : 0,
            maxLength: 3,
          })
        : fc.constant<Program["cancels"]>([]),
    })
    .map(normalize);
}

/**
 * Makes a raw program valid: routine r may only call, delegate to or spawn
 * routines after it (a reference with nowhere to go becomes `yield`), tasks
 * and cancels point to existing routines and tasks, cancels are sorted by
 * time.
 */
function normalize(raw: Program): Program {
  const n = raw.routines.length;
  const fix = (r: number, instr: Instr): Instr => {
    switch (instr.op) {
      case "call":
      case "delegate":
      case "spawn":
        return r + 1 >= n
          ? { op: "yield" }
          : { op: instr.op, routine: r + 1 + (instr.routine % (n - r - 1)) };
      case "try":
        return { op: "try", body: instr.body.map((i) => fix(r, i)) };
      default:
        return instr;
    }
  };
  const program: Program = {
    routines: raw.routines.map((def, r) => ({
      body: def.body.map((i) => fix(r, i)),
      cleanup: def.cleanup.map((i) => fix(r, i)),
    })),
    tasks: raw.tasks.map((k) => k % n),
    cancels: raw.cancels
      .map((c) => ({ afterSteps: c.afterSteps, task: c.task % raw.tasks.length }))
      .sort((a, b) => a.afterSteps - b.afterSteps),
  };
  return Object.assign(program, { [fc.toStringMethod]: () => showProgram(program) });
}

function showInstr(instr: Instr): string {
  switch (instr.op) {
    case "call":
    case "delegate":
    case "spawn":
      return `${instr.op} r${instr.routine}`;
    case "join":
    case "cancel":
      return `${instr.op} ${instr.child}`;
    case "sleep":
      return `sleep ${instr.seconds}`;
    case "try":
      return `try { ${instr.body.map(showInstr).join(", ")} }`;
    default:
      return instr.op;
  }
}

/** A program as text: `r0: [spawn r1, join 0] cleanup [yield]  r1: [throw]  tasks: r0  cancel t1 after 3 steps`. */
function showProgram(program: Program): string {
  const routines = program.routines.map((def, r) => {
    const cleanup =
      def.cleanup.length === 0 ? "" : ` cleanup [${def.cleanup.map(showInstr).join(", ")}]`;
    return `r${r}: [${def.body.map(showInstr).join(", ")}]${cleanup}`;
  });
  const tasks = `tasks: ${program.tasks.map((k) => `r${k}`).join(" ")}`;
  const cancels = program.cancels.map((c) => `cancel t${c.task + 1} after ${c.afterSteps} steps`);
  return [...routines, tasks, ...cancels].join("  ");
}

/*
 * The trace. Both interpreters write the same lines:
 *   t2 #5 start                     routine instance 5 starts on task t2
 *   t2 #5.1 yield                   instruction 1 of instance 5 (try bodies add a level: #5.3.0)
 *   t2 #5.2 call #6 / ret v6        a call, and the value it returned
 *   t2 #5.2 delegate #6 / ret v6    the same with yield* (instance 6 runs inside the frame of 5)
 *   t2 #5.3 spawn t3 #7             a child task t3 running instance 7
 *   t2 #5.4 join t3 / joined v7 / join caught E2 / join caught E2 late (t3 had ended before the join)
 *   t2 #5.5 sleep 1 / slept
 *   t2 #5.6 throw E3
 *   t2 #5.7 try / caught E3
 *   t2 #5.8 cancel t3
 *   t2 #5 finally                   its finally block; #5.f.0 ... is cleanup code after a cancel
 *   onError E3                      the worker reported an error nobody handled
 */

/** The errors programs throw, tagged with a unique id. */
class ProgramError extends Error {
  constructor(readonly id: string) {
    super(id);
  }
}

function describeError(error: unknown): string {
  if (error instanceof ProgramError) return error.id;
  if (error instanceof CancelledError) return "Cancelled";
  return `unexpected ${String(error)}`;
}

// ------------------------------------------------------- the real worker

/** A program running as real generators on a real Worker. */
class RealRun {
  readonly trace: string[] = [];
  readonly clock = new VirtualClock();
  readonly worker: Worker;
  /** Every task, in order of creation (top-level tasks first). */
  readonly tasks: Task<unknown>[] = [];
  /** For each task hit by a cancel: the trace length when it was, and whether its body had ended. */
  readonly cancelled = new Map<Task<unknown>, { at: number; bodyEnded: boolean }>();
  readonly #program: Program;
  #nextInstance = 1;
  #nextTask = 1;
  #nextError = 1;
  /** Tasks whose bottom routine has run its `finally` (their body ended). */
  readonly #bottomEnded = new Set<string>();

  constructor(program: Program) {
    this.#program = program;
    this.worker = new Worker({
      clock: this.clock,
      onError: (error) => this.trace.push(`onError ${describeError(error)}`),
    });
    for (const k of program.tasks) {
      const instance = this.#nextInstance++;
      const label = `t${this.#nextTask++}`;
      this.#watch(
        this.worker.assign(RealRun.#routine(this, k, instance, label, true), { name: label }),
      );
    }
  }

  /** Runs to the end with work(). */
  work(): void {
    this.worker.work();
  }

  /**
   * Runs to the end with tick(), applying the program's outside cancels.
   * Every deadline is a whole number of seconds (sleeps are 0, 1 or 2 from a
   * clock that starts at 0 and only moves here), so moving the clock one
   * second whenever nothing is runnable reaches exactly the next deadline.
   */
  tickToEnd(): void {
    const cancels = this.#program.cancels;
    let next = 0;
    let steps = 0;
    let idle = 0;
    for (;;) {
      while (next < cancels.length && (cancels[next]?.afterSteps ?? 0) <= steps) {
        this.#cancel(this.tasks[cancels[next]?.task ?? 0]);
        next++;
      }
      if (this.worker.tick()) {
        steps++;
        idle = 0;
        continue;
      }
      if (this.worker.tasks.length === 0) return;
      if (++idle > 3)
        throw new Error(`stuck: nothing runnable and no timer due\n${this.worker.dump()}`);
      this.clock.advance(1);
    }
  }

  /** Each task's end: `t1 done v1`, `t2 failed E3`, `t3 cancelled`. */
  finals(): string[] {
    return this.tasks.map((t) => {
      if (t.state === "done") return `${t.name} done ${String(t.result)}`;
      if (t.state === "failed") return `${t.name} failed ${describeError(t.error)}`;
      return `${t.name} ${t.state}`;
    });
  }

  #cancel(task: Task<unknown> | undefined): void {
    task?.cancel();
  }

  /**
   * Keeps a new task, and notes the moment a cancel reaches it: its signal
   * is aborted then (a cancel reaches a task's children one at a time,
   * youngest first, so that moment is not the moment its ancestor was
   * cancelled).
   */
  #watch(task: Task<unknown>): void {
    this.tasks.push(task);
    task.signal.addEventListener(
      "abort",
      () => {
        if (task.isDone() || this.cancelled.has(task)) return;
        this.cancelled.set(task, {
          at: this.trace.length,
          bodyEnded: this.#bottomEnded.has(task.name),
        });
      },
      { once: true },
    );
  }

  /**
   * Every routine instance is a generator of this one function, made with
   * `routine()` as a user's routine would be: under `yield*` (`delegate`)
   * it gives the library's delegation. A `call` and a task step the same
   * generators directly, as frames of the task's own stack.
   */
  static readonly #routine = routine(function* programRoutine(
    run: RealRun,
    k: number,
    instance: number,
    label: string,
    bottom: boolean,
  ): Generator<unknown, string, unknown> {
    const def = run.#program.routines[k] as RoutineDef;
    const spawned: Task<unknown>[] = [];
    run.trace.push(`${label} #${instance} start`);
    let ended = false;
    try {
      yield* run.#block(def.body, `#${instance}`, label, spawned);
      ended = true;
    } catch (error) {
      ended = true;
      throw error;
    } finally {
      run.trace.push(`${label} #${instance} finally`);
      if (bottom) run.#bottomEnded.add(label);
      if (!ended) yield* run.#block(def.cleanup, `#${instance}.f`, label, spawned);
    }
    return `v${instance}`;
  });

  *#block(
    instrs: readonly Instr[],
    prefix: string,
    label: string,
    spawned: Task<unknown>[],
  ): Generator<unknown, void, unknown> {
    const log = (line: string): void => {
      this.trace.push(`${label} ${line}`);
    };
    for (const [pc, instr] of instrs.entries()) {
      const p = `${prefix}.${pc}`;
      switch (instr.op) {
        case "yield":
          log(`${p} yield`);
          yield;
          break;
        case "call": {
          const instance = this.#nextInstance++;
          log(`${p} call #${instance}`);
          const value = yield RealRun.#routine(this, instr.routine, instance, label, false);
          log(`${p} ret ${String(value)}`);
          break;
        }
        case "delegate": {
          const instance = this.#nextInstance++;
          log(`${p} delegate #${instance}`);
          const value = yield* RealRun.#routine(this, instr.routine, instance, label, false);
          log(`${p} ret ${String(value)}`);
          break;
        }
        case "spawn": {
          const instance = this.#nextInstance++;
          const child = `t${this.#nextTask++}`;
          log(`${p} spawn ${child} #${instance}`);
          const task = spawn(RealRun.#routine(this, instr.routine, instance, child, true), {
            name: child,
          });
          this.#watch(task);
          spawned.push(task);
          break;
        }
        case "join": {
          const task = pick(spawned, instr.child);
          if (task === undefined) {
            log(`${p} join none`);
            break;
          }
          const late = task.isDone();
          log(`${p} join ${task.name}`);
          try {
            const value = yield* task.join();
            log(`${p} joined ${String(value)}`);
          } catch (error) {
            const reread = late && error === task.error;
            log(`${p} join caught ${describeError(error)}${reread ? " late" : ""}`);
          }
          break;
        }
        case "sleep":
          log(`${p} sleep ${instr.seconds}`);
          yield sleep(instr.seconds);
          log(`${p} slept`);
          break;
        case "throw": {
          const id = `E${this.#nextError++}`;
          log(`${p} throw ${id}`);
          throw new ProgramError(id);
        }
        case "try":
          log(`${p} try`);
          try {
            yield* this.#block(instr.body, p, label, spawned);
          } catch (error) {
            log(`${p} caught ${describeError(error)}`);
          }
          break;
        case "cancel": {
          const task = pick(spawned, instr.child);
          log(`${p} cancel ${task?.name ?? "none"}`);
          this.#cancel(task);
          break;
        }
      }
    }
  }
}

// ------------------------------------------------------- the reference model

/*
 * The model runs the same programs from the scheduling rules alone. A value
 * is a string ("v3"), an error is its id ("E3", or "Cancelled" for what a
 * join of a cancelled task throws). A routine frame keeps a stack of cursors
 * (an instruction list and the index of the next instruction); `try` pushes
 * a cursor that catches; a frame in a `yield*` holds the frame it delegates
 * to. A task keeps its call stack of frames, how its top frame is resumed
 * next (next, throw or return, with a value), and what it waits on. The
 * rules:
 *
 * - The run queue is first in, first out; new tasks go to the back, a child
 *   during its parent's step, so before the parent goes back.
 * - A step wakes every due timer (earliest deadline first, ties in the order
 *   they were set, each to the back), then resumes the head task's top frame
 *   once. After it: a plain yield sends the task to the back; a yielded
 *   routine is pushed on its stack (it starts on the next step); the top
 *   frame returning or throwing is popped and its caller gets the value or
 *   the error on the next step; an empty stack ends the body.
 * - `yield* r()` runs r inside the caller's frame, at no step of its own:
 *   r starts at once, in the same step; its yields are the task's (every
 *   resume of the frame goes on down to the innermost routine delegated
 *   to); its return value is the value of the `yield*` and the caller goes
 *   on in the same resume; its error is raised in the caller there (a
 *   `try` around the `yield*` catches it).
 * - A return() of a frame in a `yield*` goes on down to the innermost
 *   routine too: its finally and cleanup run; if they end in that same
 *   resume, the routine above completes with a return as well (its own
 *   finally and cleanup run, and so on up). A delegated routine that was
 *   told to return and whose cleanup waited ends instead with a yield of
 *   UNWIND, and the task takes return() on its next step: it goes down the
 *   same chain, where the routine that ended returns at once, so its caller
 *   completes with a return. A cleanup error in a delegated routine while
 *   the task unwinds is noted as any cleanup error (below), and counts as
 *   the end of that cleanup. So after a cancel no caller's next line or
 *   catch block ever runs.
 * - `yield sleep(s)` parks the task itself until now + s; `sleep(0)` wakes
 *   it at once, to the back. When nothing is runnable, the clock jumps to
 *   the next deadline.
 * - `yield* t.join()` of a task that has ended gives its outcome at once,
 *   in the same step, unless an error waits to be thrown in at the joiner's
 *   next yield: then it yields t and goes to the back with the outcome (a
 *   re-read). A join of a live task parks until t ends; joiners are woken
 *   in the order they joined. A joiner that receives an error handles it.
 * - A body that ended waits for its children; a task ends when both have;
 *   then its joiners wake and, if its parent's body ended and it was the
 *   last child, the parent ends in the same step. A body that failed (or a
 *   task that ends cancelled) tears its children down (below).
 * - An error nobody joined goes to the parent: if the parent's body ended,
 *   the parent fails with it (first error only) and its other children are
 *   torn down; if the parent is parked it is released, sent to the back, and
 *   the error thrown in; if it is queued with a plain resume, that resume
 *   becomes the throw; if it is queued with a woken value or an error
 *   already, the error waits: after its next step it is thrown in at the
 *   yield that step reached (what was yielded is dropped), or in place of
 *   the value a returning frame brings its caller (an error a frame threw
 *   goes first). Top-level errors, errors for a parent
 *   that is cancelling, and errors still waiting when a body ends go to
 *   onError.
 * - cancel(t) marks t: with live children, t leaves the queue or its wait
 *   and waits while they are torn down, last in first out: its youngest
 *   live child is cancelled, and the next only once that one has ended;
 *   then t unwinds. Without children t is released from its wait (to the
 *   back if it was parked; in place if it was queued, its pending resume
 *   dropped, an error in it reported unless it is only a re-read join
 *   outcome) and unwinds: each frame on the stack at that moment gets
 *   return() in turn, while frames its cleanup pushes run normally. A
 *   cleanup error makes the task fail (later ones are reported). A child
 *   its own cleanup spawns belongs to the cleanup (it is not cancelled, and
 *   is torn down if it outlives the cleanup); a child spawned into a task
 *   whose children are being torn down is cancelled at once.
 */

type Mode = "next" | "throw" | "return";
type Value = string | undefined;

interface Cursor {
  instrs: readonly Instr[];
  pc: number;
  path: string;
  /** A `try` body: an error raised inside is caught here. */
  catches: boolean;
}

/** Where a suspended routine frame waits, so that its resume can log what it receives. */
type Suspension =
  | { kind: "yield" }
  | { kind: "call"; path: string }
  | { kind: "delegate"; path: string; callee: RoutineFrame }
  | { kind: "sleep"; path: string }
  | { kind: "join"; path: string; target: MTask; late: boolean };

interface RoutineFrame {
  routine: number;
  instance: number;
  label: string;
  spawned: MTask[];
  status: "new" | "started" | "done";
  /** Running its body, or its cleanup code (after a return()). */
  phase: "body" | "cleanup";
  cursors: Cursor[];
  at: Suspension | null;
  /** Delegated to (`yield*`) and told to return() since: its delegation turns a later end into UNWIND. */
  returning: boolean;
}

type Yielded =
  | { kind: "plain" }
  | { kind: "call"; frame: RoutineFrame }
  | { kind: "sleep"; seconds: number }
  | { kind: "join"; target: MTask }
  | { kind: "unwind" };

/** How one resume of a frame ended. */
type Completion =
  | { kind: "yield"; yielded: Yielded }
  | { kind: "return"; value: Value }
  | { kind: "throw"; error: string };

interface TimerEntry {
  deadline: number;
  seq: number;
  task: MTask;
}

interface MTask {
  label: string;
  parent: MTask | null;
  /** Live children, oldest first. */
  children: MTask[];
  state: "runnable" | "waiting" | "done" | "failed" | "cancelled";
  /** Call stack, bottom first. */
  stack: RoutineFrame[];
  /** How the top frame is resumed on the next step. */
  mode: Mode;
  input: Value;
  /** Parked on a timer, on a task (join), or waiting for its children. */
  parkedOn: TimerEntry | MTask | "children" | null;
  /** It was woken from a park and has not taken that outcome yet: by a timer, or by the joined task. */
  woken: "timer" | MTask | null;
  /** Its next resume is the outcome of a task that had already ended when it joined (a re-read). */
  reread: boolean;
  /** Tasks parked joining it, in order. */
  joiners: MTask[];
  /** Children's errors to throw in at its next yield. */
  pending: string[];
  bodyEnded: boolean;
  /** Once the body ended: how it ends, and its result or error. */
  end: "done" | "failed" | "cancelled";
  outcome: Value;
  cancelling: boolean;
  /** While its children are torn down: those left, oldest first (the youngest goes next). */
  teardown: MTask[] | null;
  unwinding: boolean;
  /** While unwinding: frames at this index and below still get return(). */
  unwindFrom: number;
  /** The first error a cleanup threw while unwinding. */
  cleanupError: string | undefined;
  /** Its error reached a joiner or its parent. */
  handled: boolean;
}

const ended = (t: MTask): boolean =>
  t.state === "done" || t.state === "failed" || t.state === "cancelled";

function modelError(message: string): Error {
  return new Error(`model: ${message}`);
}

class Model {
  readonly trace: string[] = [];
  readonly tasks: MTask[] = [];
  readonly #program: Program;
  /** The run queue, head first. */
  readonly #queue: MTask[] = [];
  /** Parked sleepers; woken by (deadline, seq). */
  #timers: TimerEntry[] = [];
  #now = 0;
  #seq = 0;
  #live = 0;
  #nextInstance = 1;
  #nextTask = 1;
  #nextError = 1;
  /** The task stepping now. */
  #current: MTask | null = null;

  constructor(program: Program) {
    this.#program = program;
    for (const k of program.tasks) {
      const instance = this.#nextInstance++;
      const label = `t${this.#nextTask++}`;
      this.#createTask(null, this.#routineFrame(k, instance, label));
    }
  }

  /** Steps until no task is left; when nothing is runnable, jumps the clock to the next deadline. */
  run(): void {
    const cancels = this.#program.cancels;
    let next = 0;
    let steps = 0;
    for (;;) {
      while (next < cancels.length && (cancels[next]?.afterSteps ?? 0) <= steps) {
        this.#cancel(this.tasks[cancels[next]?.task ?? 0] as MTask);
        next++;
      }
      if (this.#step()) {
        if (++steps > 100_000) throw modelError("too many steps");
        continue;
      }
      if (this.#live === 0) return;
      if (this.#timers.length === 0) throw modelError("stuck: nothing runnable, no timer");
      this.#now = Math.min(...this.#timers.map((e) => e.deadline));
    }
  }

  finals(): string[] {
    return this.tasks.map((t) => {
      if (t.state === "done" || t.state === "failed") return `${t.label} ${t.state} ${t.outcome}`;
      return `${t.label} ${t.state}`;
    });
  }

  // ---- one step

  #step(): boolean {
    // Due timers wake first, earliest deadline first, ties in the order they were set.
    const due = this.#timers
      .filter((e) => e.deadline <= this.#now)
      .sort((a, b) => a.deadline - b.deadline || a.seq - b.seq);
    this.#timers = this.#timers.filter((e) => e.deadline > this.#now);
    for (const entry of due) {
      const t = entry.task;
      t.state = "runnable";
      t.parkedOn = null;
      t.woken = "timer";
      t.mode = "next";
      t.input = undefined;
      this.#queue.push(t);
    }
    const task = this.#queue.shift();
    if (task === undefined) return false;
    const frame = task.stack[task.stack.length - 1];
    if (frame === undefined) throw modelError(`${task.label} queued with an empty stack`);
    const { mode, input } = task;
    task.mode = "next";
    task.input = undefined;
    task.woken = null;
    task.reread = false;
    this.#current = task;
    const completion = this.#resume(frame, mode, input);
    this.#current = null;
    if (completion.kind === "throw") this.#frameThrew(task, completion.error);
    else if (completion.kind === "return") this.#frameReturned(task, completion.value);
    else this.#yielded(task, completion.yielded);
    return true;
  }

  #yielded(task: MTask, yielded: Yielded): void {
    if (yielded.kind === "unwind") {
      // A cleanup reached through yield* has ended: the top frame takes return() on the next step.
      task.mode = "return";
      task.input = undefined;
      this.#queue.push(task);
      return;
    }
    if (task.pending.length > 0) {
      // A child's error waits: it is thrown in at this yield, and what was yielded is dropped.
      task.mode = "throw";
      task.input = task.pending.shift();
      this.#queue.push(task);
      return;
    }
    switch (yielded.kind) {
      case "plain":
        this.#queue.push(task);
        return;
      case "call":
        task.stack.push(yielded.frame);
        this.#queue.push(task);
        return;
      case "sleep": {
        // sleep(s) parks the task itself (no frame); sleep(0) is woken at once, to the back.
        if (yielded.seconds === 0) {
          task.woken = "timer";
          this.#queue.push(task);
          return;
        }
        const entry = { deadline: this.#now + yielded.seconds, seq: this.#seq++, task };
        this.#timers.push(entry);
        task.state = "waiting";
        task.parkedOn = entry;
        return;
      }
      case "join": {
        const target = yielded.target;
        if (ended(target)) {
          this.#setOutcome(task, target);
          task.reread = true;
          this.#queue.push(task);
        } else {
          task.state = "waiting";
          task.parkedOn = target;
          target.joiners.push(task);
        }
        return;
      }
    }
  }

  /** A joiner's next resume: the target's result, its error, or Cancelled. */
  #setOutcome(joiner: MTask, target: MTask): void {
    joiner.mode = target.state === "done" ? "next" : "throw";
    joiner.input = target.state === "cancelled" ? "Cancelled" : target.outcome;
  }

  #frameReturned(task: MTask, value: Value): void {
    task.stack.pop();
    if (task.stack.length === 0) {
      this.#bodyEnded(task, "done", value);
      return;
    }
    const index = task.stack.length - 1;
    if (task.unwinding && index < task.unwindFrom) {
      task.unwindFrom = index;
      task.mode = "return";
      task.input = undefined;
    } else if (task.pending.length > 0) {
      task.mode = "throw";
      task.input = task.pending.shift();
    } else {
      task.mode = "next";
      task.input = value;
    }
    this.#queue.push(task);
  }

  #frameThrew(task: MTask, error: string): void {
    task.stack.pop();
    if (task.stack.length === 0) {
      this.#bodyEnded(task, "failed", error);
      return;
    }
    const index = task.stack.length - 1;
    if (task.unwinding && index < task.unwindFrom) {
      this.#cleanupFailed(task, error);
      task.unwindFrom = index;
      task.mode = "return";
      task.input = undefined;
    } else {
      task.mode = "throw";
      task.input = error;
    }
    this.#queue.push(task);
  }

  #cleanupFailed(task: MTask, error: string): void {
    if (task.cleanupError === undefined) task.cleanupError = error;
    else this.#report(error);
  }

  #bodyEnded(task: MTask, kind: "done" | "failed", value: Value): void {
    task.bodyEnded = true;
    task.unwinding = false;
    let end: MTask["end"] = kind;
    let outcome = value;
    if (task.cancelling) {
      if (kind === "failed") this.#cleanupFailed(task, value as string);
      end = task.cleanupError === undefined ? "cancelled" : "failed";
      outcome = task.cleanupError;
    }
    if (task.pending.length > 0 && end === "done") {
      end = "failed";
      outcome = task.pending.shift();
    }
    for (const error of task.pending.splice(0)) this.#report(error);
    task.end = end;
    task.outcome = outcome;
    if (task.children.length > 0) {
      task.state = "waiting";
      task.parkedOn = "children";
      if (end !== "done") this.#tearDown(task);
      return;
    }
    this.#finalize(task);
  }

  /** The task's body ended and its children have: it ends, wakes its joiners, and may end its parent. */
  #finalize(first: MTask): void {
    let task: MTask | null = first;
    while (task !== null) {
      const t: MTask = task;
      t.state = t.end;
      t.parkedOn = null;
      this.#live--;
      const parent = t.parent;
      if (parent !== null) parent.children.splice(parent.children.indexOf(t), 1);
      const joiners = t.joiners.splice(0);
      if (joiners.length > 0 && t.state === "failed") t.handled = true;
      for (const joiner of joiners) {
        if (joiner.state !== "waiting" || joiner.parkedOn !== t) continue;
        joiner.state = "runnable";
        joiner.parkedOn = null;
        joiner.woken = t;
        this.#setOutcome(joiner, t);
        this.#queue.push(joiner);
      }
      if (t.state === "failed" && !t.handled) this.#propagate(t);
      task = null;
      if (parent?.teardown) this.#tearDownNext(parent);
      if (parent !== null && parent.children.length === 0 && parent.parkedOn === "children") {
        if (parent.bodyEnded) {
          task = parent;
        } else {
          // A cancelled parent waited for its children before unwinding.
          parent.state = "runnable";
          parent.parkedOn = null;
          this.#startUnwind(parent);
          this.#queue.push(parent);
        }
      }
    }
  }

  /** A failed task nobody joined: its parent gets the error, else onError. */
  #propagate(task: MTask): void {
    const error = task.outcome as string;
    const parent = task.parent;
    task.handled = true;
    if (parent === null || ended(parent) || parent.cancelling) {
      this.#report(error);
      return;
    }
    if (parent.bodyEnded) {
      if (parent.end !== "done") {
        this.#report(error);
        return;
      }
      parent.end = "failed";
      parent.outcome = error;
      this.#tearDown(parent);
      return;
    }
    if (parent === this.#current) throw modelError("a child failed during its parent's step");
    if (parent.state === "runnable" && (parent.woken !== null || parent.mode !== "next")) {
      parent.pending.push(error);
      return;
    }
    if (parent.state === "waiting") {
      this.#releaseParked(parent);
      parent.state = "runnable";
      this.#queue.push(parent);
    }
    parent.mode = "throw";
    parent.input = error;
    parent.reread = false;
  }

  #cancel(task: MTask): void {
    if (ended(task) || task.cancelling) return;
    task.cancelling = true;
    for (const error of task.pending.splice(0)) this.#report(error);
    if (task.bodyEnded) {
      if (task.end === "done") task.end = "cancelled";
      this.#tearDown(task);
      return;
    }
    if (task === this.#current) throw modelError("a task cancelled during its own step");
    const hasChildren = task.children.length > 0;
    if (task.state === "waiting") {
      this.#releaseParked(task);
      if (hasChildren) {
        task.parkedOn = "children";
        this.#tearDown(task);
        return;
      }
      task.state = "runnable";
      this.#startUnwind(task);
      this.#queue.push(task);
      return;
    }
    this.#dropNextResume(task);
    if (hasChildren) {
      this.#queue.splice(this.#queue.indexOf(task), 1);
      task.state = "waiting";
      task.parkedOn = "children";
      this.#tearDown(task);
      return;
    }
    this.#startUnwind(task);
  }

  /** Starts tearing the task's children down, last in first out, one at a time. */
  #tearDown(task: MTask): void {
    if (task.teardown !== null) return;
    task.teardown = [...task.children];
    this.#tearDownNext(task);
  }

  /** Cancels the youngest live child left (once it ends, the next); forgets the list when none is left. */
  #tearDownNext(task: MTask): void {
    const left = task.teardown as MTask[];
    for (let child = left.at(-1); child !== undefined; child = left.at(-1)) {
      if (!ended(child)) {
        this.#cancel(child);
        return;
      }
      left.pop();
    }
    task.teardown = null;
  }

  /**
   * A queued task will never take its pending resume. An error in it is
   * reported rather than lost, unless it is no error of its own: the
   * Cancelled a join of a cancelled task gives, or the error of a task that
   * had ended before the join (delivered already, when that task ended).
   */
  #dropNextResume(task: MTask): void {
    const { woken, reread } = task;
    task.woken = null;
    task.reread = false;
    if (task.mode !== "throw" || reread || woken === "timer") return;
    if (woken !== null && woken.state !== "failed") return;
    this.#report(task.input as string);
  }

  #releaseParked(task: MTask): void {
    const on = task.parkedOn;
    task.parkedOn = null;
    if (on === null || on === "children") return;
    if ("deadline" in on) this.#timers = this.#timers.filter((e) => e !== on);
    else on.joiners.splice(on.joiners.indexOf(task), 1);
  }

  #startUnwind(task: MTask): void {
    task.unwinding = true;
    task.unwindFrom = task.stack.length - 1;
    task.mode = "return";
    task.input = undefined;
  }

  #report(error: string): void {
    this.trace.push(`onError ${error}`);
  }

  #createTask(parent: MTask | null, frame: RoutineFrame): MTask {
    const task: MTask = {
      label: frame.label,
      parent,
      children: [],
      state: "runnable",
      stack: [frame],
      mode: "next",
      input: undefined,
      parkedOn: null,
      woken: null,
      reread: false,
      joiners: [],
      pending: [],
      bodyEnded: false,
      end: "done",
      outcome: undefined,
      cancelling: false,
      teardown: null,
      unwinding: false,
      unwindFrom: 0,
      cleanupError: undefined,
      handled: false,
    };
    this.tasks.push(task);
    this.#live++;
    parent?.children.push(task);
    this.#queue.push(task);
    if (parent?.cancelling) {
      // A child its own cleanup spawns belongs to the cleanup.
      if (!(parent === this.#current && parent.unwinding)) this.#cancel(task);
    } else if (parent?.teardown) this.#cancel(task);
    return task;
  }

  // ---- frames

  #routineFrame(routine: number, instance: number, label: string): RoutineFrame {
    return {
      routine,
      instance,
      label,
      spawned: [],
      status: "new",
      phase: "body",
      cursors: [],
      at: null,
      returning: false,
    };
  }

  #log(frame: RoutineFrame, line: string): void {
    this.trace.push(`${frame.label} ${line}`);
  }

  #resume(frame: RoutineFrame, mode: Mode, input: Value): Completion {
    if (frame.status === "done") throw modelError(`resumed a finished frame #${frame.instance}`);
    if (frame.status === "new") {
      // A generator that never started: throw() and return() end it without running anything.
      if (mode === "throw") {
        frame.status = "done";
        return { kind: "throw", error: input as string };
      }
      if (mode === "return") {
        frame.status = "done";
        return { kind: "return", value: undefined };
      }
      frame.status = "started";
      this.#log(frame, `#${frame.instance} start`);
      const body = (this.#program.routines[frame.routine] as RoutineDef).body;
      frame.cursors = [{ instrs: body, pc: 0, path: `#${frame.instance}`, catches: false }];
      return this.#exec(frame);
    }
    const at = frame.at;
    if (at === null) throw modelError(`frame #${frame.instance} resumed but not suspended`);
    if (at.kind === "delegate") {
      // Inside yield*: the resume (next, throw or return) goes on to the routine delegated to.
      const completion = this.#resumeDelegation(at.callee, mode, input);
      return this.#delegationEnded(frame, at, mode === "return", completion);
    }
    frame.at = null;
    if (mode === "return") return this.#returnFrom(frame);
    if (mode === "throw") {
      const error = input as string;
      if (at.kind !== "join") return this.#raise(frame, error);
      const target = at.target;
      const reread = at.late && target.state === "failed" && target.outcome === error;
      this.#log(frame, `${at.path} join caught ${error}${reread ? " late" : ""}`);
      return this.#exec(frame);
    }
    if (at.kind === "call") this.#log(frame, `${at.path} ret ${String(input)}`);
    else if (at.kind === "sleep") this.#log(frame, `${at.path} slept`);
    else if (at.kind === "join") this.#log(frame, `${at.path} joined ${String(input)}`);
    return this.#exec(frame);
  }

  /**
   * A resume of a routine delegated to, through its delegation: a return()
   * is remembered; once remembered, the end of the cleanup (a return, or an
   * error noted on the unwinding task) is a yield of UNWIND, never an end
   * the caller would go on after. A routine that already ended returns at
   * once (the return() the worker sends after UNWIND).
   */
  #resumeDelegation(callee: RoutineFrame, mode: Mode, input: Value): Completion {
    if (mode === "return") {
      callee.returning = true;
      if (callee.status === "done") return { kind: "return", value: undefined };
      const completion = this.#resume(callee, "return", undefined);
      if (completion.kind === "throw" && this.#noteCleanupError(completion.error)) {
        return { kind: "return", value: undefined };
      }
      return completion;
    }
    const completion = this.#resume(callee, mode, input);
    if (!callee.returning || completion.kind === "yield") return completion;
    if (completion.kind === "throw" && !this.#noteCleanupError(completion.error)) return completion;
    return { kind: "yield", yielded: { kind: "unwind" } };
  }

  /** A cleanup threw through a delegation: noted if the task unwinds (it fails with the first). */
  #noteCleanupError(error: string): boolean {
    const task = this.#current;
    if (task === null || !task.unwinding) return false;
    this.#cleanupFailed(task, error);
    return true;
  }

  /**
   * What the caller does after a resume of the routine it delegates to: a
   * yield is its own (it stays in the yield*); a return is the value of the
   * yield* and it goes on in the same resume, unless the resume was a
   * return(), which then completes the caller too (its finally runs); an
   * error is raised in the caller at the yield*.
   */
  #delegationEnded(
    frame: RoutineFrame,
    at: Extract<Suspension, { kind: "delegate" }>,
    byReturn: boolean,
    completion: Completion,
  ): Completion {
    if (completion.kind === "yield") return completion;
    frame.at = null;
    if (completion.kind === "throw") return this.#raise(frame, completion.error);
    if (byReturn) return this.#returnFrom(frame);
    this.#log(frame, `${at.path} ret ${String(completion.value)}`);
    return this.#exec(frame);
  }

  /** return() at the frame's yield: its finally runs, then (after a cancel) its cleanup code. */
  #returnFrom(frame: RoutineFrame): Completion {
    if (frame.phase === "cleanup") throw modelError(`return() into cleanup of #${frame.instance}`);
    this.#log(frame, `#${frame.instance} finally`);
    const cleanup = (this.#program.routines[frame.routine] as RoutineDef).cleanup;
    frame.phase = "cleanup";
    frame.cursors = [{ instrs: cleanup, pc: 0, path: `#${frame.instance}.f`, catches: false }];
    return this.#exec(frame);
  }

  /** An error at the current point: the innermost `try` catches it, else it leaves the frame. */
  #raise(frame: RoutineFrame, error: string): Completion {
    for (let cursor = frame.cursors.pop(); cursor !== undefined; cursor = frame.cursors.pop()) {
      if (cursor.catches) {
        this.#log(frame, `${cursor.path} caught ${error}`);
        return this.#exec(frame);
      }
    }
    frame.status = "done";
    if (frame.phase === "body") this.#log(frame, `#${frame.instance} finally`);
    return { kind: "throw", error };
  }

  /** Runs the frame's instructions until it yields, returns or throws. */
  #exec(frame: RoutineFrame): Completion {
    for (;;) {
      const cursor = frame.cursors[frame.cursors.length - 1];
      if (cursor === undefined) {
        frame.status = "done";
        if (frame.phase === "cleanup") return { kind: "return", value: undefined };
        this.#log(frame, `#${frame.instance} finally`);
        return { kind: "return", value: `v${frame.instance}` };
      }
      const instr = cursor.instrs[cursor.pc];
      if (instr === undefined) {
        frame.cursors.pop();
        continue;
      }
      const p = `${cursor.path}.${cursor.pc}`;
      cursor.pc++;
      switch (instr.op) {
        case "yield":
          this.#log(frame, `${p} yield`);
          frame.at = { kind: "yield" };
          return { kind: "yield", yielded: { kind: "plain" } };
        case "call": {
          const instance = this.#nextInstance++;
          this.#log(frame, `${p} call #${instance}`);
          frame.at = { kind: "call", path: p };
          const callee = this.#routineFrame(instr.routine, instance, frame.label);
          return { kind: "yield", yielded: { kind: "call", frame: callee } };
        }
        case "delegate": {
          // yield*: the callee starts at once, inside this frame, in this same step.
          const instance = this.#nextInstance++;
          this.#log(frame, `${p} delegate #${instance}`);
          const callee = this.#routineFrame(instr.routine, instance, frame.label);
          const at = { kind: "delegate", path: p, callee } as const;
          frame.at = at;
          const completion = this.#resumeDelegation(callee, "next", undefined);
          return this.#delegationEnded(frame, at, false, completion);
        }
        case "spawn": {
          const instance = this.#nextInstance++;
          const label = `t${this.#nextTask++}`;
          this.#log(frame, `${p} spawn ${label} #${instance}`);
          const child = this.#createTask(
            this.#current,
            this.#routineFrame(instr.routine, instance, label),
          );
          frame.spawned.push(child);
          break;
        }
        case "join": {
          const target = pick(frame.spawned, instr.child);
          if (target === undefined) {
            this.#log(frame, `${p} join none`);
            break;
          }
          this.#log(frame, `${p} join ${target.label}`);
          if (ended(target) && this.#current?.pending.length === 0) {
            // Read without a step (nothing waits to be thrown in at a yield): the outcome at once.
            if (target.state === "done") this.#log(frame, `${p} joined ${String(target.outcome)}`);
            else if (target.state === "cancelled") this.#log(frame, `${p} join caught Cancelled`);
            else this.#log(frame, `${p} join caught ${target.outcome} late`);
            break;
          }
          frame.at = { kind: "join", path: p, target, late: ended(target) };
          return { kind: "yield", yielded: { kind: "join", target } };
        }
        case "sleep": {
          this.#log(frame, `${p} sleep ${instr.seconds}`);
          frame.at = { kind: "sleep", path: p };
          return { kind: "yield", yielded: { kind: "sleep", seconds: instr.seconds } };
        }
        case "throw": {
          const id = `E${this.#nextError++}`;
          this.#log(frame, `${p} throw ${id}`);
          return this.#raise(frame, id);
        }
        case "try":
          this.#log(frame, `${p} try`);
          frame.cursors.push({ instrs: instr.body, pc: 0, path: p, catches: true });
          break;
        case "cancel": {
          const target = pick(frame.spawned, instr.child);
          this.#log(frame, `${p} cancel ${target?.label ?? "none"}`);
          if (target !== undefined) this.#cancel(target);
          break;
        }
      }
    }
  }
}

// ---------------------------------------------------------- properties

function runModel(program: Program): { trace: string[]; finals: string[] } {
  const model = new Model(program);
  model.run();
  return { trace: model.trace, finals: model.finals() };
}

/**
 * The problems with how the errors in a trace were delivered: each thrown
 * one must end in exactly one place (a catch, a join that waited, onError).
 * A join of a task that had already ended re-reads its error, which was
 * delivered when the task ended; it counts only if that error was not
 * delivered before (a child's error pending for its parent can be thrown in
 * at exactly such a join).
 */
function errorProblems(trace: readonly string[]): string[] {
  const thrown = new Set<string>();
  const delivered = new Map<string, number>();
  const problems: string[] = [];
  for (const line of trace) {
    const throwMatch = / throw (E\d+)$/.exec(line);
    if (throwMatch !== null) thrown.add(throwMatch[1] as string);
    const match = /(?: caught|^onError) (.+?)( late)?$/.exec(line);
    if (match === null) continue;
    const error = match[1] as string;
    if (match[2] !== undefined && delivered.has(error)) continue;
    if (error === "Cancelled" && !line.startsWith("onError")) continue;
    if (!/^E\d+$/.test(error)) problems.push(`delivered something never thrown: ${line}`);
    delivered.set(error, (delivered.get(error) ?? 0) + 1);
  }
  for (const error of thrown) {
    const count = delivered.get(error) ?? 0;
    if (count !== 1) problems.push(`${error} was delivered ${count} times`);
  }
  return problems;
}

/** Programs per property; PROPERTY_RUNS=100000 searches longer. */
const { PROPERTY_RUNS } = process.env;
const RUNS = Number(PROPERTY_RUNS ?? 5000);

const plain: Features = { throws: false, cancels: false, outside: false, deep: false };
const withThrows: Features = { throws: true, cancels: false, outside: false, deep: false };
const withCancels: Features = { throws: true, cancels: true, outside: true, deep: false };
const insideOnly: Features = { throws: true, cancels: true, outside: false, deep: false };
const deepCancels: Features = { throws: true, cancels: true, outside: true, deep: true };

test("a. without errors or cancels, the worker's trace, states and results are the model's", () => {
  fc.assert(
    fc.property(programArb(plain), (program) => {
      const real = new RealRun(program);
      real.work();
      const model = runModel(program);
      assert.deepEqual(real.trace, model.trace);
      assert.deepEqual(real.finals(), model.finals);
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );
});

test("b. with throws and catches, the traces still agree and every error is delivered exactly once", () => {
  fc.assert(
    fc.property(programArb(withThrows), (program) => {
      const real = new RealRun(program);
      real.work();
      const model = runModel(program);
      assert.deepEqual(real.trace, model.trace);
      assert.deepEqual(real.finals(), model.finals);
      assert.deepEqual(errorProblems(real.trace), []);
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );
});

/** Runs a program with cancels on the real worker and checks what must hold whatever the schedule. */
function checkCancelInvariants(program: Program): RealRun {
  const real = new RealRun(program);
  real.tickToEnd();
  assert.deepEqual(real.worker.tasks, [], "no task is left");
  for (const task of real.tasks) assert.ok(task.isDone(), `${task.name} is ${task.state}`);
  // Every routine instance that started runs its finally exactly once.
  const open = new Map<string, number>();
  for (const line of real.trace) {
    const match = /^\S+ (#\d+) (start|finally)$/.exec(line);
    if (match === null) continue;
    const instance = match[1] as string;
    const count = (open.get(instance) ?? 0) + (match[2] === "start" ? 1 : -1);
    assert.ok(count === 0 || count === 1, `${instance}: ${line} (${count})`);
    open.set(instance, count);
  }
  for (const [instance, count] of open) assert.equal(count, 0, `${instance} never ran its finally`);
  // No routine a cancelled task was running goes on after the cancel, however it was called
  // (`yield r()` or `yield* r()`): it runs its finally and cleanup code, never its next line or
  // a catch block. (Routines its cleanup starts run as usual.)
  for (const [task, { at }] of real.cancelled) {
    const running = new Set<string>();
    for (const line of real.trace.slice(0, at)) {
      const match = /^(\S+) (#\d+) (start|finally)$/.exec(line);
      if (match === null || match[1] !== task.name) continue;
      if (match[3] === "start") running.add(match[2] as string);
      else running.delete(match[2] as string);
    }
    for (const line of real.trace.slice(at)) {
      const match = /^(\S+) (#\d+)\.\d/.exec(line);
      if (match !== null && match[1] === task.name && running.has(match[2] as string)) {
        assert.fail(`"${line}" ran after ${task.name} was cancelled`);
      }
    }
  }
  // A task cancelled while its body ran ends cancelled, or failed with an error its cleanup threw.
  for (const [task, { at, bodyEnded }] of real.cancelled) {
    if (task.state === "cancelled" || bodyEnded) continue;
    const error = describeError(task.error);
    assert.equal(task.state, "failed", `cancelled ${task.name} ended ${task.state}`);
    const fromCleanup = real.trace
      .slice(at)
      .some((line) => line.startsWith(`${task.name} `) && line.endsWith(` throw ${error}`));
    assert.ok(
      fromCleanup,
      `cancelled ${task.name} failed with ${error}, not thrown by its cleanup`,
    );
  }
  return real;
}

test("c1. under cancels, every finally runs once, no task is left, cancelled tasks end cancelled", () => {
  fc.assert(
    fc.property(programArb(withCancels), (program) => {
      checkCancelInvariants(program);
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );
});

test("c2. under cancels, every error is still delivered exactly once", () => {
  fc.assert(
    fc.property(programArb(withCancels), (program) => {
      const real = checkCancelInvariants(program);
      assert.deepEqual(errorProblems(real.trace), []);
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );
});

test("c3. under cancels, the worker's trace, states and results are the model's", () => {
  fc.assert(
    fc.property(programArb(withCancels), (program) => {
      const real = new RealRun(program);
      real.tickToEnd();
      const model = runModel(program);
      assert.deepEqual(real.trace, model.trace);
      assert.deepEqual(real.finals(), model.finals);
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );
});

test("d. driving with tick() gives the same trace as work()", () => {
  fc.assert(
    fc.property(programArb(insideOnly), (program) => {
      const byWork = new RealRun(program);
      byWork.work();
      const byTick = new RealRun(program);
      byTick.tickToEnd();
      assert.deepEqual(byTick.trace, byWork.trace);
      assert.deepEqual(byTick.finals(), byWork.finals());
      assert.equal(byTick.clock.now(), byWork.clock.now());
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );
});

test("e. driving with run() gives the same trace as work()", async () => {
  await fc.assert(
    fc.asyncProperty(programArb(insideOnly), async (program) => {
      const byWork = new RealRun(program);
      byWork.work();
      const byRun = new RealRun(program);
      await byRun.worker.run();
      assert.deepEqual(byRun.trace, byWork.trace);
      assert.deepEqual(byRun.finals(), byWork.finals());
      assert.equal(byRun.clock.now(), byWork.clock.now());
    }),
    // Each run() takes turns of the event loop: fewer programs than the synchronous properties.
    { numRuns: Math.max(1, Math.round(RUNS / 5)), includeErrorInReport: true },
  );
});

test("f. cancelled deep in stacks of calls and delegations, all of c1, c2 and c3 hold", () => {
  fc.assert(
    fc.property(programArb(deepCancels), (program) => {
      const real = checkCancelInvariants(program);
      assert.deepEqual(errorProblems(real.trace), []);
      const model = runModel(program);
      assert.deepEqual(real.trace, model.trace);
      assert.deepEqual(real.finals(), model.finals);
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );
});
