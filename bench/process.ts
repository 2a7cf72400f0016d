// process: N concurrent `true` commands, start to the last exit. The
// baseline is `child_process.execFile` under `Promise.all`; clockwork runs one
// task per command, each `yield* exec(["true"])`, under `worker.run()`. Both
// wait for every child to exit and collect its (empty) output, so the figure
// is mostly the cost of fork/exec and the event loop; what it shows is the
// overhead the tasks add on top.

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
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
  timeRun,
  timing,
  type Values,
  type Verdict,
} from "./harness.ts";

export function params(env: Env): { commands: number } {
  return env.quick ? { commands: 20 } : { commands: 200 };
}

const argv = ["true"];

interface CwProcessApi {
  exec(
    argv: string[],
    options?: { check?: boolean },
  ): CwRoutine<{ exitCode: number | null; stdout: string }>;
}

type ProcessLoad = { ok: true; api: CwProcessApi } | { ok: false; reason: string };

let processLoad: Promise<ProcessLoad> | undefined;

/** Imports ../dist/node/process.js (the build); a failure comes back as a reason. */
function loadProcess(): Promise<ProcessLoad> {
  processLoad ??= (async (): Promise<ProcessLoad> => {
    const url = new URL("../dist/node/process.js", import.meta.url);
    if (!existsSync(fileURLToPath(url))) {
      return { ok: false, reason: "dist/node/process.js does not exist (run npm run build)" };
    }
    try {
      const mod = (await import(url.href)) as Record<string, unknown>;
      if (typeof (mod as { exec?: unknown }).exec !== "function") {
        return { ok: false, reason: "dist/node/process.js does not export exec" };
      }
      return { ok: true, api: mod as unknown as CwProcessApi };
    } catch (e) {
      return { ok: false, reason: `importing dist/node/process.js failed (${String(e)})` };
    }
  })();
  return processLoad;
}

const metric: Metric = { key: "ms", label: "wall time", unit: "ms", better: "lower" };

function execFileTrue(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(argv[0] as string, argv.slice(1), (error) => (error ? reject(error) : resolve()));
  });
}

const cases: readonly Case[] = [
  {
    name: "execFile + Promise.all",
    kind: "baseline",
    how: 'await Promise.all(N x promisified execFile("true"))',
    run: async (env): Promise<Values> => {
      const { commands } = params(env);
      const ms = await timeRun(
        async () => {
          await Promise.all(Array.from({ length: commands }, execFileTrue));
        },
        timing(env, true),
      );
      return { ms };
    },
  },
  {
    name: "clockwork exec()",
    kind: "clockwork",
    how: 'N tasks, each yield* exec(["true"]); await worker.run()',
    run: async (cw: ClockworkApi, env): Promise<Values> => {
      const loaded = await loadProcess();
      if (!loaded.ok) return { ms: fail(loaded.reason) };
      const { exec } = loaded.api;
      const { commands } = params(env);
      let exits = 0;
      const one = function* one(): CwRoutine<void> {
        const result = yield* exec(argv);
        if (result.exitCode === 0) exits++;
      };
      const ms = await timeRun(
        async () => {
          exits = 0;
          const worker = new cw.Worker();
          for (let i = 0; i < commands; i++) worker.assign(one());
          await worker.run();
          if (exits !== commands) throw new Error(`${exits} of ${commands} commands exited 0`);
        },
        timing(env, true),
      );
      return { ms };
    },
  },
];

function verdict(get: Lookup): Verdict {
  const base = get("execFile + Promise.all", "ms");
  const clockwork = get("clockwork exec()", "ms");
  if (base === undefined || clockwork === undefined) {
    return { status: "n/a", detail: "clockwork or execFile has no figure" };
  }
  // Speed ratio: how fast clockwork is relative to execFile (higher is better).
  const speed = base / clockwork;
  return {
    status: speed >= 0.9 ? "met" : "not met",
    detail: `clockwork ${fmtNumber(clockwork)} ms vs execFile ${fmtNumber(base)} ms: ${fmtRatio(speed)} its speed (goal >= 0.9x)`,
  };
}

export const suite: Suite = {
  name: "process",
  description: "child processes: N concurrent `true` commands, start to last exit",
  tables(env) {
    const { commands } = params(env);
    return [
      {
        title: "process: concurrent commands",
        params: `${commands} concurrent \`true\` commands; median wall time of several rounds`,
        goal: ">= 0.9x the speed of execFile + Promise.all",
        baseline: "execFile + Promise.all",
        metrics: [metric],
        cases,
        verdict,
      },
    ];
  },
};
