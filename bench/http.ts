// http: the HTTP adapter (clockwork-microthreads/http, dist/node/http.js)
// under load. Part 1: "hello world" from serve() against a plain node:http
// server with the same handler. Part 2: a 64 KiB file from serveStatic()
// against sirv on a plain node:http server. Each server runs in a process
// of its own (bench/http-server.mjs, forked), listening on 127.0.0.1, port
// 0; autocannon, the client, runs in this process. The servers of a table
// are measured in turns, several rounds each, and each figure is a median:
// one 5 s run each moved by 20% from one run to the next. Besides requests per
// second and p99 latency, each row gives the server's CPU time per request,
// the steadiest figure on a machine whose two cores the client shares.

import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import {
  type Case,
  type Env,
  fmtNumber,
  fmtRatio,
  type Lookup,
  type Metric,
  median,
  type Suite,
  type Values,
  type Verdict,
} from "./harness.ts";

export function params(env: Env): { connections: number; seconds: number; fileBytes: number } {
  return env.quick
    ? { connections: 10, seconds: 1, fileBytes: 64 * 1024 }
    : { connections: 50, seconds: 5, fileBytes: 64 * 1024 };
}

/** Requests sent before the measured run (JIT warm-up, connections opened); the quick run too, or its figures are of cold code. */
const WARMUP_REQUESTS = 5_000;

const fileName = "file.bin";

// ---------------------------------------------------------------------------
// Load and measure

const metrics: readonly Metric[] = [
  { key: "rps", label: "throughput", unit: "req/s", better: "higher" },
  { key: "p99", label: "latency p99", unit: "ms", better: "lower" },
  { key: "cpu", label: "server CPU", unit: "us/req", better: "lower" },
];

/** Whether autocannon itself (the client, in this process) has been warmed up yet. */
let clientWarm = false;

type ServerMode = "node" | "node-same-headers" | "clockwork" | "sirv" | "clockwork-static";

interface ServerMessage {
  port?: number;
  error?: string;
  cpuMs?: number;
}

/** A server process of bench/http-server.mjs, and a way to ask it things. */
interface ServerProcess {
  readonly url: string;
  /** Sends "start" or "stop" and gives the reply ("stop" replies with the CPU time). */
  ask(message: "start" | "stop"): Promise<ServerMessage>;
  /** Errors the server reported. */
  readonly errors: string[];
  kill(): void;
}

