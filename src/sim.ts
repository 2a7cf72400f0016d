/**
 * Deterministic simulation: find a concurrency bug, replay it exactly,
 * shrink it to its essence (`clockwork-microthreads/sim`).
 *
 * A cooperative scheduler controls every interleaving: tasks switch only
 * at `yield`, and timers run on a clock the worker owns. `explore()` runs a
 * program many times, each on a fresh Worker with a VirtualClock and a
 * schedule that chooses which runnable task steps next (and which faults
 * happen). Every choice is recorded, so a failing run becomes a token that
 * `replay()` repeats exactly; the shrinker then looks for the schedule
 * closest to plain round-robin that still fails.
 *
 * Words used here:
 * - choice: an answer to the schedule's `pick` (which runnable task, by
 *   index in the run queue) or `choose` (data, faults); 0 is always what
 *   the plain worker would do.
 * - delays: the sum of a run's choices (a fault counts its 1): how far
 *   the run is from round-robin.
 * - strategy: how choices are drawn. Uniform random, and PCT (the
 *   probabilistic concurrency testing of Burckhardt et al.: random task
 *   priorities, with d - 1 points where the running task's priority drops;
 *   it finds a bug of depth d with a probability it can bound), rotated
 *   by a portfolio, since each finds bugs the other misses.
 */
import { VirtualClock } from "./clock.ts";
import { describeError, describeValue } from "./describe.ts";
import { WouldBlockError } from "./errors.ts";
import { wouldBlockError } from "./report.ts";
import type { Schedule, SimEnv } from "./schedule.ts";
import { running, type Task } from "./task.ts";
import { Worker } from "./worker.ts";

export type { Schedule, SimEnv } from "./schedule.ts";

/** How a program run under simulation ended. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/** The strategies `explore()` can draw schedules with. */
export type Strategy = "portfolio" | "random" | "pct1" | "pct2" | "pct3";

/** Options for `explore()`. */
export interface ExploreOptions<R> {
  /** Schedules to try; default 1,000. */
  runs?: number;
  /** The master seed: the same seed explores the same schedules; default 1. */
  seed?: number;
  /** Faults to inject at `sim().fault(label)`: none unless given; `rate` defaults to 0.1, `labels` to all. */
  faults?: {
    /** The chance of a fault at each `sim().fault()` (0 to 1); default 0.1. */
    rate?: number;
    /** Only these labels fault; default: every label. */
    labels?: string[];
  };
  /** The invariant: null when it holds, else why not. Default: the program must not fail. */
  check?: (outcome: Outcome<R>, env: SimEnv) => string | null;
  /** Shrink a failing schedule toward round-robin; default true. */
  shrink?: boolean;
  /** How schedules are drawn; default "portfolio" (random, PCT depth 1, 2 and 3 in turn). */
  strategy?: Strategy;
  /** Steps a run may take before it counts as a livelock; default 100,000. */
  maxSteps?: number;
  /** Runs the shrinker may make; default 5,000. */
  shrinkRuns?: number;
}

/** A failing schedule, found and (by default) shrunk. */
export interface ExploreFailure {
  /** The seed of the failing run: `explore(program, { seed, runs: 1 })` runs it again. */
  seed: number;
  /** The failing run's choices: `replay(token)` repeats it. */
  token: string;
  /** The shrunk schedule's token (the token itself when not shrunk). */
  shrunk: string;
  /** What the check said of the shrunk run. */
  why: string;
  /** The shrunk run's choices, one line each. */
  trace: string[];
  /** The shrunk schedule's delays (sum of its choices). */
  delays: number;
}

/** What `explore()` found. */
export type ExploreResult = { ok: true; runs: number } | { ok: false; failure: ExploreFailure };

/**
 * What the schedule of the running routine's worker offers (faults, data
 * choices), or null outside a routine or under a worker without one. Code
 * written for simulation reads `sim()?.fault("disk full")`, and runs
 * unchanged (no faults) under a plain worker.
 */
