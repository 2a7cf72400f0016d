#!/usr/bin/env node
/**
 * `npm start`: the clockwork web server on http://127.0.0.1:8080.
 *
 *   PORT, HOST          where to listen (default 8080, 127.0.0.1)
 *   --cluster N         N processes with node:cluster (also CLUSTER=N)
 *
 * Ctrl-C (SIGINT) or SIGTERM shuts down gracefully: the server stops
 * accepting, requests in flight get up to 5 s to finish, and the process
 * exits with status 0.
 */
import cluster from "node:cluster";
import { parseArgs } from "node:util";
import { Worker } from "clockwork-microthreads";
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

if (processes > 1 && cluster.isPrimary) {
  runPrimary(processes);
} else {
  await runServer();
}

/** One server process: a Worker, driven by run(), with the web server task on it. */
async function runServer(): Promise<void> {
  let stop: () => void = () => {};
  const shutdown = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const onSignal = (signal: string) => {
    if (cluster.isPrimary) console.log(`\n${signal}: closing (in-flight requests get 5 s)`);
    stop();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const worker = new Worker({
    onError: (error, task) => console.error(`webserver: ${task.label()} failed:`, error),
  });
  const main = worker.assign(
    webServer(
      worker,
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
    ),
    { name: "webserver" },
  );
  await worker.run();
  if (main.state === "failed") {
    console.error("webserver: failed:", main.error);
    process.exitCode = 1;
    return;
  }
  if (cluster.isPrimary) console.log("closed");
  process.exit(0); // ends the process though stray keep-alive sockets of clients may linger
}

/** The primary of a cluster: forks the server processes, and stops them on a signal. */
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
