// frames: a game's frame loop. N actors each take one step a frame (they
// move a little) for F frames, the way a game drives its coroutines. The
// game-side peer is Motion Canvas: its `threads()` runner, which a scene
// advances with one next() a frame, each thread's plain `yield` waiting for
// the next frame. Clockwork runs the same actors two ways: stepped once
// each a frame with tick(), and the way the kiwi game does it, each actor
// parked at a frame gate (a Wait) that the frame opens before tickFor().
// Unity's coroutines (C#) cannot run here; the limit is bare generators.
//
// Motion Canvas publishes its modules with extensionless imports that
// Node's ESM loader does not resolve, so the part used here is bundled once
// by esbuild (a dev dependency already) into a temporary file.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CwRoutine, CwTask } from "./clockwork.ts";
import {
  type Case,
  type Env,
  fmtCount,
  fmtRatio,
  type Metric,
  type Suite,
  timeRun,
  timing,
} from "./harness.ts";

export function params(env: Env): { actors: number; frames: number } {
  return env.quick ? { actors: 200, frames: 50 } : { actors: 2000, frames: 500 };
}

const metric: Metric = {
  key: "step",
  label: "per actor per frame",
  unit: "ns/step",
  better: "lower",
};

function perStep(ms: number, env: Env): { step: number } {
  const { actors, frames } = params(env);
  return { step: (ms * 1e6) / (actors * frames) };
}

/** Where the actors move; summed at the end so that no engine can skip the work. */
interface Board {
  x: Float64Array;
}

const board = (actors: number): Board => ({ x: new Float64Array(actors) });

function checkBoard(b: Board, frames: number): void {
  for (const x of b.x) {
    if (x !== frames) throw new Error(`an actor moved ${x} times in ${frames} frames`);
  }
}

/** An actor: one move a frame, forever (the frame loop decides how many frames there are). */
function* bareActor(b: Board, i: number): Generator<undefined, never, unknown> {
  for (;;) {
    b.x[i] = (b.x[i] as number) + 1;
    yield;
  }
}

interface MotionCanvas {
  threads(factory: () => Generator<unknown, void, unknown>): Generator<unknown, void, unknown>;
  startPlayback(playback: object): void;
  endPlayback(playback: object): void;
}

let motionCanvas: Promise<MotionCanvas> | undefined;

