/**
 * A game session: the worker, its VirtualClock, the world, and what one
 * frame of the game loop does. No DOM here: the browser calls `frame()`
 * from requestAnimationFrame, a test calls it in a loop.
 *
 * One frame:
 * 1. Virtual time advances by the frame's real time, times the slow-motion
 *    factor (0 while paused; capped at 0.1 s, so a tab that was hidden for a
 *    minute does not jump a minute ahead).
 * 2. The frame gate opens: every actor parked at `yield* world.frame` wakes
 *    with the frame's virtual seconds.
 * 3. `worker.tickFor(budget)` steps tasks until none is runnable or the
 *    budget is spent. Actors that did not get their step this frame take it
 *    in the next one: a crowd too large for the budget slows the game down,
 *    it never makes a frame late.
 *
 * Because actors only ever see virtual time, pausing, slow motion and
 * single steps are exact: a paused game's timers do not move, and `step`
 * advances exactly one nominal frame.
 */
import { type Task, VirtualClock, Worker } from "clockwork-microthreads";
import { game } from "./actors.ts";
import { runCommand } from "./commands.ts";
import { FRAME, type Phase, World } from "./world.ts";

/** The scheduler's time budget per frame, in seconds: about half a 60 Hz frame, the rest is drawing. */
export const BUDGET = 0.008;
/** The longest frame virtual time follows, in seconds. */
export const MAX_FRAME = 0.1;
/** How many frames of statistics are kept. */
const HISTORY = 1200;

/** What one frame cost. */
export interface FrameStats {
  /** Steps `tickFor` took. */
  steps: number;
  /** Real milliseconds spent in `tickFor` (the scheduler and the actors' code). */
  tickMs: number;
  /** Real milliseconds since the previous frame (0 for a `step`). */
  frameMs: number;
}

/**
 * What `window.kiwi.state()` gives. `frame`, `time`, `tasks`, `score` and
 * `paused` are the contract tests rely on; the rest helps tests and
 * benchmarks see the game without reaching into it.
 */
export interface KiwiState {
  /** Frames drawn. */
  frame: number;
  /** Virtual seconds since the game began. */
  time: number;
  /** Live tasks. */
  tasks: number;
  score: number;
  paused: boolean;
  phase: Phase;
  wave: number;
  /** Lives left (0 when there is no ship). */
  lives: number;
  /** Where the ship is, if it is flying. */
  player: { x: number; y: number } | null;
  enemies: number;
  bullets: number;
  /** The slow-motion factor (1: normal speed). */
  slow: number;
  god: boolean;
  /** The last frame's steps and times. */
  steps: number;
  tickMs: number;
  frameMs: number;
  /** Task errors reported so far (a bug in the game if not 0). */
  errors: number;
}

/** What the page exposes as `window.kiwi`, for tests and benchmarks (contract: state and command). */
export interface KiwiHook {
  state(): KiwiState;
  command(line: string): string;
  /** The statistics of the last `count` frames drawn, oldest first. */
  history(count?: number): FrameStats[];
}

export interface KiwiOptions {
  /** Seeds the game's random numbers (default 1). */
  seed?: number;
  /** The scheduler's budget per frame in seconds (default BUDGET). */
  budget?: number;
  /** Where task errors go besides `errors` (default console.error). */
  report?: (message: string, error: unknown) => void;
}

/** A running game: call `frame(seconds)` once per animation frame. */
export class Kiwi {
  readonly clock = new VirtualClock();
  readonly world: World;
  readonly worker: Worker;
  /** Seconds of real time `tickFor` may take per frame. */
  readonly budget: number;
  paused = false;
  /** Virtual seconds per real second. */
  slow = 1;
  /** Frames drawn. */
  frames = 0;
  /** The last frame's statistics. */
  last: FrameStats = { steps: 0, tickMs: 0, frameMs: 0 };
  /** Errors of tasks that failed, in words. */
  readonly errors: string[] = [];
  /** The top-level task running the game. */
  game: Task<unknown>;
  /** Statistics of recent frames drawn: a ring of HISTORY entries. */
  readonly #history: FrameStats[] = [];
  /** While the game task is gone: the press count to wait past before starting a new one. */
  #restartAfter: number | undefined = undefined;
  readonly #report: (message: string, error: unknown) => void;

