// cluster: the web server example (examples/webserver, what `npm start`
// runs) in one process and with `--cluster 2`, under the same autocannon
// load from this process. The server runs as a child process through tsx
// (so from src/, like `npm start`); its static files and /api/stats answer.
// The machine's cores are shared with the load generator, so the second
// process helps only as far as a core is free: the table says how far.

import { type ChildProcess, spawn } from "node:child_process";
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

const root = fileURLToPath(new URL("..", import.meta.url));

function params(env: Env): { connections: number; seconds: number } {
  return env.quick ? { connections: 10, seconds: 1 } : { connections: 50, seconds: 5 };
}

const metrics: readonly Metric[] = [
  { key: "rps", label: "throughput", unit: "req/s", better: "higher" },
  { key: "p99", label: "latency p99", unit: "ms", better: "lower" },
];

/** Starts the web server with `args` on a free port; gives its URL and a stop function. */
async function startServer(args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", "examples/webserver/main.ts", ...args],
    { cwd: root, env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk;
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL in 30 s: ${output}`)), 30_000);
    child.stdout?.on("data", () => {
      const match = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the server exited: ${output}`));
    });
  });
  return {
    url,
    async stop() {
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function measure(args: string[], env: Env): Promise<Values> {
  const server = await startServer(args);
  try {
    const { connections, seconds } = params(env);
    const url = `${server.url}/style.css`;
    await autocannon({ url, connections, amount: env.quick ? 500 : 5_000 });
    const result = await autocannon({ url, connections, duration: seconds });
    if (result.errors > 0 || result.non2xx > 0 || result.requests.total === 0) {
      throw new Error(
        `${result.requests.total} requests, ${result.errors} errors, ${result.non2xx} non-2xx`,
      );
    }
    return { rps: result.requests.average, p99: result.latency.p99 };
  } finally {
    await server.stop();
  }
}

const cases: readonly Case[] = [
  {
    name: "1 process",
    kind: "baseline",
    how: "PORT=0 tsx examples/webserver/main.ts",
    run: (env) => measure([], env),
  },
  {
    name: "--cluster 2",
    kind: "peer",
    how: "PORT=0 tsx examples/webserver/main.ts --cluster 2",
    run: (env) => measure(["--cluster", "2"], env),
  },
];

function verdict(get: Lookup): Verdict {
  const one = get("1 process", "rps");
  const two = get("--cluster 2", "rps");
  if (one === undefined || two === undefined)
    return { status: "n/a", detail: "a figure is missing" };
  return {
    status: "n/a",
    detail: `1 process ${fmtNumber(one)} req/s, 2 processes ${fmtNumber(two)} req/s (${fmtRatio(two / one)}); no goal, a measurement`,
  };
}

export const suite: Suite = {
  name: "cluster",
  description: "the web server example in 1 process and with --cluster 2",
  tables(env) {
    const { connections, seconds } = params(env);
    return [
      {
        title: "cluster: the web server example",
        params: `GET /style.css; autocannon in this process, ${connections} connections, ${seconds} s; 127.0.0.1`,
        goal: "none (issue 5 asks for both figures)",
        baseline: "1 process",
        metrics,
        cases,
        verdict,
      },
    ];
  },
};