export function sim(): SimEnv | null {
  const task = running.task;
  return task === undefined ? null : task._worker._sim();
}

// ---------------------------------------------------------------- tokens

/** One recorded choice: what was chosen, among how many options. */
interface Choice {
  choice: number;
  options: number;
}

const TOKEN_PREFIX = "cw1:";

/** `cw1:` then `choice/options` pairs, runs of the same pair as `pair*count`. */
function encode(choices: readonly Choice[]): string {
  const parts: string[] = [];
  for (let i = 0; i < choices.length; ) {
    const { choice, options } = choices[i] as Choice;
    let j = i + 1;
    while (j < choices.length && choices[j]?.choice === choice && choices[j]?.options === options)
      j++;
    const pair = `${choice.toString(36)}/${options.toString(36)}`;
    parts.push(j - i > 1 ? `${pair}*${(j - i).toString(36)}` : pair);
    i = j;
  }
  return TOKEN_PREFIX + parts.join(".");
}

function decode(token: unknown): Choice[] {
  if (typeof token !== "string" || !token.startsWith(TOKEN_PREFIX)) {
    throw new TypeError(
      `replay() expects a token made by explore() (a string starting "${TOKEN_PREFIX}"), got ${describeValue(token)}`,
    );
  }
  const body = token.slice(TOKEN_PREFIX.length);
  const choices: Choice[] = [];
  if (body === "") return choices;
  for (const part of body.split(".")) {
    const match = /^([0-9a-z]+)\/([0-9a-z]+)(?:\*([0-9a-z]+))?$/.exec(part);
    const choice = match === null ? Number.NaN : Number.parseInt(match[1] as string, 36);
    const options = match === null ? Number.NaN : Number.parseInt(match[2] as string, 36);
    const count = match?.[3] === undefined ? 1 : Number.parseInt(match[3], 36);
    if (!(choice >= 0 && options > choice && count >= 1)) {
      throw new TypeError(`replay(): the token is damaged at ${JSON.stringify(part)}`);
    }
    for (let k = 0; k < count; k++) choices.push({ choice, options });
  }
  return choices;
}

function delaysOf(choices: readonly Choice[]): number {
  let sum = 0;
  for (const c of choices) sum += c.choice;
  return sum;
}

// ---------------------------------------------------------------- replay

const NOT_DETERMINISTIC =
  "The program is not deterministic: look for a real promise, Math.random(), Date.now() or " +
  "state kept between runs";

/** Thrown (to the driving call, or onError) when a replay meets other choices than it recorded. */
export class ReplayDivergedError extends Error {
  /** "ReplayDivergedError". */
  override name = "ReplayDivergedError";
}

/**
 * A schedule that makes the recorded choices of `token`, then 0
 * (round-robin) past its end. A program that is not deterministic (a real
 * promise, `Math.random()`, `Date.now()`) meets a choice among another
 * number of options than recorded, or ends before it has made every
 * recorded choice: either is reported as a ReplayDivergedError, never as
 * a pass.
 *
 * @example
 * const worker = new Worker({ clock: new VirtualClock(), schedule: replay(failure.shrunk) });
 */
export function replay(token: string): Schedule {
  const choices = decode(token);
  let at = 0;
  let diverged = false;
  const next = (options: number, what: string): number => {
    const recorded = choices[at++];
    if (recorded === undefined || diverged) return 0;
    if (recorded.options !== options) {
      diverged = true;
      throw new ReplayDivergedError(
        `the replay diverged from its recording at choice ${at} (${what}): ${recorded.options} ` +
          `options were recorded, ${options} met now. ${NOT_DETERMINISTIC}`,
      );
    }
    return recorded.choice;
  };
  return {
    pick: (runnable) => next(runnable.length, "which task steps"),
    choose: (options, label) => next(options, label),
    end: () => {
      if (diverged || at >= choices.length) return;
      diverged = true;
      throw new ReplayDivergedError(
        `the replay diverged from its recording: the program ended after ${at} of its ` +
          `${choices.length} recorded choices. ${NOT_DETERMINISTIC}`,
      );
    },
  };
}