  constructor(options: KiwiOptions = {}) {
    this.budget = options.budget ?? BUDGET;
    this.#report = options.report ?? ((message, error) => console.error(message, error));
    this.world = new World(this.clock, options.seed ?? 1);
    this.worker = new Worker({
      clock: this.clock,
      onError: (error, task) => {
        const message = `kiwi: ${task.label()} failed: ${error instanceof Error ? error.message : String(error)}`;
        this.errors.push(message);
        this.#report(message, error);
      },
    });
    this.game = this.worker.assign(game(this.world));
  }

  /**
   * One animation frame, `elapsed` real seconds after the last one: advances
   * virtual time (scaled by `slow`, none while paused) and runs the
   * scheduler within its budget.
   */
  frame(elapsed: number): FrameStats {
    const seconds = Number.isFinite(elapsed) && elapsed > 0 ? Math.min(elapsed, MAX_FRAME) : 0;
    const stats = this.#advance(this.paused ? 0 : seconds * this.slow, elapsed * 1000);
    this.frames++;
    this.#history[(this.frames - 1) % HISTORY] = stats; // frame f (from 1) at (f - 1) % HISTORY
    return stats;
  }

  /** Pauses (if it was not) and advances exactly `frames` nominal frames; gives the steps taken. */
  step(frames = 1): number {
    this.paused = true;
    let steps = 0;
    for (let i = 0; i < frames; i++) steps += this.#advance(FRAME, 0).steps;
    return steps;
  }

  /** The statistics of the last `count` frames drawn, oldest first. */
  history(count = HISTORY): FrameStats[] {
    const n = Math.max(0, Math.min(count, this.#history.length));
    const out: FrameStats[] = [];
    for (let f = this.frames - n + 1; f <= this.frames; f++) {
      out.push(this.#history[(f - 1) % HISTORY] as FrameStats);
    }
    return out;
  }

  /** Live tasks (counted, not listed: cheap enough for every frame). */
  get liveTasks(): number {
    const { tasksCreated, tasksFinished } = this.worker.counters;
    return tasksCreated - tasksFinished;
  }

  /** The state the page's hook gives. */
  state(): KiwiState {
    const { world } = this;
    const ship = world.player;
    return {
      frame: this.frames,
      time: this.clock.now(),
      tasks: this.liveTasks,
      score: world.score,
      paused: this.paused,
      phase: world.phase,
      wave: world.wave,
      lives: ship?.lives ?? 0,
      player: ship === null ? null : { x: ship.x, y: ship.y },
      enemies: world.enemies.size,
      bullets: world.bullets.size,
      slow: this.slow,
      god: world.god,
      steps: this.last.steps,
      tickMs: this.last.tickMs,
      frameMs: this.last.frameMs,
      errors: this.errors.length,
    };
  }

  /** Runs a console command; gives its output. Never throws. */
  command(line: string): string {
    return runCommand(this, line);
  }

  #advance(dt: number, frameMs: number): FrameStats {
    if (dt > 0) {
      this.clock.advance(dt);
      this.world.frame.open(dt);
    }
    this.#restartOnPress();
    const start = performance.now();
    const steps = this.worker.tickFor(this.budget);
    const tickMs = performance.now() - start;
    this.#noticeGameEnd();
    this.last = { steps, tickMs, frameMs };
    return this.last;
  }

  /** When the game task has ended (killed from the console), says so and waits for a press. */
  #noticeGameEnd(): void {
    if (!this.game.isDone() || this.#restartAfter !== undefined) return;
    const { world } = this;
    this.#restartAfter = world.input.presses;
    world.phase = "over";
    world.banner = {
      title: "NO GAME",
      lines: ["the game task has ended", "", "press space to start a new one"],
    };
  }

  /** After the game task has ended, a press starts a new one (its first steps come in this frame). */
  #restartOnPress(): void {
    if (this.#restartAfter === undefined || this.world.input.presses === this.#restartAfter) return;
    this.#restartAfter = undefined;
    this.world.banner = null;
    this.game = this.worker.assign(game(this.world));
  }
}