async function startServer(
  mode: ServerMode,
  path: string,
  folder?: string,
): Promise<ServerProcess> {
  const script = fileURLToPath(new URL("./http-server.mjs", import.meta.url));
  const child = fork(script, folder === undefined ? [mode] : [mode, folder], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const errors: string[] = [];
  const replies: ((m: ServerMessage) => void)[] = [];
  child.on("message", (m: ServerMessage) => {
    if (m.error !== undefined) errors.push(m.error);
    else replies.shift()?.(m);
  });
  const reply = () =>
    new Promise<ServerMessage>((resolve, reject) => {
      replies.push(resolve);
      child.once("exit", (code) => reject(new Error(`the server exited (${code}): ${errors[0]}`)));
    });
  try {
    const { port } = await reply();
    return {
      url: `http://127.0.0.1:${port}${path}`,
      errors,
      ask(message) {
        const answer = message === "stop" ? reply() : Promise.resolve({});
        child.send(message);
        return answer;
      },
      kill: () => child.kill(),
    };
  } catch (error) {
    child.kill();
    throw error;
  }
}

/** Measured rounds per server: the servers take turns, so that drift hits them alike. */
const rounds = (env: Env): number => (env.quick ? 1 : 5);

/**
 * Starts a server for each mode, warms each up, then measures them in
 * turns (`rounds` rounds of the mode's duration, the order reversed every
 * other round) and gives each mode's medians. The cases of a table share
 * one such measurement: the first case to run starts it.
 */
async function measureInTurns(
  modes: readonly ServerMode[],
  path: string,
  env: Env,
  folder?: string,
): Promise<Map<ServerMode, Values>> {
  const servers: ServerProcess[] = [];
  try {
    for (const mode of modes) servers.push(await startServer(mode, path, folder));
    const { connections, seconds } = params(env);
    for (const server of servers) {
      if (!clientWarm) {
        // The first server measured would otherwise also pay for compiling the client.
        clientWarm = true;
        await autocannon({ url: server.url, connections, duration: env.quick ? 0.5 : 3 });
      }
      await autocannon({ url: server.url, connections, amount: WARMUP_REQUESTS });
    }
    const samples = servers.map(() => ({
      rps: [] as number[],
      p99: [] as number[],
      cpu: [] as number[],
    }));
    for (let round = 0; round < rounds(env); round++) {
      const order = servers.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      for (const i of order) {
        const server = servers[i] as ServerProcess;
        await server.ask("start");
        const result = await autocannon({ url: server.url, connections, duration: seconds });
        const { cpuMs } = await server.ask("stop");
        if (result.errors > 0 || result.non2xx > 0 || result.requests.total === 0) {
          throw new Error(
            `${modes[i]}: ${result.requests.total} requests, ${result.errors} errors, ${result.non2xx} non-2xx`,
          );
        }
        if (server.errors.length > 0) throw new Error(`${modes[i]} reported: ${server.errors[0]}`);
        const sample = samples[i] as { rps: number[]; p99: number[]; cpu: number[] };
        sample.rps.push(result.requests.average);
        sample.p99.push(result.latency.p99);
        sample.cpu.push(((cpuMs ?? Number.NaN) * 1000) / result.requests.total);
      }
    }
    return new Map(
      modes.map((mode, i) => {
        const sample = samples[i] as { rps: number[]; p99: number[]; cpu: number[] };
        return [
          mode,
          { rps: median(sample.rps), p99: median(sample.p99), cpu: median(sample.cpu) },
        ];
      }),
    );
  } finally {
    for (const server of servers) server.kill();
  }
}

/** One measurement shared by a table's cases: the first case to run starts it, the others read it. */
function shared(
  measure: (env: Env) => Promise<Map<ServerMode, Values>>,
): (mode: ServerMode, env: Env) => Promise<Values> {
  let measured: Promise<Map<ServerMode, Values>> | undefined;
  return async (mode, env) => {
    measured ??= measure(env);
    const values = (await measured).get(mode);
    if (values === undefined) throw new Error(`no figures for ${mode}`);
    return values;
  };
}

// ---------------------------------------------------------------------------
// Part 1: hello world

const hello = shared((env) => measureInTurns(["node", "node-same-headers", "clockwork"], "/", env));

const helloCases: readonly Case[] = [
  {
    name: "node:http",
    kind: "baseline",
    how: 'http.createServer((req, res) => { res.writeHead(200, text/plain); res.end("hello world\\n") })',
    run: (env) => hello("node", env),
  },
  {
    name: "node:http, res.text()'s headers",
    kind: "peer",
    how: 'the same, with "text/plain; charset=utf-8" and a content-length (no chunked encoding), as res.text() sends',
    run: (env) => hello("node-same-headers", env),
  },
  {
    name: "clockwork serve()",
    kind: "clockwork",
    how: 'yield* serve({ port: 0 }, function* (req, res) { res.text("hello world\\n") }), worker.run()',
    run: (_cw, env) => hello("clockwork", env),
  },
];

/** "; server CPU 1.10x theirs", when both have the figure. */
function cpuNote(get: Lookup, ours: string, theirs: string): string {
  const a = get(ours, "cpu");
  const b = get(theirs, "cpu");
  return a === undefined || b === undefined
    ? ""
    : `; server CPU per request ${fmtRatio(a / b)} theirs`;
}

function helloVerdict(get: Lookup): Verdict {
  const node = get("node:http", "rps");
  const clockwork = get("clockwork serve()", "rps");
  if (node === undefined || clockwork === undefined) {
    return { status: "n/a", detail: "clockwork or node:http has no figure" };
  }
  const r = clockwork / node;
  return {
    status: r >= 0.9 ? "met" : "not met",
    detail: `clockwork serves ${fmtNumber(clockwork)} req/s, ${fmtRatio(r)} node:http (goal >= 0.9x)${cpuNote(get, "clockwork serve()", "node:http")}`,
  };
}

// ---------------------------------------------------------------------------
// Part 2: a static file

/** Writes the file to a temp folder of its own, runs `body`, removes the folder. */
async function withFile<T>(env: Env, body: (folder: string) => Promise<T>): Promise<T> {
  const folder = mkdtempSync(join(tmpdir(), "clockwork-bench-http-"));
  try {
    writeFileSync(join(folder, fileName), randomBytes(params(env).fileBytes));
    return await body(folder);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

const staticFile = shared((env) =>
  withFile(env, (folder) =>
    measureInTurns(["sirv", "clockwork-static"], `/${fileName}`, env, folder),
  ),
);

const staticCases: readonly Case[] = [
  {
    name: "sirv on node:http",
    kind: "peer",
    how: "http.createServer(sirv(folder))",
    run: (env) => staticFile("sirv", env),
  },
  {
    name: "clockwork serveStatic()",
    kind: "clockwork",
    how: "yield* serve({ port: 0 }, serveStatic(folder)), worker.run()",
    run: (_cw, env) => staticFile("clockwork-static", env),
  },
];

function staticVerdict(get: Lookup): Verdict {
  const peer = get("sirv on node:http", "rps");
  const clockwork = get("clockwork serveStatic()", "rps");
  if (peer === undefined || clockwork === undefined) {
    return { status: "n/a", detail: "clockwork or sirv has no figure" };
  }
  const r = clockwork / peer;
  return {
    status: r >= 1 ? "met" : "not met",
    detail: `clockwork serves ${fmtNumber(clockwork)} req/s, ${fmtRatio(r)} sirv (goal >= 1x)${cpuNote(get, "clockwork serveStatic()", "sirv on node:http")}`,
  };
}

export const suite: Suite = {
  name: "http",
  description: "the HTTP adapter under load: hello world and a static file",
  tables(env) {
    const { connections, seconds, fileBytes } = params(env);
    const load = `each server in its own process, all started at once and measured in turns: ${rounds(env)} round(s) of ${seconds} s each, the order reversed every other round, medians; autocannon in this process, ${connections} connections, after ${fmtNumber(WARMUP_REQUESTS)} warm-up requests each; 127.0.0.1`;
    return [
      {
        title: "http: hello world",
        params: load,
        goal: ">= 0.9x the req/s of plain node:http",
        baseline: "node:http",
        metrics,
        cases: helloCases,
        verdict: helloVerdict,
      },
      {
        title: "http: a static file",
        params: `GET of a ${fileBytes / 1024} KiB file; ${load}`,
        goal: ">= 1x the req/s of sirv on node:http",
        baseline: "sirv on node:http",
        metrics,
        cases: staticCases,
        verdict: staticVerdict,
      },
    ];
  },
};
