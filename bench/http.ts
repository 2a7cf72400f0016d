// http: the HTTP adapter (clockwork-microthreads/http, dist/node/http.js)
// under load. Part 1: "hello world" from serve() against a plain node:http
// server with the same handler. Part 2: a 64 KiB file from serveStatic()
// against sirv on a plain node:http server. Each server runs in a process
// of its own (bench/http-server.mjs, forked), listening on 127.0.0.1, port
// 0; autocannon, the client, runs in this process. Besides requests per
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
  type Suite,
  type Values,
  type Verdict,
} from "./harness.ts";

export function params(env: Env): { connections: number; seconds: number; fileBytes: number } {
  return env.quick
    ? { connections: 10, seconds: 1, fileBytes: 64 * 1024 }
    : { connections: 50, seconds: 5, fileBytes: 64 * 1024 };
}

/** Requests sent before the measured run (JIT warm-up, connections opened). */
const warmupRequests = (env: Env): number => (env.quick ? 500 : 5_000);

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

/**
 * Forks bench/http-server.mjs in `mode`, warms it up, runs autocannon
 * against `path` for the mode's duration, and reads the server's CPU time
 * for the measured run. Any error the server reports fails the case.
 */
async function measureServer(
  mode: ServerMode,
  path: string,
  env: Env,
  folder?: string,
): Promise<Values> {
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
    const url = `http://127.0.0.1:${port}${path}`;
    const { connections, seconds } = params(env);
    if (!clientWarm) {
      // The first case measured would otherwise also pay for compiling the client.
      clientWarm = true;
      await autocannon({ url, connections, duration: env.quick ? 0.5 : 3 });
    }
    await autocannon({ url, connections, amount: warmupRequests(env) });
    child.send("start");
    const result = await autocannon({ url, connections, duration: seconds });
    child.send("stop");
    const { cpuMs } = await reply();
    if (result.errors > 0 || result.non2xx > 0 || result.requests.total === 0) {
      throw new Error(
        `${result.requests.total} requests, ${result.errors} errors, ${result.non2xx} non-2xx`,
      );
    }
    if (errors.length > 0) throw new Error(`the server reported: ${errors[0]}`);
    return {
      rps: result.requests.average,
      p99: result.latency.p99,
      cpu: ((cpuMs ?? Number.NaN) * 1000) / result.requests.total,
    };
  } finally {
    child.kill();
  }
}

// ---------------------------------------------------------------------------
// Part 1: hello world

const helloCases: readonly Case[] = [
  {
    name: "node:http",
    kind: "baseline",
    how: 'http.createServer((req, res) => { res.writeHead(200, text/plain); res.end("hello world\\n") })',
    run: (env) => measureServer("node", "/", env),
  },
  {
    name: "node:http, res.text()'s headers",
    kind: "peer",
    how: 'the same, with "text/plain; charset=utf-8" and a content-length (no chunked encoding), as res.text() sends',
    run: (env) => measureServer("node-same-headers", "/", env),
  },
  {
    name: "clockwork serve()",
    kind: "clockwork",
    how: 'yield* serve({ port: 0 }, function* (req, res) { res.text("hello world\\n") }), worker.run()',
    run: (_cw, env) => measureServer("clockwork", "/", env),
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
async function withFile(env: Env, body: (folder: string) => Promise<Values>): Promise<Values> {
  const folder = mkdtempSync(join(tmpdir(), "clockwork-bench-http-"));
  try {
    writeFileSync(join(folder, fileName), randomBytes(params(env).fileBytes));
    return await body(folder);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

const staticCases: readonly Case[] = [
  {
    name: "sirv on node:http",
    kind: "peer",
    how: "http.createServer(sirv(folder))",
    run: (env) => withFile(env, (folder) => measureServer("sirv", `/${fileName}`, env, folder)),
  },
  {
    name: "clockwork serveStatic()",
    kind: "clockwork",
    how: "yield* serve({ port: 0 }, serveStatic(folder)), worker.run()",
    run: (_cw, env) =>
      withFile(env, (folder) => measureServer("clockwork-static", `/${fileName}`, env, folder)),
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
    const load = `each server in its own process; autocannon in this one, ${connections} connections, ${seconds} s after ${fmtNumber(warmupRequests(env))} warm-up requests; 127.0.0.1`;
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
