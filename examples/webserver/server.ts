/**
 * The web server of the original plans, as a program: static files, the
 * kiwi game console at `/` (when it has been built), and a live view of the
 * server's own microthreads.
 *
 * Everything here is a task on one Worker: the HTTP server (and under it one
 * task per request), a meter that samples the worker's step counter every
 * second and sends the stats to the event streams' listeners on a
 * Broadcast, and the task that waits for a signal to shut down. The routes:
 *
 *   /               the kiwi game (examples/kiwi/dist) or, until it is built, about.html
 *   /status         a status page that refreshes itself from the two APIs below
 *   /api/stats      JSON: tasks by state, steps per second, requests served, uptime
 *   /api/tasks      text: the worker's dump (every live task, its state and stack)
 *   /api/stream     the stats once a second as server-sent events, until the client
 *                   leaves or the server shuts down (a task per listener, subscribed
 *                   to the meter's broadcast)
 *   anything else   a static file from the kiwi build or public/ (404 if none)
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Broadcast, each, repeat, routine, spawn, type Worker } from "clockwork-microthreads";
import {
  type HttpServer,
  type Request,
  type Response,
  serve,
  serveStatic,
} from "clockwork-microthreads/http";

/**
 * This example's folder: where this file is, or the folder above when it
 * runs built (`npm start` runs the bundle dist/main.js).
 */
const exampleDir = new URL(/\/dist\/[^/]*$/.test(import.meta.url) ? "../" : "./", import.meta.url);
/** Where the web server's own pages live. */
export const publicDir = fileURLToPath(new URL("public/", exampleDir));
/** Where `npm run build:kiwi` puts the game. */
export const kiwiDir = fileURLToPath(new URL("../kiwi/dist/", exampleDir));

export interface WebServerOptions {
  host: string;
  port: number;
  /** Folders served as static files, first match wins (default: the kiwi build if it exists, then public/). */
  roots?: string[];
  /** Seconds in-flight requests get to finish when shutting down (default 5). */
  closeGrace?: number;
  /** Called with the server once it listens. */
  onListening?: (server: HttpServer) => void;
  /** Where handler errors go (default: stderr). */
  onError?: (error: unknown, request: Request) => void;
}

/** What /api/stats answers. */
export interface Stats {
  pid: number;
  /** Seconds since the server started. */
  uptime: number;
  /** Requests answered. */
  requests: number;
  tasks: { total: number; runnable: number; waiting: number };
  /** Worker steps in the last full second. */
  stepsPerSecond: number;
  /** Worker steps since the start. */
  steps: number;
  tasksCreated: number;
  tasksFinished: number;
}

/** The default static roots: the game if it was built, then the server's own pages. */
export function defaultRoots(): string[] {
  return existsSync(kiwiDir) ? [kiwiDir, publicDir] : [publicDir];
}

/** Tasks by state, as /api/stats reports them. */
function taskCounts(worker: Worker): Stats["tasks"] {
  const counts = { total: 0, runnable: 0, waiting: 0 };
  for (const task of worker.tasks) {
    counts.total++;
    if (task.state === "runnable") counts.runnable++;
    else if (task.state === "waiting") counts.waiting++;
  }
  return counts;
}

/**
 * Runs the web server on `worker` (the worker this task runs on; its
 * counters and dump are what the APIs show) until it is told to stop: `shutdown` is a promise-like
 * wait (yielded) that settles on SIGINT/SIGTERM; then the server closes
 * gracefully and the routine returns.
 */
export const webServer = routine(function* webServer(
  worker: Worker,
  options: WebServerOptions,
  shutdown: PromiseLike<unknown>,
) {
  const started = Date.now();
  // One handler over every root: a file of the second is found without a 404 thrown by the first.
  const files = serveStatic(options.roots ?? defaultRoots());
  const hasGame = (options.roots ?? defaultRoots())[0] === kiwiDir;
  let stepsPerSecond = 0;
  let server: HttpServer | undefined;
  /** The stats, once a second, to every /api/stream listener; closed on shutdown, which ends the streams. */
  const updates = new Broadcast<Stats>();

  // A microthread of the server's own: samples the step counter once a second and sends the
  // stats to the listeners. It never waits for them: each keeps only the latest (see streamStats).
  const meter = spawn(
    repeat(1, function* sample() {
      const now = worker.counters.steps;
      stepsPerSecond = now - lastSteps;
      lastSteps = now;
      yield* updates.send(stats());
    }),
    { name: "steps meter" },
  );
  let lastSteps = worker.counters.steps;

  const stats = (): Stats => ({
    pid: process.pid,
    uptime: (Date.now() - started) / 1000,
    requests: server?.served ?? 0,
    tasks: taskCounts(worker),
    stepsPerSecond,
    steps: worker.counters.steps,
    tasksCreated: worker.counters.tasksCreated,
    tasksFinished: worker.counters.tasksFinished,
  });

  /**
   * Server-sent events: the stats now, then the meter's each second, until the client leaves or
   * the server shuts down (the broadcast is closed: each() returns).
   */
  function* streamStats(res: Response): Generator<unknown, void, any> {
    const headers = { "content-type": "text/event-stream", "cache-control": "no-cache" };
    const event = (s: Stats) => `data: ${JSON.stringify(s)}\n\n`;
    // The latest stats only: a client slow to read skips some (counted in `latest.dropped`) and
    // never holds up the meter or the other listeners. It ends with this task.
    const latest = updates.subscribe({ overflow: "drop-oldest" });
    // A client that leaves ends the subscription, so each() returns and so does this task.
    const leave = () => latest.close();
    res.raw.once("close", leave);
    try {
      // write() waits while the client is slow to read; it throws if the client goes meanwhile.
      yield* res.write(event(stats()), headers);
      yield* each(latest, (s) => (res.raw.destroyed ? undefined : res.write(event(s))));
    } catch (error) {
      if (!res.raw.destroyed) throw error; // a client that left is no error
    } finally {
      res.raw.off("close", leave);
    }
    res.end();
  }

  function* route(req: Request, res: Response): Generator<unknown, void, any> {
    if (req.path === "/api/stats") return res.json(stats());
    if (req.path === "/api/tasks") return res.text(`${worker.dump()}\n`);
    if (req.path === "/api/stream") {
      yield* streamStats(res);
      return;
    }
    if (req.path === "/status") {
      yield* res.sendFile(`${publicDir}status.html`);
      return;
    }
    if (req.path === "/" && !hasGame) {
      yield* res.sendFile(`${publicDir}about.html`);
      return;
    }
    // The static roots, the first that has the file answering (404 if none has it).
    yield* files(req, res);
  }

  server = yield* serve(
    {
      host: options.host,
      port: options.port,
      closeGrace: options.closeGrace ?? 5,
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    },
    route,
  );
  options.onListening?.(server);
  try {
    yield shutdown;
  } finally {
    // On a signal, or if this task is cancelled: finish what is in flight, then close.
    meter.cancel(); // it sends no more...
    updates.close(); // ...and the event streams end (not waiting out the grace period)
    yield* server.close();
  }
});
