/**
 * What the tests share: a worker on a VirtualClock, so no test waits for
 * real time.
 */
import { VirtualClock, Worker } from "../src/index.ts";

/**
 * A worker on a fresh VirtualClock. With `onError`, unhandled task errors go
 * there; otherwise they are thrown by the driving call, as in production.
 */
export function virtualWorker(onError?: (error: unknown) => void): {
  clock: VirtualClock;
  worker: Worker;
} {
  const clock = new VirtualClock();
  return { clock, worker: new Worker(onError ? { clock, onError } : { clock }) };
}

/** A worker on a fresh VirtualClock whose unhandled task errors are collected in `errors`. */
export function collectingWorker(): { clock: VirtualClock; worker: Worker; errors: unknown[] } {
  const errors: unknown[] = [];
  return { ...virtualWorker((error) => errors.push(error)), errors };
}