// ------------------------------------------------------------ strategies

// Every run of an explore() call reuses one source of each kind and one
// Recorder, restarted for the run: exploring is a loop of many short runs,
// and what each run allocates besides its own worker shows up as garbage
// collection (npm run bench -- sim).

/** A seeded generator of numbers in [0, 1) (mulberry32), restarted by `seed()`. */
class Rng {
  #a = 0;

  seed(seed: number): void {
    this.#a = seed >>> 0;
  }

  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** The seed of run `i` of a master seed (run 0 uses the master itself). */
function runSeed(master: number, i: number): number {
  if (i === 0) return master >>> 0;
  let h = (master ^ Math.imul(i, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Where a run's choices come from. */
interface Source {
  pick(runnable: readonly Task<unknown>[]): number;
  choose(options: number, label: string): number;
}

interface FaultPolicy {
  rate: number;
  labels: readonly string[] | null;
}

function faultChoice(policy: FaultPolicy, label: string, rng: Rng): number {
  if (!label.startsWith("fault ")) return -1;
  if (policy.rate === 0) return 0;
  if (policy.labels !== null && !policy.labels.includes(label.slice("fault ".length))) return 0;
  return rng.next() < policy.rate ? 1 : 0;
}

/** Uniform random: every runnable task, every option, as likely. */
class UniformSource implements Source {
  readonly #rng = new Rng();
  readonly #faults: FaultPolicy;

  constructor(faults: FaultPolicy) {
    this.#faults = faults;
  }

  restart(seed: number): this {
    this.#rng.seed(seed);
    return this;
  }

  pick(runnable: readonly Task<unknown>[]): number {
    return Math.floor(this.#rng.next() * runnable.length);
  }

  choose(options: number, label: string): number {
    const fault = faultChoice(this.#faults, label, this.#rng);
    return fault >= 0 ? fault : Math.floor(this.#rng.next() * options);
  }
}

/**
 * PCT of depth `depth`: each task gets a random priority when first seen;
 * the highest-priority runnable task steps; at `depth - 1` random points
 * among the run's first `length` picks the task picked there drops below
 * every other. Data choices are drawn uniformly.
 */
class PctSource implements Source {
  readonly #rng = new Rng();
  readonly #faults: FaultPolicy;
  /** Priorities by task id (a worker numbers its tasks from 1); 0 = not seen yet this run. */
  #priorities = new Float64Array(64);
  /** The highest task id given a priority this run (what a restart clears). */
  #top = 0;
  /** The pick at which the picked task's priority drops to d, at index d - 1 (0: none). */
  readonly #changeAt = [0, 0];
  #depth = 1;
  /** Picks made this run. */
  #picks = 0;

  constructor(faults: FaultPolicy) {
    this.#faults = faults;
  }

  restart(seed: number, depth: number, length: number): this {
    this.#rng.seed(seed);
    this.#priorities.fill(0, 0, this.#top + 1);
    this.#top = 0;
    this.#depth = depth;
    this.#picks = 0;
    for (let d = 1; d <= this.#changeAt.length; d++) {
      this.#changeAt[d - 1] =
        d < depth ? 1 + Math.floor(this.#rng.next() * Math.max(1, length)) : 0;
    }
    return this;
  }

  #priority(task: Task<unknown>): number {
    const id = task.id;
    if (id >= this.#priorities.length) {
      const grown = new Float64Array(Math.max(id + 1, this.#priorities.length * 2));
      grown.set(this.#priorities);
      this.#priorities = grown;
    }
    let p = this.#priorities[id] as number;
    if (p === 0) {
      p = this.#depth + this.#rng.next(); // above every changed priority (1 .. depth - 1)
      this.#priorities[id] = p;
      if (id > this.#top) this.#top = id;
    }
    return p;
  }

  pick(runnable: readonly Task<unknown>[]): number {
    const picks = ++this.#picks;
    let best = 0;
    for (let i = 1; i < runnable.length; i++) {
      if (
        this.#priority(runnable[i] as Task<unknown>) >
        this.#priority(runnable[best] as Task<unknown>)
      )
        best = i;
    }
    // When two change points fall on one pick, the deeper one counts.
    for (let d = this.#changeAt.length; d >= 1; d--) {
      if (this.#changeAt[d - 1] === picks) {
        this.#priorities[(runnable[best] as Task<unknown>).id] = d;
        break;
      }
    }
    return best;
  }

  choose(options: number, label: string): number {
    const fault = faultChoice(this.#faults, label, this.#rng);
    return fault >= 0 ? fault : Math.floor(this.#rng.next() * options);
  }
}

/** Plays `prefix`, then 0 (round-robin); past a choice with fewer options than the prefix asks, 0. */
class PrefixSource implements Source {
  #prefix: readonly number[] = [];
  #at = 0;

  restart(prefix: readonly number[]): this {
    this.#prefix = prefix;
    this.#at = 0;
    return this;
  }

  #next(options: number): number {
    const c = this.#prefix[this.#at++] ?? 0;
    return c < options ? c : 0;
  }

  pick(runnable: readonly Task<unknown>[]): number {
    return this.#next(runnable.length);
  }

  choose(options: number): number {
    return this.#next(options);
  }
}

// ------------------------------------------------------------------ runs

/**
 * The schedule of every run of one explore() call: each choice is drawn
 * from the run's source and recorded, as flat numbers in an array kept
 * from run to run (copied out only for a run that fails). The trace, which
 * names tasks in words, is written only when asked: for the run reported.
 */
class Recorder implements Schedule {
  #source: Source = new PrefixSource();
  /** choice, options, choice, options ... of the current run: its first `2 * #count` entries. */
  readonly #flat: number[] = [];
  #count = 0;
  /** The trace of the current run, or null when none is written. */
  #trace: string[] | null = null;
  /** The current run's worker (its step count dates the trace's lines). */
  #worker: Worker | null = null;
  /** The first error the current run's worker reported to onError. */
  unhandled: { error: unknown } | null = null;
  /** The onError of every run's worker. */
  readonly onError = (error: unknown): void => {
    if (this.unhandled === null) this.unhandled = { error };
  };

  /** Readies the recorder for a run drawn from `source`; `traced` writes its trace. */
  start(source: Source, traced: boolean): this {
    this.#source = source;
    this.#count = 0;
    this.#trace = traced ? [] : null;
    this.#worker = null;
    this.unhandled = null;
    return this;
  }

  /** The run's worker, once made. */
  attach(worker: Worker): void {
    this.#worker = worker;
  }

  pick(runnable: readonly Task<unknown>[]): number {
    const choice = this.#source.pick(runnable);
    this.#record(choice, runnable.length);
    if (choice !== 0 && this.#trace !== null) {
      const others = runnable.slice(0, choice).map(who);
      this.#trace.push(
        `step ${this.#steps() + 1}: ${who(runnable[choice] as Task<unknown>)} steps before ${others.join(", ")}`,
      );
    }
    return choice;
  }

  choose(options: number, label: string): number {
    const choice = this.#source.choose(options, label);
    this.#record(choice, options);
    if (this.#trace !== null) {
      const at = `step ${this.#steps()}: `; // inside that step
      if (label.startsWith("fault ")) {
        if (choice === 1) this.#trace.push(`${at}fault injected: ${label.slice("fault ".length)}`);
      } else if (choice !== 0) this.#trace.push(`${at}${label}: choice ${choice} of ${options}`);
    }
    return choice;
  }

  /** The current run's choices, copied. */
  choices(): Choice[] {
    const out: Choice[] = [];
    for (let i = 0; i < this.#count; i++) {
      out.push({ choice: this.#flat[2 * i] as number, options: this.#flat[2 * i + 1] as number });
    }
    return out;
  }

  /** Choices made in the current run. */
  get count(): number {
    return this.#count;
  }

  /** The current run's trace (empty unless it was traced). */
  trace(): string[] {
    return this.#trace ?? [];
  }

  #record(choice: number, options: number): void {
    const at = 2 * this.#count++;
    this.#flat[at] = choice;
    this.#flat[at + 1] = options;
  }

  #steps(): number {
    return this.#worker === null ? 0 : this.#worker.counters.steps;
  }
}

interface RunResult<R> {
  outcome: Outcome<R>;
  env: SimEnv;
}

/** A task in a trace: `task "name" (#id)`, since tasks often share a name. */
function who(task: Task<unknown>): string {
  return `${task.label()} (#${task.id})`;
}

/** One run of `program` on a fresh worker under `recorder` (started for the run). */
function execute<R>(
  program: (env: SimEnv) => Generator<unknown, R, any>,
  recorder: Recorder,
  maxSteps: number,
): RunResult<R> {
  const clock = new VirtualClock();
  const worker = new Worker({ clock, schedule: recorder, onError: recorder.onError });
  recorder.attach(worker);
  const env = worker._sim() as SimEnv;
  let outcome: Outcome<R>;
  try {
    const main = worker._assignMain(program(env));
    const error = drive(worker, clock, maxSteps);
    if (error !== undefined) outcome = { ok: false, error };
    else if (main.state === "done") outcome = { ok: true, value: main.result };
    else if (main.state === "failed") outcome = { ok: false, error: main.error };
    else outcome = { ok: false, error: new Error(`the program's task was ${main.state}`) };
  } catch (error) {
    outcome = { ok: false, error };
  }
  if (outcome.ok && recorder.unhandled !== null) {
    outcome = { ok: false, error: recorder.unhandled.error };
  }
  return { outcome, env };
}

/**
 * @internal One run of `program` under `schedule`, as explore() makes
 * each (for sim-fast-check.ts): how it ended.
 */
export function _runUnder<R>(
  program: (env: SimEnv) => Generator<unknown, R, any>,
  schedule: Schedule,
  maxSteps: number,
): Outcome<R> {
  return execute(program, new Recorder().start(schedule, false), maxSteps).outcome;
}

/** work(), bounded by a number of steps: returns the error that stopped it (a deadlock, a livelock), if any. */
function drive(worker: Worker, clock: VirtualClock, maxSteps: number): unknown {
  let steps = 0;
  for (;;) {
    while (worker.tick()) {
      if (++steps >= maxSteps) {
        return new Error(
          `the program took more than ${maxSteps} steps (a livelock? raise maxSteps if it is only long)`,
        );
      }
    }
    if (worker._live() === 0) return undefined;
    if (worker._sleeping() === 0) return wouldBlockError(worker, "work()");
    clock.advanceTo(worker._nextDeadline());
    worker._expireTimers();
  }
}

// --------------------------------------------------------------- explore

/**
 * Runs `program` under many schedules and checks each outcome; stops at
 * the first failing one, shrinks it, and returns its tokens and trace.
 * `program` is called once per run, with the run's SimEnv, and its
 * routine runs as the main task of a fresh worker (its leftover tasks are
 * cancelled when it ends; an error nobody handled fails the run, and so
 * does a deadlock, as a WouldBlockError).
 *
 * @example
 * const result = explore(function* () { ... }, { runs: 1000, seed: 7 });
 * if (!result.ok) console.log(result.failure.why, result.failure.shrunk);
 */
export function explore<R>(
  program: (env: SimEnv) => Generator<unknown, R, any>,
  options: ExploreOptions<R> = {},
): ExploreResult {
  if (typeof program !== "function") {
    throw new TypeError(
      `explore() expects a function that returns a routine, got ${describeValue(program)}`,
    );
  }
  const runs = wholeNumber("runs", options.runs, 1000, 1);
  const master = wholeNumber("seed", options.seed, 1, 0);
  const maxSteps = wholeNumber("maxSteps", options.maxSteps, 100_000, 1);
  const shrinkRuns = wholeNumber("shrinkRuns", options.shrinkRuns, 5000, 0);
  const strategy = options.strategy ?? "portfolio";
  if (!["portfolio", "random", "pct1", "pct2", "pct3"].includes(strategy)) {
    throw new TypeError(
      `explore() option "strategy" expects "portfolio", "random", "pct1", "pct2" or "pct3", got ${describeValue(strategy)}`,
    );
  }
  const faults = faultPolicy(options.faults);
  const check = options.check ?? defaultCheck;
  if (typeof check !== "function") {
    throw new TypeError(`explore() option "check" expects a function, got ${describeValue(check)}`);
  }
  const judge = (result: RunResult<R>): string | null => {
    try {
      return check(result.outcome, result.env);
    } catch (error) {
      return `the check threw ${describeError(error)}`;
    }
  };

  const recorder = new Recorder();
  const sources = new Sources(faults);
  const fail = (seed: number, why: string): ExploreResult => {
    const choices = recorder.choices();
    let best: Candidate = { choices, why };
    if (options.shrink !== false) {
      best = shrink(program, best, judge, recorder, sources.prefix, maxSteps, shrinkRuns);
    }
    // The run reported is run once more, traced (no other run pays for naming its tasks): it
    // must fail again with the same choices, else the failure cannot be replayed, and `why` says so.
    const prefix = best.choices.map((c) => c.choice);
    const traced = execute(program, recorder.start(sources.prefix.restart(prefix), true), maxSteps);
    const tracedWhy = judge(traced);
    const again = recorder.choices();
    const same =
      again.length === best.choices.length &&
      again.every(
        (c, i) => c.choice === best.choices[i]?.choice && c.options === best.choices[i]?.options,
      );
    const reported =
      tracedWhy !== null && same
        ? tracedWhy
        : `${NOT_DETERMINISTIC}: its failing schedule, run again, ${
            same ? "passed" : "met other choices"
          } (it had failed with: ${best.why})`;
    return {
      ok: false,
      failure: {
        seed,
        token: encode(choices),
        shrunk: encode(best.choices),
        why: reported,
        trace: recorder.trace(),
        delays: delaysOf(best.choices),
      },
    };
  };
  // Round-robin first: the default schedule is always tried, and its length is PCT's estimate
  // of a run's picks (the same for every run, so that a run's seed alone repeats it).
  const plain = execute(program, recorder.start(sources.prefix.restart([]), false), maxSteps);
  const plainWhy = judge(plain);
  if (plainWhy !== null) return fail(master, plainWhy);
  const length = Math.max(1, recorder.count);
  for (let i = 0; i < runs; i++) {
    const seed = runSeed(master, i);
    const source = sources.for(strategy, seed, length);
    const result = execute(program, recorder.start(source, false), maxSteps);
    const why = judge(result);
    if (why !== null) return fail(seed, why);
  }
  return { ok: true, runs };
}

function defaultCheck(outcome: Outcome<unknown>): string | null {
  if (outcome.ok) return null;
  const kind = outcome.error instanceof WouldBlockError ? "deadlocked" : "failed";
  return `the program ${kind}: ${describeError(outcome.error)}`;
}

/** One source of each kind, restarted for each run. */
class Sources {
  readonly uniform: UniformSource;
  readonly pct: PctSource;
  readonly prefix = new PrefixSource();

  constructor(faults: FaultPolicy) {
    this.uniform = new UniformSource(faults);
    this.pct = new PctSource(faults);
  }

  /** The source of a run of `strategy` with `seed` (`length`: round-robin's picks, PCT's estimate). */
  for(strategy: Strategy, seed: number, length: number): Source {
    // The portfolio picks by the run's seed, so that one run can be repeated from its seed alone.
    const chosen = strategy === "portfolio" ? (PORTFOLIO[seed % 4] as Strategy) : strategy;
    if (chosen === "random") return this.uniform.restart(seed);
    return this.pct.restart(seed, chosen === "pct1" ? 1 : chosen === "pct2" ? 2 : 3, length);
  }
}

const PORTFOLIO: readonly Strategy[] = ["random", "pct1", "pct2", "pct3"];

function faultPolicy(faults: ExploreOptions<unknown>["faults"]): FaultPolicy {
  if (faults === undefined) return { rate: 0, labels: null };
  if (typeof faults !== "object" || faults === null) {
    throw new TypeError(
      `explore() option "faults" expects { rate?, labels? }, got ${describeValue(faults)}`,
    );
  }
  const rate = faults.rate ?? 0.1;
  if (typeof rate !== "number" || !(rate >= 0 && rate <= 1)) {
    throw new RangeError(
      `explore() option "faults.rate" expects a number from 0 to 1, got ${describeValue(rate)}`,
    );
  }
  const labels = faults.labels ?? null;
  if (labels !== null && (!Array.isArray(labels) || labels.some((l) => typeof l !== "string"))) {
    throw new TypeError(
      `explore() option "faults.labels" expects an array of strings, got ${describeValue(labels)}`,
    );
  }
  return { rate, labels };
}

function wholeNumber(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new RangeError(
      `explore() option "${name}" expects a whole number of at least ${min}, got ${describeValue(value)}`,
    );
  }
  return value;
}

// ---------------------------------------------------------------- shrink

interface Candidate {
  choices: Choice[];
  why: string;
}

/**
 * Shrinks a failing schedule toward round-robin. First greedily: each
 * choice is lowered to 0, then by one, while the run still fails. Greedy
 * steps can stop above the minimum (two choices that only fail together),
 * so then iterative delay bounding: every schedule with 0 delays, then 1,
 * 2 ... below the best found, exhaustively (within `budget` runs), so the
 * first failure found has the fewest delays there are.
 */
function shrink<R>(
  program: (env: SimEnv) => Generator<unknown, R, any>,
  start: Candidate,
  judge: (result: RunResult<R>) => string | null,
  recorder: Recorder,
  source: PrefixSource,
  maxSteps: number,
  budget: number,
): Candidate {
  let runs = 0;
  /** Runs `prefix` then round-robin: the choices it met, and why it failed (null: it passed). */
  const attempt = (prefix: readonly number[]): { choices: Choice[]; why: string | null } => {
    runs++;
    const result = execute(program, recorder.start(source.restart(prefix), false), maxSteps);
    return { choices: recorder.choices(), why: judge(result) };
  };

  let best = start;
  // Greedy passes.
  for (let improved = true; improved && runs < budget; ) {
    improved = false;
    for (let i = best.choices.length - 1; i >= 0 && runs < budget; i--) {
      const current = best.choices[i]?.choice ?? 0;
      for (const lower of current > 1 ? [0, current - 1] : current === 1 ? [0] : []) {
        const prefix = best.choices.map((c) => c.choice);
        prefix[i] = lower;
        const { choices, why } = attempt(prefix);
        if (why !== null && delaysOf(choices) < delaysOf(best.choices)) {
          best = { choices, why };
          improved = true;
          break;
        }
      }
    }
  }

  // Iterative delay bounding below the best.
  for (let bound = 0; bound < delaysOf(best.choices) && runs < budget; bound++) {
    const found = boundedSearch(bound);
    if (found !== null) return found;
  }
  return best;

  /** Every schedule with at most `bound` delays, depth first; the first failing one, or null. */
  function boundedSearch(bound: number): Candidate | null {
    const visit = (prefix: number[], from: number, left: number): Candidate | null => {
      if (runs >= budget) return null;
      const { choices: met, why } = attempt(prefix);
      if (why !== null) return { choices: met, why };
      if (left === 0) return null;
      for (let i = from; i < met.length; i++) {
        const options = (met[i] as Choice).options;
        for (let c = 1; c < options && c <= left; c++) {
          const next = met.slice(0, i).map((m) => m.choice);
          next[i] = c;
          const found = visit(next, i + 1, left - c);
          if (found !== null || runs >= budget) return found;
        }
      }
      return null;
    };
    return visit([], 0, bound);
  }
}
