/**
 * What the tests share: a worker on a VirtualClock, so no test waits for
 * real time, and a child node process for what only a whole process shows.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { call, type Task, VirtualClock, Worker } from "../src/index.ts";
import { type Handler, type HttpServer, type ServeOptions, serve } from "../src/node/http.ts";

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

/** What a child process left behind. */
export interface ScriptOutcome {
  /** Its exit code; null if it was killed (at the time limit, say). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `source` as an ES module in a child node process, from the project's
 * root with tsx loaded, so it can `import ... from "./src/index.ts"`. For
 * what only a whole process shows: an unhandled rejection, how it exits.
 * With `openFiles`, the child may hold at most that many descriptors (a
 * shell's `ulimit -n` before it starts node).
 */
export function nodeScript(
  source: string,
  timeoutSeconds = 30,
  options: { openFiles?: number } = {},
): Promise<ScriptOutcome> {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const node = [process.execPath, "--import", "tsx", "--input-type=module", "--eval", source];
  const [file, args] =
    options.openFiles === undefined
      ? [process.execPath, node.slice(1)]
      : ["/bin/sh", ["-c", `ulimit -n ${options.openFiles} && exec "$0" "$@"`, ...node]];
  return new Promise((resolve) => {
    execFile(file, args, { cwd: root, timeout: timeoutSeconds * 1000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Whether `pid` is gone within `ms` (a signal takes effect when the process is next scheduled). */
export async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/** Whether process `pid` runs (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed process whose parent is gone stays a zombie until init reaps it: dead all the same.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true; // no /proc here
  }
}

/**
 * Runs `body(server)` against a server of `handler` on 127.0.0.1, port 0
 * (options as given), on a worker of its own, then closes the server;
 * rethrows what `body` threw once the server has closed.
 */
export async function withServer(
  handler: Handler,
  body: (server: HttpServer) => Promise<void>,
  options: ServeOptions = {},
): Promise<void> {
  const worker = new Worker();
  const failures: unknown[] = [];
  worker.assign(
    (function* main() {
      const server = yield* serve({ port: 0, ...options }, handler);
      try {
        yield* call(body(server));
      } catch (error) {
        failures.push(error);
      } finally {
        yield* server.close();
      }
    })(),
  );
  await worker.run();
  if (failures.length > 0) throw failures[0];
}

/**
 * Serves the handler `makeHandler()` gives (made when the tests start) on
 * 127.0.0.1, port 0, on a worker of its own, for the tests of the describe
 * block it is called in: started before them, closed after them. `port`
 * and `served` are the server's once started; `errors` what
 * its onError got; `task()` the task that ran it (done once closed).
 */
export function suiteServer(makeHandler: () => Handler): {
  readonly port: number;
  readonly served: number;
  errors: unknown[];
  task: () => Task<unknown>;
} {
  const worker = new Worker();
  const errors: unknown[] = [];
  let server: HttpServer | undefined;
  let task: Task<unknown> | undefined;
  let stop: () => void = () => {};
  let running: Promise<void> | undefined;
  before(async () => {
    const ready = new Promise<void>((resolve) => {
      task = worker.assign(
        (function* main() {
          server = yield* serve({ port: 0, onError: (error) => errors.push(error) }, makeHandler());
          resolve();
          yield* call(new Promise<void>((done) => (stop = done)));
          yield* server.close();
        })(),
      );
    });
    running = worker.run();
    await ready;
  });
  after(async () => {
    stop();
    await running;
  });
  return {
    get port() {
      return (server as HttpServer).port;
    },
    get served() {
      return (server as HttpServer).served;
    },
    errors,
    task: () => task as Task<unknown>,
  };
}

/** Waits until `condition()` holds, for at most `ms`; gives whether it did. */
export async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}
