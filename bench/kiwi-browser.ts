/**
 * The kiwi game with a crowd, in headless Chromium: how long the scheduler
 * takes per frame with 2,000 live enemy actors.
 *
 *   node --import tsx bench/kiwi-browser.ts [--frames N] [--actors N]
 *
 * It builds the page, serves it with clockwork's own static file server,
 * opens it in Debian's Chromium (/usr/bin/chromium; nothing is downloaded),
 * skips the cut-scene, turns on god mode (so the ship survives the crowd)
 * and stops the wave spawner (so the crowd is exactly what is ordered),
 * orders the drones in through the console's `spawn`, lets them reach their
 * posts, and reads the statistics the page keeps for every frame: the time
 * spent inside `worker.tickFor()` (the scheduler and the actors' own code),
 * and the steps it took.
 *
 * The page is served cross-origin isolated (COOP and COEP headers), which
 * gives `performance.now()` a resolution of 5 us instead of 100 us. A frame
 * whose `tickFor` ran past its budget is almost always one in which V8
 * collected garbage: `KIWI_TRACE_GC=1 DEBUG=pw:browser` prints the pauses.
 *
 * Each drone is an `enemy` task racing two child tasks (its behaviour and
 * its wounds), so 2,000 drones are 6,000 tasks, of which 2,000 step each
 * frame; the bombs they drop are actors too (one task each).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildKiwi } from "../examples/kiwi/build.ts";
import { launchChromium } from "../examples/kiwi/chromium.ts";
import {
  BUDGET,
  type FrameStats,
  type KiwiHook,
  type KiwiState,
} from "../examples/kiwi/src/session.ts";
import { call, Worker } from "../src/index.ts";
import { type HttpServer, serve, serveStatic } from "../src/node/http.ts";

const { values } = parseArgs({
  options: {
    frames: { type: "string", default: "600" },
    actors: { type: "string", default: "2000" },
  },
});
const FRAMES = Number(values.frames);
const ACTORS = Number(values.actors);
if (!(FRAMES >= 10 && FRAMES <= 1200) || !(ACTORS >= 1 && ACTORS <= 5000)) {
  console.error(
    "usage: node --import tsx bench/kiwi-browser.ts [--frames 10..1200] [--actors 1..5000]",
  );
  process.exit(2);
}
/** With KIWI_TRACE_GC=1 (and DEBUG=pw:browser to see it), V8 prints each GC pause of the page. */
const { KIWI_TRACE_GC } = process.env;
/** The longest any wait may take, in milliseconds. */
const WAIT = 60_000;

declare const kiwi: KiwiHook;

/** Median, 99th percentile, mean of a list of numbers. */
function summary(xs: number[]) {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return {
    median: at(0.5),
    p99: at(0.99),
    max: at(1),
    mean: xs.reduce((a, b) => a + b, 0) / xs.length,
  };
}

function report(label: string, frames: FrameStats[], state: KiwiState): void {
  const tick = summary(frames.map((f) => f.tickMs));
  const steps = summary(frames.map((f) => f.steps));
  const frame = summary(frames.map((f) => f.frameMs));
  const perStep = summary(frames.map((f) => (f.steps === 0 ? 0 : (f.tickMs * 1000) / f.steps)));
  console.log(
    `${label}: ${frames.length} frames, ${state.enemies} enemies, ${state.bullets} bullets, ${state.tasks} live tasks`,
  );
  console.log(
    `  scheduler per frame (tickFor): median ${tick.median.toFixed(3)} ms, p99 ${tick.p99.toFixed(3)} ms, max ${tick.max.toFixed(3)} ms`,
  );
  const each = steps.median >= 100 ? `; per step: median ${perStep.median.toFixed(2)} us` : "";
  console.log(`  steps per frame: median ${steps.median}, p99 ${steps.p99}${each}`);
  const over = frames.filter((f) => f.tickMs > BUDGET * 1000).length;
  console.log(
    `  frames whose tickFor ran past its ${BUDGET * 1000} ms budget: ${over} of ${frames.length}`,
  );
  console.log(`  frame time: median ${frame.median.toFixed(1)} ms, p99 ${frame.p99.toFixed(1)} ms`);
}

const dist = await buildKiwi(mkdtempSync(join(tmpdir(), "kiwi-bench-")));
const files = serveStatic(dist);
const worker = new Worker();
let server: HttpServer | undefined;
let stop: () => void = () => {};
const ready = new Promise<void>((resolve, reject) => {
  worker.assign(
    (function* main() {
      try {
        server = yield* serve({ port: 0 }, function* isolated(request, response) {
          response.raw.setHeader("Cross-Origin-Opener-Policy", "same-origin");
          response.raw.setHeader("Cross-Origin-Embedder-Policy", "require-corp");
          yield* files(request, response);
        });
      } catch (error) {
        reject(error);
        return;
      }
      resolve();
      yield* call(new Promise<void>((done) => (stop = done)));
      yield* server.close();
    })(),
  );
});
const serving = worker.run();
await ready;

const browser = await launchChromium(WAIT, KIWI_TRACE_GC ? ["--js-flags=--trace-gc"] : []);
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  page.setDefaultTimeout(WAIT);
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
  await page.goto(`${server?.url}/`);
  await page.waitForFunction("typeof window.kiwi === 'object'");
  const isolated = await page.evaluate(() => globalThis.crossOriginIsolated);
  const waitFrames = async (n: number) => {
    const from = await page.evaluate(() => kiwi.state().frame);
    await page.waitForFunction((f) => kiwi.state().frame >= f, from + n, { polling: 100 });
  };
  const measure = async (label: string) => {
    await waitFrames(FRAMES);
    const [frames, state] = await page.evaluate(
      (n) => [kiwi.history(n), kiwi.state()] as const,
      FRAMES,
    );
    report(label, frames, state);
  };

  console.log(
    `kiwi in headless Chromium ${browser.version()}, Node ${process.version}, ${process.platform}/${process.arch}; ` +
      `performance.now() ${isolated ? "cross-origin isolated (5 us)" : "not isolated (100 us)"}`,
  );
  await page.keyboard.press("Enter"); // skip the cut-scene
  await page.waitForFunction(() => kiwi.state().phase === "play");
  await page.evaluate(() => [kiwi.command("god"), kiwi.command("kill waves")]);
  await waitFrames(60);
  await measure("the ship alone");

  console.log(await page.evaluate((n) => kiwi.command(`spawn drone ${n}`), ACTORS));
  await page.waitForFunction((n) => kiwi.state().enemies >= n, ACTORS);
  await waitFrames(180); // they fly down to their posts
  await measure(`${ACTORS} drones`);
  const { errors } = await page.evaluate(() => kiwi.state());
  if (errors > 0) throw new Error(`the page reported ${errors} task errors`);
} finally {
  await browser.close();
  stop();
  await serving;
  rmSync(dist, { recursive: true, force: true });
}
