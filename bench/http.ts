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
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
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

export function params(env: Env): { connections: number; seconds: number } {
  return env.quick ? { connections: 10, seconds: 1 } : { connections: 50, seconds: 5 };
}

/** Requests sent before the measured run (JIT warm-up, connections opened); the quick run too, or its figures are of cold code. */
const WARMUP_REQUESTS = 5_000;

// ---------------------------------------------------------------------------
// Load and measure

const metrics: readonly Metric[] = [
  { key: "rps", label: "throughput", unit: "req/s", better: "higher" },
  { key: "p99", label: "latency p99", unit: "ms", better: "lower" },
  { key: "cpu", label: "server CPU", unit: "us/req", better: "lower" },
];

/** Whether autocannon itself (the client, in this process) has been warmed up yet. */
let clientWarm = false;

type ServerMode =
  | "node"
  | "node-same-headers"
  | "clockwork"
  | "node-json"
  | "clockwork-json"
  | "fastify-json"
  | "express-json"
  | "sirv"
  | "express-static"
  | "fastify-static"
  | "clockwork-static"
  | "clockwork-static-br";

/** How a table loads its servers beyond params(): connections, and headers sent to some. */
interface Load {
  connections?: number;
  headers?: Partial<Record<ServerMode, Record<string, string>>>;
  /** Run for each server once the rounds are over, while it still runs. */
  probe?: (mode: ServerMode, url: string) => Promise<void>;
  /**
   * Let the load generator drop the bodies it reads instead of keeping each
   * as a string: autocannon 8 decodes every chunk as UTF-8 to keep it, which
   * is fast for text and about ten times slower for binary data (compressed
   * answers), so that its own decoding, not the server, sets the pace.
   */
  dropBodies?: boolean;
}

