// http: the HTTP adapter (clockwork-microthreads/http, dist/node/http.js)
// under load. Part 1: "hello world" from serve() against a plain node:http
// server with the same handler. Part 2: a 64 KiB file from serveStatic()
// against sirv on a plain node:http server. Every server listens on
// 127.0.0.1, port 0, in this process; autocannon (run programmatically, in
// this process too) is the client, so client and server share one thread.

import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import sirv from "sirv";
import type { ClockworkApi, CwRoutine } from "./clockwork.ts";
import {
  type Case,
  type Env,
  fail,
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

const helloBody = "hello world\n";
const fileName = "file.bin";

// ---------------------------------------------------------------------------
// The part of clockwork-microthreads/http the benchmark uses, and its loader

interface CwRequest {
  readonly path: string;
}

interface CwResponse {
  text(body: string, status?: number): void;
}

type CwHandler = (req: CwRequest, res: CwResponse) => CwRoutine<unknown>;

interface CwHttpServer {
  readonly port: number;
  readonly url: string;
  close(): CwRoutine<void>;
}

interface CwHttpApi {
  serve(
    options: { host?: string; port?: number; onError?: (error: unknown) => void },
    handler: CwHandler,
  ): CwRoutine<CwHttpServer>;
  serveStatic(root: string): CwHandler;
}

type HttpLoad = { ok: true; api: CwHttpApi } | { ok: false; reason: string };

let httpLoad: Promise<HttpLoad> | undefined;

/**
 * Imports ../dist/node/http.js (the build, like the core in clockwork.ts);
 * never throws, a failure comes back as a reason. It imports ../index.js, the
 * same module instance as the core the case gets.
 */
function loadHttp(): Promise<HttpLoad> {
  httpLoad ??= (async (): Promise<HttpLoad> => {
    const url = new URL("../dist/node/http.js", import.meta.url);
    if (!existsSync(fileURLToPath(url))) {
      return { ok: false, reason: "dist/node/http.js does not exist (run npm run build)" };
    }
    let mod: Record<string, unknown>;
    try {
      mod = (await import(url.href)) as Record<string, unknown>;
    } catch (e) {
      const why = e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e);
      return { ok: false, reason: `importing dist/node/http.js failed (${why})` };
    }
    const missing = ["serve", "serveStatic"].filter((name) => typeof mod[name] !== "function");
    if (missing.length > 0) {
      return { ok: false, reason: `dist/node/http.js does not export ${missing.join(", ")}` };
    }
    return { ok: true, api: mod as unknown as CwHttpApi };
  })();
  return httpLoad;
}

// ---------------------------------------------------------------------------
// Load and measure

const metrics: readonly Metric[] = [
  { key: "rps", label: "throughput", unit: "req/s", better: "higher" },
  { key: "p99", label: "latency p99", unit: "ms", better: "lower" },
];

