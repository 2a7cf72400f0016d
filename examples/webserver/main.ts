#!/usr/bin/env node
/**
 * `npm start`: the clockwork web server on http://127.0.0.1:8080.
 *
 *   PORT, HOST          where to listen (default 8080, 127.0.0.1)
 *   --cluster N         N processes with node:cluster (also CLUSTER=N)
 *
 * Ctrl-C (SIGINT) or SIGTERM shuts down gracefully: the server stops
 * accepting, requests in flight get up to 5 s to finish, and the process
 * exits with status 0. A second Ctrl-C exits at once.
 */
import cluster from "node:cluster";
import { parseArgs } from "node:util";
import { currentTask, routine, spawn, type Task } from "clockwork-microthreads";
import { main, untilSignal } from "clockwork-microthreads/process";
import { webServer } from "./server.ts";

function fail(message: string): never {
  console.error(`webserver: ${message}`);
  console.error("usage: npm start [-- --cluster N]   (PORT, HOST, CLUSTER in the environment)");
  process.exit(2);
}

function parseCount(what: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) fail(`${what} expects a whole number, got "${value}"`);
  return n;
}

let args: ReturnType<typeof parseOptions>;
function parseOptions() {
  return parseArgs({
    args: process.argv.slice(2),
    options: { cluster: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
}
try {
  args = parseOptions();
} catch (error) {
  fail((error as Error).message);
}
if (args.values.help) {
  console.log("usage: npm start [-- --cluster N]   (PORT, HOST, CLUSTER in the environment)");
  process.exit(0);
}
const { HOST, PORT, CLUSTER } = process.env;
const host = HOST || "127.0.0.1";
const port = parseCount("PORT", PORT, 8080);
if (port > 65535) fail(`PORT expects a port number up to 65535, got ${port}`);
const processes = parseCount("--cluster", args.values.cluster ?? CLUSTER, 1);

/**
 * One server process, run by main(): the web server until SIGINT or
 * SIGTERM, then its graceful close. It waits for the signal itself
 * (untilSignal), so a signal is a normal stop and the process exits 0;
 * main() exits at once on a second one, and prints an error with its
 * routine stack (status 1). Under --cluster the primary turns Ctrl-C into
 * a SIGTERM for each process, which also gets the terminal's SIGINT: main()
 * counts the two as one.
 */
const serverProcess = routine(function* serverProcess(): Generator<unknown, void, any> {
  let stop: () => void = () => {};
  const shutdown = new Promise<void>((resolve) => {
    stop = resolve;
  });
  spawn(stopOnSignal(stop));
  yield webServer(
    (currentTask() as Task).worker, // the worker main() runs it on: its counters and dump are served
    {
      host,
      port,
      onListening(server) {
        if (cluster.isPrimary)
          console.log(`clockwork web server on ${server.url}/ (Ctrl-C stops it)`);
        else process.send?.({ listening: server.url });
      },
    },
    shutdown,
  );
  if (cluster.isPrimary) console.log("closed");
});

/** Settles the server's shutdown on SIGINT or SIGTERM. */
const stopOnSignal = routine(function* stopOnSignal(stop: () => void) {
  const signal = yield* untilSignal();
  if (cluster.isPrimary) console.log(`\n${signal}: closing (in-flight requests get 5 s)`);
  stop();
});

if (processes > 1 && cluster.isPrimary) {
  runPrimary(processes);
} else {
  // Exits when the server has closed, though stray keep-alive sockets of clients may linger.
  main(serverProcess(), {
    onError: (error, task) => console.error(`webserver: ${task.label()} failed:`, error),
  });
}

/**
 * The primary of a cluster: forks the server processes, and stops them on
 * a signal. It stays plain node:cluster code, not a routine under main():
 * it runs no tasks, only forwards the stop (SIGTERM) to each process and
 * waits for their exits, all of it events of node:cluster.
 */
function runPrimary(n: number): void {
  let listening = 0;
  let stopping = false;
  for (let i = 0; i < n; i++) cluster.fork();
  cluster.on("message", (_worker, message: { listening?: string }) => {
    if (message.listening !== undefined && ++listening === n) {
      console.log(
        `clockwork web server on ${message.listening}/ in ${n} processes (Ctrl-C stops it)`,
      );
    }
  });
  cluster.on("exit", (child, code, signal) => {
    if (!stopping) {
      console.error(`webserver: process ${child.process.pid} exited (${signal ?? code}); stopping`);
      stopAll("a process exited");
      process.exitCode = 1;
    }
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(process.exitCode ?? 0);
  });
  const stopAll = (why: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${why}: closing ${n} processes (in-flight requests get 5 s)`);
    for (const child of Object.values(cluster.workers ?? {})) child?.process.kill("SIGTERM");
  };
  process.once("SIGINT", () => stopAll("SIGINT"));
  process.once("SIGTERM", () => stopAll("SIGTERM"));
}
