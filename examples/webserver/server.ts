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
 *   /status         a status page, live from /api/stream
 *   /api/stats      JSON: tasks by state and the tree of those tasks (one snapshot), steps
 *                   per second, requests served, uptime
 *   /api/tasks      text: the worker's dump (every live task, its state and stack)
 *   /api/history    JSON: the meter's samples of the last minutes (steps and requests per
 *                   second, live tasks), oldest first, for charts
 *   /api/stream     server-sent events: first the history (event "history"), then the
 *                   stats once a second, until the client leaves or the server shuts
 *                   down (a task per listener, subscribed to the meter's broadcast)
 *   anything else   a static file from the kiwi build or public/ (404 if none)
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  Broadcast,
  each,
  repeat,
  routine,
  spawn,
  type Task,
  type Worker,
} from "clockwork-microthreads";
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
  /** How many of the meter's samples (one a second) /api/history keeps (default 300: five minutes). */
  history?: number;
}

/** One of the meter's samples, once a second: what the status page's charts draw. */
export interface Sample {
  /** Seconds since the server started, when it was taken. */
  uptime: number;
  /** Worker steps in the second before it. */
  stepsPerSecond: number;
  /** Requests answered in the second before it. */
  requestsPerSecond: number;
  /** Live tasks when it was taken (`tasks.total` of its stats). */
  liveTasks: number;
}

/** What /api/history answers: the latest samples, oldest first. */
export interface History {
  /** Seconds between two samples. */
  interval: number;
  /** The most samples kept: older ones are dropped. */
  keep: number;
  samples: Sample[];
}

/** A live task, as /api/stats and /api/stream show it: one node of the task tree. */
export interface TaskNode {
  id: number;
  name: string;
  /** "running" (the task that took the snapshot), "runnable" or "waiting". */
  state: string;
  /** Its state and what it waits on, as `worker.describeState()` says it: "waiting on sleep until 3.020". */
  doing: string;
  /** The routines on its call stack, outermost first. */
  stack: string[];
  /** The tasks it spawned that are still live, oldest first. */
  children: TaskNode[];
}

/** What /api/stats answers, and each event of /api/stream. */
export interface Stats {
  pid: number;
  /** Seconds since the server started. */
  uptime: number;
  /** Requests answered. */
  requests: number;
  /**
   * Live tasks (started, not yet ended) by state, counted from `tree` in
   * the same step: `runnable` includes the one running (the one that took
   * the snapshot), `waiting` the sleeping ones.
   */
  tasks: { total: number; runnable: number; waiting: number };
  /** The live tasks, top-level ones first, children under their parents (at most TREE_LIMIT nodes). */
  tree: TaskNode[];
  /** Live tasks left out of `tree` because it was full: `tasks.total` counts them. */
  omitted: number;
  /** Worker steps in the last full second. */
  stepsPerSecond: number;
  /** Requests answered in the last full second. */
  requestsPerSecond: number;
  /** Worker steps since the start. */
  steps: number;
  tasksCreated: number;
  tasksFinished: number;
}

/** The default static roots: the game if it was built, then the server's own pages. */
export function defaultRoots(): string[] {
  return existsSync(kiwiDir) ? [kiwiDir, publicDir] : [publicDir];
}

/** The most tasks a snapshot's tree holds (a server under load may have thousands in flight). */
export const TREE_LIMIT = 200;

/**
 * The live tasks of `worker` as a tree, and their count by state, taken in
 * one step (nothing else runs meanwhile): the count is that of the tasks
 * the tree is drawn from, so the two always agree.
 *
 * They did not: the status page showed the count of the meter's latest
 * stats above the text of /api/tasks, fetched by another request a moment
 * later. That request's own task was in the dump but not in the count, so
 * were the requests then in flight (the page's stylesheet, another
 * client's), and tasks that had ended in between were counted but gone:
 * "live tasks 4" above a dump of 7. Now the tree travels in the same
 * answer (or event) as its count.
 *
 * What each drawn task waits on is `worker.describeState(task)`, read in
 * the same step, for the drawn tasks only (at most TREE_LIMIT).
 */
export function snapshotTasks(worker: Worker): Pick<Stats, "tasks" | "tree" | "omitted"> {
  const live = worker.tasks;
  const tasks = { total: live.length, runnable: 0, waiting: 0 };
  for (const task of live) {
    if (task.state === "runnable") tasks.runnable++;
    else tasks.waiting++;
  }
  let nodes = 0;
  // Depth first, top-level tasks oldest first, until the tree is full.
  const visit = (task: Task): TaskNode => {
    nodes++;
    const doing = worker.describeState(task);
    const children: TaskNode[] = [];
    for (const child of task.children) {
      if (nodes >= TREE_LIMIT) break;
      children.push(visit(child));
    }
    const state = doing === "running" ? "running" : task.state;
    return { id: task.id, name: task.name, state, doing, stack: task.stack, children };
  };
  const tree: TaskNode[] = [];
  for (const task of live) {
    if (nodes >= TREE_LIMIT) break;
    if (task.parent === undefined) tree.push(visit(task));
  }
  return { tasks, tree, omitted: tasks.total - nodes };
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
  const keep = options.history ?? 300;
  if (!Number.isInteger(keep) || keep < 1) {
    throw new RangeError(`webServer option "history" expects a whole number above 0, got ${keep}`);
  }
  let stepsPerSecond = 0;
  let requestsPerSecond = 0;
  let server: HttpServer | undefined;
  /** The stats, once a second, to every /api/stream listener; closed on shutdown, which ends the streams. */
  const updates = new Broadcast<Stats>();
  /** The meter's latest samples, oldest first: a page opened now draws the last minutes at once. */
  const history: Sample[] = [];

  // A microthread of the server's own: samples the step and request counters once a second,
  // keeps the sample and sends the stats to the listeners. It never waits for them: each keeps
  // only the latest (see streamStats).
  const meter = spawn(
    repeat(
      1,
      routine(function* sample() {
        const steps = worker.counters.steps;
        const served = server?.served ?? 0;
        stepsPerSecond = steps - lastSteps;
        requestsPerSecond = served - lastServed;
        lastSteps = steps;
        lastServed = served;
        const now = stats();
        history.push({
          uptime: now.uptime,
          stepsPerSecond,
          requestsPerSecond,
          liveTasks: now.tasks.total,
        });
        if (history.length > keep) history.shift();
        yield* updates.send(now);
      }),
    ),
    { name: "steps meter" },
  );
  let lastSteps = worker.counters.steps;
  let lastServed = 0;

  const stats = (): Stats => ({
    pid: process.pid,
    uptime: (Date.now() - started) / 1000,
    requests: server?.served ?? 0,
    ...snapshotTasks(worker),
    stepsPerSecond,
    requestsPerSecond,
    steps: worker.counters.steps,
    tasksCreated: worker.counters.tasksCreated,
    tasksFinished: worker.counters.tasksFinished,
  });

  /** What /api/history answers (the samples are copied: the meter goes on adding). */
  const kept = (): History => ({ interval: 1, keep, samples: history.slice() });

  /**
   * Server-sent events: the samples kept (an event named "history", so a chart starts full
   * and starts again from the server's own samples when the page reconnects), the stats now,
   * then the meter's each second, until the client leaves or the server shuts down (the
   * broadcast is closed: each() returns).
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
      yield* res.write(
        `event: history\ndata: ${JSON.stringify(kept())}\n\n${event(stats())}`,
        headers,
      );
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
    if (req.path === "/api/history") return res.json(kept());
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