/** Warms up, then runs autocannon against `url` for the mode's duration. */
async function load(url: string, env: Env): Promise<Values> {
  const { connections, seconds } = params(env);
  await autocannon({ url, connections, amount: warmupRequests(env) });
  const result = await autocannon({ url, connections, duration: seconds });
  if (result.errors > 0 || result.non2xx > 0 || result.requests.total === 0) {
    throw new Error(
      `${result.requests.total} requests, ${result.errors} errors, ${result.non2xx} non-2xx`,
    );
  }
  return { rps: result.requests.average, p99: result.latency.p99 };
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

async function withNodeServer(
  handler: http.RequestListener,
  measure: (url: string) => Promise<Values>,
): Promise<Values> {
  const server = http.createServer(handler);
  const url = await listen(server);
  try {
    return await measure(url);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * Starts a clockwork server on a Worker driven by run() (not awaited until the
 * end), measures, then closes it with a routine and waits for run() to end.
 */
async function withClockworkServer(
  cw: ClockworkApi,
  handler: (api: CwHttpApi) => CwHandler,
  measure: (url: string) => Promise<Values>,
): Promise<Values> {
  const loaded = await loadHttp();
  if (!loaded.ok) {
    console.log(`skipped, ${loaded.reason}`);
    return { rps: fail("not loaded"), p99: fail("not loaded") };
  }
  const { serve } = loaded.api;
  const errors: unknown[] = [];
  // autocannon hangs up with responses in flight when a run ends: a file
  // stream then ends early. That is the client's doing; anything else fails the case.
  const onError = (e: unknown) => {
    if ((e as { code?: unknown } | null)?.code !== "ERR_STREAM_PREMATURE_CLOSE") errors.push(e);
  };
  const worker = new cw.Worker({ onError: (e) => errors.push(e) });
  let started: (server: CwHttpServer) => void = () => {};
  const listening = new Promise<CwHttpServer>((resolve) => {
    started = resolve;
  });
  worker.assign(
    (function* main() {
      started(yield* serve({ host: "127.0.0.1", port: 0, onError }, handler(loaded.api)));
    })(),
    { name: "bench http server" },
  );
  const running = worker.run();
  const server = await Promise.race([listening, running.then(() => null)]);
  if (server === null) throw new Error(`the server did not start: ${String(errors[0])}`);
  let values: Values;
  try {
    values = await measure(server.url);
  } finally {
    worker.assign(
      (function* close() {
        yield* server.close();
      })(),
      { name: "bench http close" },
    );
    await running;
  }
  if (errors.length > 0) throw errors[0];
  return values;
}

// ---------------------------------------------------------------------------
// Part 1: hello world

const helloCases: readonly Case[] = [
  {
    name: "node:http",
    kind: "baseline",
    how: 'http.createServer((req, res) => { res.writeHead(200, text/plain); res.end("hello world\\n") })',
    run: (env) =>
      withNodeServer(
        (_req, res) => {
          res.writeHead(200, { "content-type": "text/plain" });
          res.end(helloBody);
        },
        (url) => load(url, env),
      ),
  },
  {
    name: "clockwork serve()",
    kind: "clockwork",
    how: 'yield* serve({ port: 0 }, function* (req, res) { res.text("hello world\\n") }), worker.run()',
    run: (cw, env) =>
      withClockworkServer(
        cw,
        () =>
          function* hello(_req, res) {
            res.text(helloBody);
          },
        (url) => load(url, env),
      ),
  },
];

function helloVerdict(get: Lookup): Verdict {
  const node = get("node:http", "rps");
  const clockwork = get("clockwork serve()", "rps");
  if (node === undefined || clockwork === undefined) {
    return { status: "n/a", detail: "clockwork or node:http has no figure" };
  }
  const r = clockwork / node;
  return {
    status: r >= 0.9 ? "met" : "not met",
    detail: `clockwork serves ${fmtNumber(clockwork)} req/s, ${fmtRatio(r)} node:http (goal >= 0.9x)`,
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
    run: (env) =>
      withFile(env, (folder) => {
        const serveFiles = sirv(folder);
        return withNodeServer(
          (req, res) => serveFiles(req, res),
          (url) => load(`${url}/${fileName}`, env),
        );
      }),
  },
  {
    name: "clockwork serveStatic()",
    kind: "clockwork",
    how: "yield* serve({ port: 0 }, serveStatic(folder)), worker.run()",
    run: (cw, env) =>
      withFile(env, (folder) =>
        withClockworkServer(
          cw,
          (api) => api.serveStatic(folder),
          (url) => load(`${url}/${fileName}`, env),
        ),
      ),
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
    detail: `clockwork serves ${fmtNumber(clockwork)} req/s, ${fmtRatio(r)} sirv (goal >= 1x)`,
  };
}

export const suite: Suite = {
  name: "http",
  description: "the HTTP adapter under load: hello world and a static file",
  tables(env) {
    const { connections, seconds, fileBytes } = params(env);
    const load = `autocannon in this process, ${connections} connections, ${seconds} s after ${fmtNumber(warmupRequests(env))} warm-up requests; 127.0.0.1`;
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
