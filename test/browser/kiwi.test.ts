/**
 * The kiwi game console, end to end in headless Chromium.
 *
 * The page is built from the sources (esbuild, into examples/kiwi/dist),
 * served by clockwork's own `serve` and `serveStatic` on a free port, and
 * played through the keyboard as a person would. What the game is doing
 * is read through the page's test hook, `window.kiwi.state()`, and the
 * console's own text, never by reaching into the game's internals.
 *
 * Chromium is Debian's (/usr/bin/chromium, driven by playwright-core);
 * nothing is downloaded. Every wait has a time limit, and the browser and
 * the server are closed whatever happens. The last screenshot is saved as
 * test-results/kiwi.png.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { buildKiwi } from "../../examples/kiwi/build.ts";
import { launchChromium } from "../../examples/kiwi/chromium.ts";
import type { KiwiHook, KiwiState } from "../../examples/kiwi/src/session.ts";
import { call, Worker } from "../../src/index.ts";
import { type HttpServer, serve, serveStatic } from "../../src/node/http.ts";
import { openPage } from "./page.ts";

/** The longest any one wait may take, in milliseconds. */
const WAIT = 10_000;

/** The page's hook, as the page's own code sees it. */
declare const kiwi: KiwiHook;

describe("the kiwi game console in Chromium", { timeout: 120_000 }, () => {
  const worker = new Worker();
  let server: HttpServer;
  let stopServer: () => void = () => {};
  let serving: Promise<void> = Promise.resolve();
  let browser: Browser | undefined;
  let page: Page;
  /** Console errors and uncaught exceptions of the page. */
  const problems: string[] = [];

  const state = (): Promise<KiwiState> => page.evaluate(() => kiwi.state());
  const command = (line: string): Promise<string> =>
    page.evaluate((text) => kiwi.command(text), line);
  /** Waits until the game's state passes `test` (which runs in the page). */
  const until = async (test: string | ((arg: any) => unknown), arg?: unknown) => {
    await page.waitForFunction(test, arg, { timeout: WAIT, polling: 20 });
  };
  /** Types a line into the console's input and presses Enter; gives the console's text after it. */
  const type = async (line: string): Promise<string> => {
    await page.locator("#console-input").fill(line);
    await page.locator("#console-input").press("Enter");
    return (await page.locator("#console").textContent({ timeout: WAIT })) ?? "";
  };

  before(async () => {
    const dist = await buildKiwi(); // examples/kiwi/dist, as `npm run kiwi` serves it
    const ready = new Promise<void>((resolve, reject) => {
      worker.assign(
        (function* main() {
          try {
            server = yield* serve({ host: "127.0.0.1", port: 0 }, serveStatic(dist));
          } catch (error) {
            reject(error);
            return;
          }
          resolve();
          yield* call(new Promise<void>((done) => (stopServer = done)));
          yield* server.close();
        })(),
      );
    });
    serving = worker.run();
    await ready;
    browser = await launchChromium(30_000);
    page = await openPage(browser, `${server.url}/`, WAIT, problems);
    await until("typeof window.kiwi === 'object'");
  });

  after(async () => {
    try {
      if (page !== undefined) {
        mkdirSync("test-results", { recursive: true });
        await page.screenshot({ path: "test-results/kiwi.png", timeout: WAIT }).catch(() => {});
      }
    } finally {
      await browser?.close();
      stopServer();
      await serving;
    }
  });

  it("loads without errors, and frames and virtual time advance", async () => {
    const first = await state();
    await until(
      (s: KiwiState) => kiwi.state().frame >= s.frame + 10 && kiwi.state().time > s.time,
      first,
    );
    const later = await state();
    assert.ok(later.time > first.time, "virtual time advances");
    assert.equal(later.paused, false);
    assert.ok(later.tasks > 0, "the game's routines are live tasks");
    assert.deepEqual(problems, []);
  });

  it("starts with the cut-scene; Enter skips it and the ship flies", async () => {
    assert.equal((await state()).phase, "intro");
    await page.keyboard.press("Enter");
    await until("kiwi.state().phase === 'play' && kiwi.state().player !== null");
    assert.equal((await state()).lives, 3);
  });

  it("moves the ship with the arrow keys and WASD", async () => {
    const start = (await state()).player;
    assert.ok(start !== null);
    await page.keyboard.down("ArrowLeft");
    await until((x: number) => (kiwi.state().player?.x ?? x) < x - 40, start.x);
    await page.keyboard.up("ArrowLeft");
    await page.keyboard.down("KeyW");
    await until((y: number) => (kiwi.state().player?.y ?? y) < y - 20, start.y);
    await page.keyboard.up("KeyW");
    const moved = (await state()).player;
    assert.ok(moved !== null && moved.x < start.x && moved.y < start.y, "left and up");
  });

  it("opens the console with the backtick; ps lists the tasks with their state and call stack", async () => {
    assert.equal(await page.locator("#console").isVisible(), false, "hidden at first");
    await page.keyboard.press("Backquote");
    await page.locator("#console").waitFor({ state: "visible", timeout: WAIT });
    const text = await type("ps");
    assert.match(text, /> ps\n/);
    assert.match(text, /steps\/frame/);
    assert.match(text, /\d+ +game +waiting on task "round-1" +game/);
    assert.match(text, /pilot +waiting on the next frame +pilot/);
    assert.match(text, /squadron/);
  });

  it("kill cancels a task: spawn a hunter, kill it, and it is gone", async () => {
    const ordered = await type("spawn hunter");
    const name = /ordered (hunter-\d+)/.exec(ordered)?.[1];
    assert.ok(name !== undefined, ordered);
    await until((n: string) => kiwi.command(`ps ${n}`).includes(`${n} `), name);
    const killed = await type(`kill ${name}`);
    assert.match(killed, new RegExp(`killed \\d+ ${name}`));
    await until((n: string) => kiwi.command(`ps ${n}`).includes("no live task named"), name);
    assert.match(await type("kill"), /usage: kill <task>/, "bad input answers with a usage line");
  });

  it("pause stops virtual time; step advances one frame; resume goes on", async () => {
    // Through the hook this time: command(line) gives the console's answer as text.
    assert.match(await command("pause"), /^paused at t=/);
    const paused = await state();
    assert.equal(paused.paused, true);
    await until((f: number) => kiwi.state().frame >= f + 15, paused.frame);
    const still = await state();
    assert.equal(still.time, paused.time, "no virtual time passes while paused");
    assert.ok(still.frame > paused.frame, "but frames are still drawn");
    assert.match(await command("step"), /^paused; stepped 1 frame to t=/);
    assert.ok(Math.abs((await state()).time - (paused.time + 1 / 60)) < 1e-9, "one frame");
    assert.match(await type("resume"), /> resume\nresumed at t=/, "the panel logs it too");
    await until((t: number) => kiwi.state().time > t + 0.1, paused.time);
    assert.equal((await state()).paused, false);
  });

  it("has logged no errors along the way", async () => {
    assert.equal((await state()).errors, 0);
    assert.deepEqual(problems, []);
  });
});
