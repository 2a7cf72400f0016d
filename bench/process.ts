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

/** The median time of rounds of `round` (each a slow case: a few rounds). */
async function timed(env: Env, round: () => Promise<void>): Promise<Values> {
  return {
    ms: await timeRun(
      async () => {
        await round();
        return undefined;
      },
      timing(env, true),
    ),
  };
}

/** The same for clockwork, with exec() from the build (or the reason it is not there). */
async function timedExec(
  env: Env,
  round: (exec: CwProcessApi["exec"]) => Promise<void>,
): Promise<Values> {
  const loaded = await loadProcess();
  if (!loaded.ok) return { ms: fail(loaded.reason) };
  return timed(env, () => round(loaded.api.exec));
}

const cases: readonly Case[] = [
  {
    name: "execFile + Promise.all",
    kind: "baseline",
    how: 'await Promise.all(N x promisified execFile("true"))',
    run: (env) =>
      timed(env, async () => {
        await Promise.all(Array.from({ length: params(env).commands }, execFileTrue));
      }),
  },
  {
    name: "execa + Promise.all",
    kind: "peer",
    how: 'await Promise.all(N x execa("true"))',
    run: async (env) => {
      const { execa } = await import("execa");
      return timed(env, async () => {
        const { commands } = params(env);
        await Promise.all(Array.from({ length: commands }, () => execa(argv[0] as string)));
      });
    },
  },
  {
    name: "clockwork exec()",
    kind: "clockwork",
    how: 'N tasks, each yield* exec(["true"]); await worker.run()',
    run: (cw: ClockworkApi, env) =>
      timedExec(env, async (exec) => {
        const { commands } = params(env);
        let exits = 0;
        const one = function* one(): CwRoutine<void> {
          const result = yield* exec(argv);
          if (result.exitCode === 0) exits++;
        };
        const worker = new cw.Worker();
        for (let i = 0; i < commands; i++) worker.assign(one());
        await worker.run();
        if (exits !== commands) throw new Error(`${exits} of ${commands} commands exited 0`);
      }),
  },
];

const bigCases: readonly Case[] = [
  {
    name: "execFile",
    kind: "baseline",
    how: "await promisified execFile(head -c N /dev/zero), maxBuffer 200 MB",
    run: (env) =>
      timed(env, async () => {
        const { bytes } = params(env);
        checkLength(await execFileText(bigArgv(bytes), BIG_BUFFER), bytes);
      }),
  },
  {
    name: "execa",
    kind: "peer",
    how: "await execa(head -c N /dev/zero), maxBuffer 200 MB",
    run: async (env) => {
      const { execa } = await import("execa");
      return timed(env, async () => {
        const { bytes } = params(env);
        const [program, ...args] = bigArgv(bytes) as [string, ...string[]];
        const options = { maxBuffer: BIG_BUFFER, stripFinalNewline: false };
        checkLength((await execa(program, args, options)).stdout, bytes);
      });
    },
  },
  {
    name: "clockwork exec()",
    kind: "clockwork",
    how: "yield* exec(head -c N /dev/zero), maxBuffer 200 MB; await worker.run()",
    run: (cw: ClockworkApi, env) =>
      timedExec(env, async (exec) => {
        const { bytes } = params(env);
        const worker = new cw.Worker();
        const task = worker.assign(exec(bigArgv(bytes), { maxBuffer: BIG_BUFFER }));
        await worker.run();
        checkLength(task.result.stdout, bytes);
      }),
  },
];

/** The verdict of a table whose rows are execFile (`base`), execa and clockwork. */
function against(base: string, execaRow: string) {
  return (get: Lookup): Verdict => {
    const baseline = get(base, "ms");
    const clockwork = get("clockwork exec()", "ms");
    const execa = get(execaRow, "ms");
    if (baseline === undefined || clockwork === undefined) {
      return { status: "n/a", detail: "clockwork or execFile has no figure" };
    }
    // Speed ratio: how fast clockwork is relative to execFile (higher is better).
    const speed = baseline / clockwork;
    const vsExeca = execa === undefined ? "" : `, ${fmtRatio(execa / clockwork)} execa's`;
    return {
      status: speed >= 0.9 ? "met" : "not met",
      detail: `clockwork ${fmtNumber(clockwork)} ms vs execFile ${fmtNumber(baseline)} ms: ${fmtRatio(speed)} its speed${vsExeca} (goal >= 0.9x execFile)`,
    };
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
        verdict: against("execFile + Promise.all", "execa + Promise.all"),
      },
      {
        title: "process: a large output",
        params: `one command writing ${fmtNumber(bytes / 1e6)} MB, kept as a string; median wall time`,
        goal: ">= 0.9x the speed of execFile",
        baseline: "execFile",
        metrics: [metric],
        cases: bigCases,
        verdict: against("execFile", "execa"),
      },
    ];
  },
};
