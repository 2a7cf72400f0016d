// process: two tables, each with Node's `child_process.execFile` (the baseline),
// execa and clockwork's exec() measured in the same run.
//
// - N concurrent `true` commands, start to the last exit: execFile and execa
//   under `Promise.all`; clockwork runs one task per command, each
//   `yield* exec(["true"])`, under `worker.run()`. All wait for every child to
//   exit and collect its (empty) output, so the figure is mostly the cost of
//   fork/exec and the event loop; what it shows is the overhead on top.
// - One command writing 100 MB (`head -c 100000000 /dev/zero`), kept whole as a
//   string: the cost of reading, counting and decoding a large output.

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

export function params(env: Env): { commands: number; bytes: number } {
  return env.quick ? { commands: 20, bytes: 10_000_000 } : { commands: 200, bytes: 100_000_000 };
}

const argv = ["true"];

/** The command of the large-output table: `bytes` NUL bytes on stdout. */
const bigArgv = (bytes: number): string[] => ["head", "-c", String(bytes), "/dev/zero"];

/** Room for the large output in every library (execFile keeps 1 MiB unless told). */
const BIG_BUFFER = 200_000_000;

interface CwProcessApi {
  exec(
    argv: string[],
    options?: { check?: boolean; maxBuffer?: number },
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

/** execFile as a promise of its stdout. */
function execFileText(command: string[], maxBuffer?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command[0] as string,
      command.slice(1),
      maxBuffer === undefined ? {} : { maxBuffer },
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    );
  });
}

const execFileTrue = (): Promise<string> => execFileText(argv);

/** A stdout of the expected length, or an error saying what came. */
function checkLength(stdout: string, bytes: number): void {
  if (stdout.length !== bytes) throw new Error(`got ${stdout.length} of ${bytes} bytes`);
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
    name: "execa + Promise.all",
    kind: "peer",
    how: 'await Promise.all(N x execa("true"))',
    run: async (env): Promise<Values> => {
      const { execa } = await import("execa");
      const { commands } = params(env);
      const ms = await timeRun(
        async () => {
          await Promise.all(Array.from({ length: commands }, () => execa(argv[0] as string)));
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

const bigCases: readonly Case[] = [
  {
    name: "execFile",
    kind: "baseline",
    how: "await promisified execFile(head -c N /dev/zero), maxBuffer 200 MB",
    run: async (env): Promise<Values> => {
      const { bytes } = params(env);
      const ms = await timeRun(
        async () => {
          checkLength(await execFileText(bigArgv(bytes), BIG_BUFFER), bytes);
        },
        timing(env, true),
      );
      return { ms };
    },
  },
  {
    name: "execa",
    kind: "peer",
    how: "await execa(head -c N /dev/zero), maxBuffer 200 MB",
    run: async (env): Promise<Values> => {
      const { execa } = await import("execa");
      const { bytes } = params(env);
      const [program, ...args] = bigArgv(bytes) as [string, ...string[]];
      const ms = await timeRun(
        async () => {
          const { stdout } = await execa(program, args, {
            maxBuffer: BIG_BUFFER,
            stripFinalNewline: false,
          });
          checkLength(stdout, bytes);
        },
        timing(env, true),
      );
      return { ms };
    },
  },
  {
    name: "clockwork exec()",
    kind: "clockwork",
    how: "yield* exec(head -c N /dev/zero), maxBuffer 200 MB; await worker.run()",
    run: async (cw: ClockworkApi, env): Promise<Values> => {
      const loaded = await loadProcess();
      if (!loaded.ok) return { ms: fail(loaded.reason) };
      const { exec } = loaded.api;
      const { bytes } = params(env);
      const ms = await timeRun(
        async () => {
          const worker = new cw.Worker();
          const task = worker.assign(exec(bigArgv(bytes), { maxBuffer: BIG_BUFFER }));
          await worker.run();
          checkLength(task.result.stdout, bytes);
        },
        timing(env, true),
      );
      return { ms };
    },
  },
];

function bigVerdict(get: Lookup): Verdict {
  const base = get("execFile", "ms");
  const clockwork = get("clockwork exec()", "ms");
  const execa = get("execa", "ms");
  if (base === undefined || clockwork === undefined) {
    return { status: "n/a", detail: "clockwork or execFile has no figure" };
  }
  const speed = base / clockwork;
  const vsExeca = execa === undefined ? "" : `, ${fmtRatio(execa / clockwork)} execa's`;
  return {
    status: speed >= 0.9 ? "met" : "not met",
    detail: `clockwork ${fmtNumber(clockwork)} ms vs execFile ${fmtNumber(base)} ms: ${fmtRatio(speed)} its speed${vsExeca} (goal >= 0.9x execFile)`,
  };
}

function verdict(get: Lookup): Verdict {
  const base = get("execFile + Promise.all", "ms");
  const clockwork = get("clockwork exec()", "ms");
  const execa = get("execa + Promise.all", "ms");
  if (base === undefined || clockwork === undefined) {
    return { status: "n/a", detail: "clockwork or execFile has no figure" };
  }
  // Speed ratio: how fast clockwork is relative to execFile (higher is better).
  const speed = base / clockwork;
  const vsExeca = execa === undefined ? "" : `, ${fmtRatio(execa / clockwork)} execa's`;
  return {
    status: speed >= 0.9 ? "met" : "not met",
    detail: `clockwork ${fmtNumber(clockwork)} ms vs execFile ${fmtNumber(base)} ms: ${fmtRatio(speed)} its speed${vsExeca} (goal >= 0.9x execFile)`,
  };
}

export const suite: Suite = {
  name: "process",
  description:
    "child processes: N concurrent `true` commands; one 100 MB output (execFile, execa, clockwork)",
  tables(env) {
    const { commands, bytes } = params(env);
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
      {
        title: "process: a large output",
        params: `one command writing ${fmtNumber(bytes / 1e6)} MB, kept as a string; median wall time`,
        goal: ">= 0.9x the speed of execFile",
        baseline: "execFile",
        metrics: [metric],
        cases: bigCases,
        verdict: bigVerdict,
      },
    ];
  },
};
