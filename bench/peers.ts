// Small adapters for the peer libraries, shared by the benchmark files.

import { action, type Operation } from "effection";
import csp, { type Channel } from "js-csp";
import { type RunSagaOptions, runSaga, type Saga, stdChannel, type Task } from "redux-saga";

/**
 * Effection's cheapest switch: an action that resolves synchronously. The
 * resumption is queued on Effection's reducer behind every other routine that
 * is ready, so it interleaves tasks (checked: 0,1,0,1,...) without touching a
 * timer or a promise. sleep(0) (a setTimeout), until(resolved promise) and
 * call(() => resolved promise) were all measured slower.
 */
export function yieldNow(): Operation<void> {
  return action<void>((resolve) => {
    resolve();
    return () => {};
  }, "yieldNow");
}

function sagaOptions(quiet: boolean): RunSagaOptions<unknown, unknown> {
  const options: RunSagaOptions<unknown, unknown> = {
    channel: stdChannel(),
    dispatch: () => {},
    getState: () => ({}),
  };
  // redux-saga logs every uncaught saga error with its whole saga stack; the
  // error still rejects the task's promise, which is where it is reported.
  if (quiet) options.onError = () => {};
  return options;
}

/** Starts a root saga outside Redux (runSaga with a fresh stdChannel). */
export function startSaga<S extends Saga>(saga: S, ...args: Parameters<S>): Task {
  return runSaga(sagaOptions(false), saga, ...args);
}

/** Like startSaga, but its errors are not logged (they still reject toPromise()). */
export function startQuietSaga<S extends Saga>(saga: S, ...args: Parameters<S>): Task {
  return runSaga(sagaOptions(true), saga, ...args);
}

/** Runs a root saga to completion; rejects with its error. */
export function runSagaToEnd<S extends Saga>(saga: S, ...args: Parameters<S>): Promise<unknown> {
  return startSaga(saga, ...args).toPromise();
}

/** Resolves with the first value taken from a js-csp channel. */
export function takePromise(ch: Channel): Promise<unknown> {
  return new Promise((resolve) => csp.takeAsync(ch, resolve));
}

/** Resolves once one value was taken from each channel, in order. */
export function takeEach(channels: readonly Channel[]): Promise<void> {
  return new Promise((resolve) => {
    csp.go(function* () {
      for (const ch of channels) yield ch;
      resolve();
    });
  });
}