/** autocannon's setupClient that drops the bodies it reads (see Load.dropBodies). */
function dropBodies(client: unknown): void {
  (client as { pipelinedRequests: { addBody(data: unknown): void } }).pipelinedRequests.addBody =
    () => {};
}

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
  // clockwork-static-br is the clockwork-static server, asked for brotli.
  const serverMode = mode === "clockwork-static-br" ? "clockwork-static" : mode;
  const child = fork(script, folder === undefined ? [serverMode] : [serverMode, folder], {
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
  load: Load = {},
): Promise<Map<ServerMode, Values>> {
  const servers: ServerProcess[] = [];
  try {
    for (const mode of modes) servers.push(await startServer(mode, path, folder));
    const { seconds } = params(env);
    const connections = load.connections ?? params(env).connections;
    const headersOf = (i: number) => load.headers?.[modes[i] as ServerMode] ?? {};
    const client = load.dropBodies === true ? { setupClient: dropBodies } : {};
    for (const [i, server] of servers.entries()) {
      const headers = headersOf(i);
      if (!clientWarm) {
        // The first server measured would otherwise also pay for compiling the client.
        clientWarm = true;
        await autocannon({
          url: server.url,
          connections,
          headers,
          duration: env.quick ? 0.5 : 3,
          ...client,
        });
      }
      await autocannon({
        url: server.url,
        connections,
        headers,
        amount: WARMUP_REQUESTS,
        ...client,
      });
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
        const result = await autocannon({
          url: server.url,
          connections,
          headers: headersOf(i),
          duration: seconds,
          ...client,
        });
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
    for (const [i, server] of servers.entries())
      await load.probe?.(modes[i] as ServerMode, server.url);
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
// Part 2: the JSON endpoint

const json = shared((env) =>
  measureInTurns(["node-json", "clockwork-json", "fastify-json", "express-json"], "/api/data", env),
);

const jsonCases: readonly Case[] = [
  {
    name: "node:http",
    kind: "baseline",
    how: "res.writeHead(200, json + content-length); res.end(JSON.stringify(value))",
    run: (env) => json("node-json", env),
  },
  {
    name: "fastify 5",
    kind: "peer",
    how: "app.get('/*', async () => value), logger off",
    run: (env) => json("fastify-json", env),
  },
  {
    name: "express 5",
    kind: "peer",
    how: "app.use((req, res) => res.json(value))",
    run: (env) => json("express-json", env),
  },
  {
    name: "clockwork res.json()",
    kind: "clockwork",
    how: "yield* serve({ port: 0 }, function* (req, res) { res.json(value) }), worker.run()",
    run: (_cw, env) => json("clockwork-json", env),
  },
];

function jsonVerdict(get: Lookup): Verdict {
  const node = get("node:http", "rps");
  const fastify = get("fastify 5", "rps");
  const clockwork = get("clockwork res.json()", "rps");
  if (node === undefined || fastify === undefined || clockwork === undefined) {
    return { status: "n/a", detail: "clockwork, node:http or fastify has no figure" };
  }
  const r = clockwork / node;
  return {
    status: r >= 0.9 && clockwork > fastify ? "met" : "not met",
    detail: `clockwork ${fmtNumber(clockwork)} req/s, ${fmtRatio(r)} node:http (goal >= 0.9x), ${fmtRatio(clockwork / fastify)} fastify (goal > 1x)${cpuNote(get, "clockwork res.json()", "node:http")}`,
  };
}

// ---------------------------------------------------------------------------
// Part 3: static files against sirv, express and fastify

/** The files served: a 437 B stylesheet, and the game's bundle (or JavaScript as large). */
const SMALL = "small.css";
const BUNDLE = "bundle.js";

/** The game's bundle if it was built (npm run build:kiwi), else generated JavaScript of 118 KB. */
function bundleBytes(): Buffer {
  const built = fileURLToPath(new URL("../examples/kiwi/dist/kiwi.js", import.meta.url));
  if (existsSync(built)) return readFileSync(built);
  let text = "";
  for (let i = 0; text.length < 118_723; i++) {
    text += `export function step${i}(task, value) { return task.resume(value + ${i}); }\n`;
  }
  return Buffer.from(text);
}

/** Writes the files to a temp folder of its own (the bundle with .br and .gz siblings, as the game's build writes), runs `body`, removes the folder. */
async function withFiles<T>(body: (folder: string) => Promise<T>): Promise<T> {
  const folder = mkdtempSync(join(tmpdir(), "clockwork-bench-http-"));
  try {
    writeFileSync(join(folder, SMALL), "/* a small stylesheet */\n".padEnd(437, "a"));
    const bundle = bundleBytes();
    writeFileSync(join(folder, BUNDLE), bundle);
    writeFileSync(join(folder, `${BUNDLE}.br`), bestBrotli(bundle));
    writeFileSync(join(folder, `${BUNDLE}.gz`), gzipSync(bundle, { level: 9 }));
    return await body(folder);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

function bestBrotli(bytes: Uint8Array): Buffer {
  return brotliCompressSync(bytes, {
    params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY },
  });
}

const FILE_SERVERS = ["sirv", "express-static", "fastify-static", "clockwork-static"] as const;

function fileCases(measure: (mode: ServerMode, env: Env) => Promise<Values>): readonly Case[] {
  return [
    {
      name: "sirv on node:http",
      kind: "baseline",
      how: "http.createServer(sirv(folder))",
      run: (env) => measure("sirv", env),
    },
    {
      name: "express 5 + serve-static",
      kind: "peer",
      how: "app.use(serveStatic(folder))",
      run: (env) => measure("express-static", env),
    },
    {
      name: "fastify 5 + @fastify/static",
      kind: "peer",
      how: "app.register(fastifyStatic, { root: folder })",
      run: (env) => measure("fastify-static", env),
    },
    {
      name: "clockwork serveStatic()",
      kind: "clockwork",
      how: "yield* serve({ port: 0 }, serveStatic(folder)), worker.run()",
      run: (_cw, env) => measure("clockwork-static", env),
    },
  ];
}

function fileVerdict(get: Lookup): Verdict {
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

const smallFile = shared((env) =>
  withFiles((folder) => measureInTurns(FILE_SERVERS, `/${SMALL}`, env, folder)),
);
const bundleFile = shared((env) =>
  withFiles((folder) => measureInTurns(FILE_SERVERS, `/${BUNDLE}`, env, folder)),
);
const manyConnections = (env: Env) => (env.quick ? 100 : 1000);
const smallFileCrowd = shared((env) =>
  withFiles((folder) =>
    measureInTurns(FILE_SERVERS, `/${SMALL}`, env, folder, {
      connections: manyConnections(env),
    }),
  ),
);

// ---------------------------------------------------------------------------
// Part 4: compression

/** The bytes of one answer's body as sent (node:http's client does not decode it). */
function bodyBytes(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on("end", () => resolve(bytes));
    });
    req.on("error", reject);
  });
}

const BR = { "accept-encoding": "br, gzip" };

/** Besides the load: the bytes on the wire of each, and of brotli's best, taken once. */
const compressed = shared((env) =>
  withFiles(async (folder) => {
    const values = await measureInTurns(
      ["clockwork-static", "clockwork-static-br"],
      `/${BUNDLE}`,
      env,
      folder,
      {
        headers: { "clockwork-static-br": BR },
        dropBodies: true, // the compressed answer is binary: see Load.dropBodies
        probe: async (mode, url) => {
          if (mode === "clockwork-static-br") wireBytes = await bodyBytes(url, BR);
        },
      },
    );
    const best = bestBrotli(readFileSync(join(folder, BUNDLE))).length;
    const identity = readFileSync(join(folder, BUNDLE)).length;
    const result = new Map<ServerMode, Values>();
    for (const [mode, v] of values) {
      result.set(mode, { ...v, bytes: mode === "clockwork-static-br" ? wireBytes : identity });
    }
    result.set("node", { bytes: best });
    return result;
  }),
);
/** The body bytes of the compressed answer, read by a check request while its server ran. */
let wireBytes = Number.NaN;

const compressionCases: readonly Case[] = [
  {
    name: "no Accept-Encoding",
    kind: "baseline",
    how: "GET /bundle.js: the file as it is",
    run: (env) => compressed("clockwork-static", env),
  },
  {
    name: "Accept-Encoding: br, gzip",
    kind: "clockwork",
    how: "GET /bundle.js with Accept-Encoding: br, gzip: bundle.js.br, the sibling the build wrote",
    run: (_cw, env) => compressed("clockwork-static-br", env),
  },
  {
    name: "brotli's best (quality 11)",
    kind: "peer",
    how: "zlib.brotliCompressSync(bundle, quality 11): the bytes only",
    run: (env) => compressed("node", env),
  },
];

function compressionVerdict(get: Lookup): Verdict {
  const plain = get("no Accept-Encoding", "rps");
  const br = get("Accept-Encoding: br, gzip", "rps");
  const bytes = get("Accept-Encoding: br, gzip", "bytes");
  const best = get("brotli's best (quality 11)", "bytes");
  if (plain === undefined || br === undefined || bytes === undefined || best === undefined) {
    return { status: "n/a", detail: "a figure is missing" };
  }
  const size = bytes / best;
  const speed = br / plain;
  return {
    status: size <= 1.05 && speed >= 1 ? "met" : "not met",
    detail: `${fmtNumber(bytes)} B on the wire, ${fmtRatio(size)} brotli's best (goal <= 1.05x); ${fmtNumber(br)} req/s, ${fmtRatio(speed)} the uncompressed answer (goal >= 1x)`,
  };
}

export const suite: Suite = {
  name: "http",
  description:
    "the HTTP adapter under load: hello world, JSON, static files against sirv, express and fastify, compression",
  tables(env) {
    const { connections, seconds } = params(env);
    const load = (n: number) =>
      `each server in its own process, all started at once and measured in turns: ${rounds(env)} round(s) of ${seconds} s each, the order reversed every other round, medians; autocannon in this process, ${n} connections, after ${fmtNumber(WARMUP_REQUESTS)} warm-up requests each; 127.0.0.1`;
    const files = fileCases;
    return [
      {
        title: "http: hello world",
        params: load(connections),
        goal: ">= 0.9x the req/s of plain node:http",
        baseline: "node:http",
        metrics,
        cases: helloCases,
        verdict: helloVerdict,
      },
      {
        title: "http: a JSON endpoint",
        params: `GET of a small object as JSON; ${load(connections)}`,
        goal: ">= 0.9x the req/s of plain node:http, and ahead of fastify",
        baseline: "node:http",
        metrics,
        cases: jsonCases,
        verdict: jsonVerdict,
      },
      {
        title: "http: a 437 B file",
        params: `GET /${SMALL}; ${load(connections)}`,
        goal: ">= 1x the req/s of sirv on node:http",
        baseline: "sirv on node:http",
        metrics,
        cases: files(smallFile),
        verdict: fileVerdict,
      },
      {
        title: "http: the game's bundle",
        params: `GET /${BUNDLE} (the kiwi bundle if built, else 118 KB of JavaScript), no Accept-Encoding; ${load(connections)}`,
        goal: ">= 1x the req/s of sirv on node:http",
        baseline: "sirv on node:http",
        metrics,
        cases: files(bundleFile),
        verdict: fileVerdict,
      },
      {
        title: "http: a 437 B file, many connections",
        params: `GET /${SMALL}; ${load(manyConnections(env))}`,
        goal: ">= 1x the req/s of sirv on node:http",
        baseline: "sirv on node:http",
        metrics,
        cases: files(smallFileCrowd),
        verdict: fileVerdict,
      },
      {
        title: "http: compression (clockwork serveStatic)",
        params: `GET /${BUNDLE} with and without Accept-Encoding, bundle.js.br and .gz beside it; the load generator drops the bodies it reads (both rows); ${load(connections)}`,
        goal: "bytes on the wire <= 1.05x brotli's best; req/s >= 1x the uncompressed answer",
        baseline: "no Accept-Encoding",
        metrics: [...metrics, { key: "bytes", label: "body", unit: "B", better: "lower" }],
        cases: compressionCases,
        verdict: compressionVerdict,
      },
    ];
  },
};