/** Motion Canvas's threads() and its playback context, bundled by esbuild on first use. */
function loadMotionCanvas(): Promise<MotionCanvas> {
  motionCanvas ??= (async () => {
    const { build } = await import("esbuild");
    const root = fileURLToPath(new URL("..", import.meta.url));
    const out = await build({
      stdin: {
        contents: [
          'export { threads } from "@motion-canvas/core/lib/threading/threads.js";',
          'export { startPlayback, endPlayback } from "@motion-canvas/core/lib/utils/usePlayback.js";',
        ].join("\n"),
        resolveDir: root,
        loader: "js",
      },
      bundle: true,
      format: "esm",
      platform: "node",
      write: false,
      logLevel: "silent",
    });
    const dir = mkdtempSync(join(tmpdir(), "clockwork-motion-canvas-"));
    try {
      const file = join(dir, "threads.mjs");
      writeFileSync(file, out.outputFiles[0]?.text ?? "");
      return (await import(file)) as MotionCanvas;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return motionCanvas;
}

export const cases: Case[] = [
  {
    name: "limit (bare generators)",
    kind: "limit",
    how: "an array of actor generators; each frame, next() on each",
    async run(env) {
      const { actors, frames } = params(env);
      const ms = await timeRun(() => {
        const b = board(actors);
        const all = Array.from({ length: actors }, (_, i) => bareActor(b, i));
        for (let f = 0; f < frames; f++) for (const g of all) g.next();
        checkBoard(b, frames);
        return undefined;
      }, timing(env));
      return perStep(ms, env);
    },
  },
  {
    name: "Motion Canvas threads",
    kind: "peer",
    how: "@motion-canvas/core 3.17: threads(root), root yields each actor (a thread) then waits; one next() of threads() a frame, as a scene does",
    async run(env) {
      const { actors, frames } = params(env);
      const mc = await loadMotionCanvas();
      const playback = { deltaTime: 1 / 60, frame: 0, fps: 60, speed: 1 };
      const ms = await timeRun(() => {
        const b = board(actors);
        mc.startPlayback(playback);
        try {
          const scene = mc.threads(function* root() {
            for (let i = 0; i < actors; i++) yield bareActor(b, i);
            for (;;) yield;
          });
          // The first frame starts the root, which starts the actors, which take their first step.
          for (let f = 0; f < frames; f++) scene.next();
        } finally {
          mc.endPlayback(playback);
        }
        checkBoard(b, frames);
        return undefined;
      }, timing(env));
      return perStep(ms, env);
    },
  },
  {
    name: "clockwork tick()",
    kind: "clockwork",
    how: "assign() each actor (plain `yield`); each frame, tick() once per actor (round-robin: one step each)",
    async run(cw, env) {
      const { actors, frames } = params(env);
      const ms = await timeRun(() => {
        const b = board(actors);
        const w = new cw.Worker();
        for (let i = 0; i < actors; i++) w.assign(bareActor(b, i));
        for (let f = 0; f < frames; f++) for (let i = 0; i < actors; i++) w.tick();
        w.cancelAll();
        w.work();
        checkBoard(b, frames);
        return undefined;
      }, timing(env));
      return perStep(ms, env);
    },
  },
  {
    name: "clockwork frame gate + tickFor()",
    kind: "clockwork",
    how: "the kiwi game's way: each actor parks at a frame gate (a Wait subclass) after its move; each frame opens the gate and calls tickFor(0.008)",
    async run(cw, env) {
      const { actors, frames } = params(env);
      class FrameGate extends cw.Wait {
        waiting: CwTask<unknown>[] = [];
        override park(task: CwTask<unknown>): void {
          this.waiting.push(task);
        }
        override release(task: CwTask<unknown>): void {
          const at = this.waiting.indexOf(task);
          if (at >= 0) this.waiting.splice(at, 1);
        }
        override describe(): string {
          return "the next frame";
        }
        open(): void {
          const woken = this.waiting;
          this.waiting = [];
          for (const task of woken) this.wake(task, undefined);
        }
      }
      function* gatedActor(b: Board, i: number, gate: FrameGate): CwRoutine<never> {
        for (;;) {
          b.x[i] = (b.x[i] as number) + 1;
          yield gate;
        }
      }
      const ms = await timeRun(() => {
        const b = board(actors);
        const gate = new FrameGate();
        const w = new cw.Worker();
        for (let i = 0; i < actors; i++) w.assign(gatedActor(b, i, gate));
        for (let f = 0; f < frames; f++) {
          gate.open();
          w.tickFor(0.008);
        }
        w.cancelAll();
        w.work();
        checkBoard(b, frames);
        return undefined;
      }, timing(env));
      return perStep(ms, env);
    },
  },
];

export const suite: Suite = {
  name: "frames",
  description: "a game's frame loop: actors stepped once a frame (Motion Canvas threads)",
  tables(env) {
    const { actors, frames } = params(env);
    return [
      {
        title: "frames: actors stepped once a frame",
        params: `${fmtCount(actors)} actors x ${fmtCount(frames)} frames = ${fmtCount(actors * frames)} steps, each a move`,
        goal: "faster than Motion Canvas threads (ns per actor per frame)",
        baseline: "limit (bare generators)",
        metrics: [metric],
        cases,
        verdict(get) {
          const mc = get("Motion Canvas threads", "step");
          const tick = get("clockwork tick()", "step");
          const gate = get("clockwork frame gate + tickFor()", "step");
          if (mc === undefined || tick === undefined || gate === undefined) {
            return { status: "n/a", detail: "Motion Canvas or clockwork has no figure" };
          }
          const worst = Math.max(tick, gate);
          return {
            status: worst < mc ? "met" : "not met",
            detail: `clockwork tick() is ${fmtRatio(tick / mc)} and the frame gate ${fmtRatio(gate / mc)} Motion Canvas threads' time per actor per frame (goal < 1x)`,
          };
        },
      },
    ];
  },
};
