/**
 * The web server's status page, end to end in headless Chromium.
 *
 * The server is the example's own `webServer` routine, run on a worker of
 * this test's on a free port of 127.0.0.1; beside it, on the same worker,
 * a task with a very long name (as a request for a long path would have),
 * which the page must wrap rather than run off the screen. The page is
 * read as a person would see it: the charts' points, the text beside them,
 * the tree and its count, the link back to the game, at a desktop width
 * and at a phone's.
 *
 * Chromium is Debian's (/usr/bin/chromium, driven by playwright-core);
 * nothing is downloaded. Every wait has a time limit, and the browser and
 * the server are closed whatever happens. Screenshots are saved as
 * test-results/status.png and test-results/status-phone.png.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../../examples/kiwi/chromium.ts";
import { publicDir, webServer } from "../../examples/webserver/server.ts";
import { routine, sleep, type Task, Worker } from "../../src/index.ts";
import type { HttpServer } from "../../src/node/http.ts";
import { openPage } from "./page.ts";

/** The longest any one wait may take, in milliseconds. */
const WAIT = 10_000;

/** A name with no place to break a line: a request for a long path (a content hash, say). */
const LONG_NAME = `GET /files/${"0123456789abcdef".repeat(12)}`;

describe("the web server's status page in Chromium", { timeout: 120_000 }, () => {
  const worker = new Worker();
  let server: HttpServer;
  let stopServer: () => void = () => {};
  let serving: Promise<void> = Promise.resolve();
  let longTask: Task<void> | undefined;
  let browser: Browser | undefined;
  let page: Page;
  /** Console errors and uncaught exceptions of the page. */
  const problems: string[] = [];

  /** Points drawn in each chart, in page order. */
  const points = (): Promise<number[]> =>
    page.evaluate(() =>
      [...document.querySelectorAll<SVGPolylineElement>(".chart polyline.line")].map(
        (line) => line.points.numberOfItems,
      ),
    );

  /** Elements whose content is wider than they are, and whether the page itself scrolls sideways. */
  const overflows = (): Promise<string[]> =>
    page.evaluate(() => {
      const wide: string[] = [];
      const root = document.documentElement;
      if (root.scrollWidth > root.clientWidth) {
        wide.push(`the page: ${root.scrollWidth} px wide in ${root.clientWidth}`);
      }
      for (const element of document.querySelectorAll<HTMLElement>("body *")) {
        if (element instanceof SVGElement || element.clientWidth === 0) continue;
        if (element.scrollWidth > element.clientWidth + 1) {
          wide.push(`<${element.tagName.toLowerCase()} class="${element.className}">`);
        }
        if (element.getBoundingClientRect().right > root.clientWidth + 1) {
          wide.push(
            `<${element.tagName.toLowerCase()} class="${element.className}"> past the edge`,
          );
        }
      }
      return wide;
    });

  before(async () => {
    const ready = new Promise<HttpServer>((resolve, reject) => {
      const shutdown = new Promise<void>((done) => {
        stopServer = done;
      });
      const options = { host: "127.0.0.1", port: 0, roots: [publicDir], onListening: resolve };
      worker.assign(webServer(worker, options, shutdown));
      // Waits as a slow request would; cancelled at the end.
      longTask = worker.assign(
        routine(function* download() {
          yield* sleep(3600);
        })(),
        { name: LONG_NAME },
      );
      serving = worker.run();
      serving.catch(reject);
    });
    server = await ready;
    browser = await launchChromium(30_000);
    page = await openPage(browser, `${server.url}/status`, WAIT, problems);
  });

  after(async () => {
    try {
      if (page !== undefined) {
        mkdirSync("test-results", { recursive: true });
        await page.setViewportSize({ width: 1000, height: 800 }).catch(() => {});
        await page
          .screenshot({ path: "test-results/status.png", fullPage: true, timeout: WAIT })
          .catch(() => {});
      }
    } finally {
      await browser?.close();
      longTask?.cancel();
      stopServer();
      await serving;
    }
  });

  it("draws each chart from the stream: a point more for each event, its values as text beside it", async () => {
    await page.waitForFunction(() => document.querySelector(".chart[data-points]") !== null, null, {
      timeout: WAIT,
    });
    const first = await points();
    assert.equal(first.length, 3, "steps, requests, live tasks");
    // Three more events (one a second) and each chart has three more points.
    await page.waitForFunction(
      (before: number[]) =>
        [...document.querySelectorAll<SVGPolylineElement>(".chart polyline.line")].every(
          (line, i) => line.points.numberOfItems >= (before[i] as number) + 3,
        ),
      first,
      { timeout: WAIT, polling: 100 },
    );
    for (const figure of await page.locator(".chart").all()) {
      assert.match((await figure.locator(".what").textContent()) ?? "", /per second|Live tasks/);
      assert.match((await figure.locator(".now").textContent()) ?? "", /^\d[\d,]*$/);
      assert.match(
        (await figure.locator(".summary").textContent()) ?? "",
        /^now \d[\d,]*, highest \d[\d,]*, average [\d.,]+ over \d+ s$/,
      );
    }
    assert.match((await page.locator(".connection").textContent()) ?? "", /live/);
    assert.deepEqual(problems, []);
  });

  it("shows as many tasks in the tree as it counts, the long-named one among them", async () => {
    const { counted, shown, chart } = await page.evaluate(() => ({
      counted: document.getElementById("counted")?.textContent ?? "",
      shown: document.querySelectorAll("#tree .task").length,
      chart: document.querySelector(".chart.tasks .now")?.textContent ?? "",
    }));
    const match = /^(\d+) live tasks: (\d+) runnable, (\d+) waiting$/.exec(counted);
    assert.ok(match !== null, counted);
    assert.equal(shown, Number(match[1]), "one snapshot: the count is the tree's");
    assert.equal(Number(match[2]) + Number(match[3]), shown);
    assert.equal(chart, match[1], "the live-tasks chart's latest value is the same count");
    const names = await page.locator("#tree .name").allInnerTexts();
    assert.ok(names.includes(LONG_NAME), names.join("\n"));
    assert.ok(names.includes("GET /api/stream"), "this page's own stream is a task too");
  });

  it("folds a task's children away, and keeps them folded as the tree is drawn again", async () => {
    const server = page.locator("#tree summary", { hasText: /^http server / });
    const stream = page.locator("#tree .name", { hasText: "GET /api/stream" });
    assert.equal(await stream.isVisible(), true);
    await server.click();
    await stream.waitFor({ state: "hidden", timeout: WAIT });
    // The next event draws a new tree: still folded.
    const before = await points();
    await page.waitForFunction(
      (n: number) =>
        (document.querySelector<SVGPolylineElement>(".chart polyline.line")?.points.numberOfItems ??
          0) > n,
      before[0] as number,
      { timeout: WAIT, polling: 100 },
    );
    assert.equal(await stream.isVisible(), false);
    await server.click();
    await stream.waitFor({ state: "visible", timeout: WAIT });
  });

  it("has a link back to the game at /", async () => {
    const back = page.locator('a[href="/"]');
    assert.equal(await back.count(), 1);
    assert.match((await back.textContent()) ?? "", /game/);
    assert.equal(await back.isVisible(), true);
  });

  it("runs no line off the page, at a desktop's width and at a phone's", async () => {
    assert.deepEqual(await overflows(), []);
    await page.setViewportSize({ width: 360, height: 740 });
    await page.waitForFunction(() => document.documentElement.clientWidth === 360, null, {
      timeout: WAIT,
    });
    assert.deepEqual(await overflows(), []);
    const box = await page.locator("#tree .name", { hasText: "0123456789abcdef" }).boundingBox();
    assert.ok(box !== null && box.x + box.width <= 360, "the long name wraps within the screen");
    mkdirSync("test-results", { recursive: true });
    await page.screenshot({ path: "test-results/status-phone.png", fullPage: true, timeout: WAIT });
    assert.deepEqual(problems, []);
  });
});
