// The part of the clockwork core API (docs: /DESIGN.md, "Core API (contract)")
// that the benchmarks use, and its loader. The core is imported at run time so
// that the peers still run and print when the build (dist/index.js) is missing or broken.

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** A routine: a generator a clockwork task runs. */
export type CwRoutine<R = void> = Generator<unknown, R, unknown>;

export interface CwTask<R> {
  readonly name: string;
  readonly state: "runnable" | "waiting" | "done" | "failed" | "cancelled";
  isDone(): boolean;
  readonly result: R;
  join(): CwRoutine<R>;
  cancel(): void;
  toPromise(): Promise<R>;
}

export interface CwClock {
  now(): number;
}

export interface CwVirtualClock extends CwClock {
  advance(seconds: number): void;
}

export interface CwWorker {
  assign<R>(routine: CwRoutine<R>, options?: { name?: string }): CwTask<R>;
  tick(): boolean;
  tickFor(seconds: number): number;
  work(): void;
  run(): Promise<void>;
  cancelAll(): void;
  readonly tasks: readonly CwTask<unknown>[];
}

/** A first-in first-out channel between tasks; capacity 0 (the default) is unbuffered. */
export interface CwChannel<T> {
  readonly capacity: number;
  /** `yield* ch.send(v)`: waits while the channel is full (unbuffered: until a receiver takes it). */
  send(value: T): CwRoutine<void>;
  /** `yield* ch.receive()`: waits while there is nothing to receive. */
  receive(): CwRoutine<T>;
  /** Sends without waiting: false if the send would have to wait. */
  trySend(value: T): boolean;
  close(): void;
}

/** Permits shared by tasks, served first in first out. */
export interface CwSemaphore {
  readonly permits: number;
  /** Permits free now. */
  readonly available: number;
  /** `yield* sem.acquire()`: takes a permit, waiting for one if none is free. */
  acquire(): CwRoutine<void>;
  release(): void;
  /** Runs `body` holding a permit; releases it however the body ends. */
  withPermit<R>(body: CwRoutine<R>): CwRoutine<R>;
}

/** The park/wake API's base class: a new way of waiting is a subclass (`class Gate extends cw.Wait`). */
export interface CwWait {
  park(task: CwTask<unknown>): void;
  release(task: CwTask<unknown>, outcome?: unknown): void;
  describe(): string;
  /** Resumes a task parked on this wait with `value`; false if it no longer waits here. */
  wake(task: CwTask<unknown>, value: unknown): boolean;
}

/** What `select([...])` gives: which case (by index) and its value. */
export interface CwSelected<T> {
  readonly index: number;
  readonly value: T;
}

export interface ClockworkApi {
  Worker: new (options?: {
    clock?: CwClock;
    onError?: (error: unknown, task: CwTask<unknown>) => void;
  }) => CwWorker;
  VirtualClock: new (start?: number) => CwVirtualClock;
  sleep(seconds: number): CwRoutine<void>;
  /** A wait that never wakes: `yield suspend()` parks until cancelled. */
  suspend(): unknown;
  spawn<R>(routine: CwRoutine<R>, options?: { name?: string; detached?: boolean }): CwTask<R>;
  run<R>(routine: CwRoutine<R>): Promise<R>;
  wrap<R>(routine: CwRoutine<R>): R;
  Channel: new <T>(capacity?: number) => CwChannel<T>;
  Semaphore: new (permits: number) => CwSemaphore;
  Wait: abstract new () => CwWait;
  /**
   * `yield* select([a.receive(), b.receive()])`: waits until one of the
   * operations can happen and does exactly that one. Not in the required
   * list: a build without it only fails the cases that use it.
   */
  select?: <T>(cases: readonly CwRoutine<T>[]) => CwRoutine<CwSelected<T>>;
  /** The select that never waits: undefined when no case is ready. */
  trySelect?: <T>(cases: readonly CwRoutine<T>[]) => CwSelected<T> | undefined;
  /** `yield* race([...])`: over operations alone a select that gives only the value. */
  race?: <T>(routines: CwRoutine<T>[]) => CwRoutine<T>;
  /** `yield* shield(routine)`: a cancel that comes meanwhile waits until it has ended. */
  shield?: <R>(routine: CwRoutine<R>) => CwRoutine<R>;
  /** `yield* resource(function* (provide) {...})`: a value closed once the asking task is done. */
  resource?: <T>(body: (provide: (value: T) => CwRoutine<void>) => CwRoutine<void>) => CwRoutine<T>;
}

export type CoreLoad =
  | { readonly ok: true; readonly api: ClockworkApi }
  | { readonly ok: false; readonly reason: string };

const required = [
  "Worker",
  "VirtualClock",
  "sleep",
  "suspend",
  "spawn",
  "run",
  "wrap",
  "Channel",
  "Semaphore",
  "Wait",
] as const;

/**
 * Imports the built package (../dist/index.js, what users install; `npm run
 * bench` builds it first), never the TypeScript sources through a loader:
 * the two can run at different speeds. Never throws: a failure comes back
 * as a reason.
 */
export async function loadClockwork(): Promise<CoreLoad> {
  const url = new URL("../dist/index.js", import.meta.url);
  if (!existsSync(fileURLToPath(url))) {
    return { ok: false, reason: "dist/index.js does not exist (run npm run build)" };
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url.href)) as Record<string, unknown>;
  } catch (e) {
    const why = e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e);
    return { ok: false, reason: `importing dist/index.js failed (${why})` };
  }
  const missing = required.filter((name) => typeof mod[name] !== "function");
  if (missing.length > 0) {
    return { ok: false, reason: `dist/index.js does not export ${missing.join(", ")}` };
  }
  return { ok: true, api: mod as unknown as ClockworkApi };
}
