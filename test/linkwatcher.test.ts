/**
 * The link watcher example: `examples/linkwatcher`, a real program.
 *
 * It runs against real HTTP servers on 127.0.0.1 (node:http, port 0) that
 * answer 200, 301, 404 and 500, refuse HEAD, hang past the timeout, or are
 * not there at all (a port that was bound, then closed), and a small site
 * with a link loop and a broken link for --crawl. Most tests call `main()`
 * in-process with fake streams and a stop signal standing in for Ctrl-C;
 * the last ones start the real command as a child process and send it
 * SIGINT. Every server is closed with its connections, so the test
 * process exits on its own; every test has a time bound.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { describeFailure } from "../examples/linkwatcher/check.ts";
import { extractCssLinks, extractLinks } from "../examples/linkwatcher/links.ts";
import { type Io, main } from "../examples/linkwatcher/linkwatcher.ts";
import { TimeoutError } from "../src/index.ts";

// ------------------------------------------------------------------ helpers

/** A server on 127.0.0.1 and a free port, with a log of the requests it got. */
interface TestServer {
  /** "http://127.0.0.1:PORT", no trailing slash. */
  readonly base: string;
  /** "METHOD /path" for each request, in order of arrival. */
  readonly log: string[];
  /** Closes it and every connection (the hanging ones too). */
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function listen(handler: Handler): Promise<TestServer> {
  const log: string[] = [];
  const server = http.createServer((req, res) => {
    log.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    base: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A URL where nothing listens: the port was bound a moment ago, then let go. */
async function refusedUrl(): Promise<string> {
  const server = await listen(() => {});
  await server.close();
  return `${server.base}/`;
}

/** Io for an in-process run: what it prints is collected; `stop()` is its Ctrl-C. */
function fakeIo(options: { isTTY?: boolean; columns?: number } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const controller = new AbortController();
  const io: Io = {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text) },
    isTTY: options.isTTY ?? false,
    ...(options.columns === undefined ? {} : { columns: options.columns }),
    stop: controller.signal,
  };
  return {
    io,
    stdout: () => out.join(""),
    stderr: () => err.join(""),
    stop: (reason = "SIGINT") => controller.abort(reason),
  };
}

/** Waits until `condition()` holds, checking every 10 ms; fails after `seconds`. */
async function until(condition: () => boolean, what: string, seconds = 5): Promise<void> {
  const deadline = performance.now() + seconds * 1000;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs `main()` with --once and gives the exit status and what it printed. */
async function once(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const fake = fakeIo();
  const status = await main(["--once", ...args], fake.io);
  return { status, stdout: fake.stdout(), stderr: fake.stderr() };
}

/** The HTML of a page whose links are `body`. */
function page(body: string): string {
  return `<!doctype html><html><head><title>test</title></head><body>${body}</body></html>`;
}

// ------------------------------------------------------------------ the sites

/**
 * The main test server. Its paths: /ok (200), /old (301 to /ok), /chain
 * (302 to /old), /loop-a and /loop-b (redirecting to each other), /missing
 * (404), /error (500), /no-head (405 for HEAD, 200 for GET), /hang (never
 * answers), /slow/N (200 after 100 ms, counting requests in flight), and
 * /site/..., a small site for the crawl.
 */
let server: TestServer;
let refused: string;
const inFlight = { now: 0, most: 0 };

const site: Record<string, string> = {
  // The home page links to a and b; a commented-out link and a fragment must not count.
  "/site/": page(
    `<a href="a.html">A</a> <a href='/site/b.html#top'>B</a> <!-- <a href="/site/commented.html"> -->`,
  ),
  // a links back home (a loop), to b, to a missing page and image, to mail.
  "/site/a.html": page(
    `<a href="/site/">home</a><a href=b.html>B</a><a href="gone.html">gone</a>` +
      `<img src="logo.png"><a href="mailto:someone@example.com">mail</a>`,
  ),
  // b links back to a (a loop), on to c, and has a link inside a script (no link at all).
  "/site/b.html": page(
    `<a href="a.html">A</a><a href="c.html">C</a><script>const s = '<a href="/site/in-script.html">';</script>`,
  ),
  // c is two links away from home: at --depth 2 it is checked but not read.
  "/site/c.html": page(`<a href="deep.html">deeper</a>`),
  "/site/deep.html": page("the bottom"),
};

function mainHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = req.url ?? "/";
  const redirect = (status: number, location: string) => {
    res.writeHead(status, { location });
    res.end();
  };
  if (path === "/ok") res.end("fine");
  else if (path === "/old") redirect(301, "/ok");
  else if (path === "/chain") redirect(302, "/old");
  else if (path === "/loop-a") redirect(302, "/loop-b");
  else if (path === "/loop-b") redirect(302, "/loop-a");
  else if (path === "/error") {
    res.statusCode = 500;
    res.end();
  } else if (path === "/no-head") {
    res.statusCode = req.method === "HEAD" ? 405 : 200;
    res.end("GET only");
  } else if (path === "/head-forbidden") {
    // A server that turns HEAD away (403) but serves the page to GET.
    res.statusCode = req.method === "HEAD" ? 403 : 200;
    res.end("GET only");
  } else if (path === "/head-drop") {
    // A server that hangs up on HEAD (no answer at all) but serves the page to GET.
    if (req.method === "HEAD") req.socket.destroy();
    else res.end("GET only");
  } else if (path === "/not-modified") {
    // 304 to a request that asked for no condition: there is no page here.
    res.statusCode = 304;
    res.end();
  } else if (path === "/hang") {
    // Never answers: the check must give up at --timeout.
  } else if (path.startsWith("/slow/")) {
    inFlight.now++;
    inFlight.most = Math.max(inFlight.most, inFlight.now);
    setTimeout(() => {
      inFlight.now--;
      res.end("slowly");
    }, 100);
  } else if (site[path] !== undefined || path === "/site/logo.png") {
    const html = site[path];
    res.setHeader("content-type", html === undefined ? "image/png" : "text/html; charset=utf-8");
    res.end(html ?? "PNG");
  } else {
    res.statusCode = 404;
    res.end("not here");
  }
}

before(async () => {
  server = await listen(mainHandler);
  refused = await refusedUrl();
});

after(async () => {
  await server.close();
});

/** How many times the server got `request` ("GET /site/a.html"). */
function count(request: string): number {
  return server.log.filter((line) => line === request).length;
}

// ------------------------------------------------------------------ --once

describe("linkwatcher --once", { timeout: 20_000 }, () => {
  it("reports each URL UP or DOWN with why: 200, a 301 and where it led, 404, 500, timeout, refused; exit 1", async () => {
    const b = server.base;
    const started = performance.now();
    const { status, stdout } = await once([
      "--timeout",
      "0.3",
      `${b}/ok`,
      `${b}/old`,
      `${b}/missing`,
      `${b}/error`,
      `${b}/hang`,
      refused,
    ]);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(status, 1, "something is broken");
    const lines = stdout.split("\n");
    const line = (url: string) => lines.find((l) => l.includes(` ${url} `)) ?? "";
    assert.match(line(`${b}/ok`), /^UP +\S+ +200 {2}\d+ ms$/);
    assert.match(line(`${b}/old`), new RegExp(`^UP .* 301 -> ${b}/ok  200  \\d+ ms$`));
    assert.match(line(`${b}/missing`), /^DOWN .* 404 Not Found {2}\d+ ms$/);
    assert.match(line(`${b}/error`), /^DOWN .* 500 Internal Server Error {2}\d+ ms$/);
    assert.match(line(`${b}/hang`), /^DOWN .* timeout after 0\.3 s$/);
    assert.match(line(refused), /^DOWN .* connection refused$/);
    assert.equal(lines.at(-2), "2 up, 4 down");
    // The hanging request was given up after 0.3 s, not waited for.
    assert.ok(seconds < 5, `took ${seconds.toFixed(1)} s`);
  });

  it("exits 0 when everything is up", async () => {
    const { status, stdout, stderr } = await once([`${server.base}/ok`, `${server.base}/chain`]);
    assert.equal(status, 0);
    assert.match(stdout, new RegExp(`302 -> 301 -> ${server.base}/ok  200`));
    assert.equal(stderr, "");
  });

  it("asks again with GET where HEAD is refused with 405, and the URL is up", async () => {
    const { status, stdout } = await once(["--json", `${server.base}/no-head`]);
    assert.equal(status, 0);
    const [check] = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.equal(check.status, "up");
    assert.equal(check.code, 200);
    assert.equal(check.method, "GET");
    assert.equal(count("HEAD /no-head"), 1);
    assert.equal(count("GET /no-head"), 1);
  });

  it("asks again with GET whenever HEAD fails (a 403, a dropped connection), and the URL is up", async () => {
    const { status, stdout } = await once([
      "--json",
      `${server.base}/head-forbidden`,
      `${server.base}/head-drop`,
    ]);
    const [forbidden, dropped] = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.equal(status, 0, stdout);
    assert.deepEqual([forbidden.status, forbidden.code, forbidden.method], ["up", 200, "GET"]);
    assert.deepEqual([dropped.status, dropped.code, dropped.method], ["up", 200, "GET"]);
    assert.equal(count("HEAD /head-forbidden"), 1);
    assert.equal(count("GET /head-forbidden"), 1);
    assert.equal(count("GET /head-drop"), 1);
  });

  it("calls a 304 to a request without conditions DOWN: it gives no page", async () => {
    const { status, stdout } = await once([`${server.base}/not-modified`]);
    assert.equal(status, 1);
    assert.match(stdout, /^DOWN +\S+\/not-modified {2}304 Not Modified {2}\d+ ms$/m);
  });

  it("calls a redirect loop broken, naming the loop", async () => {
    const { status, stdout } = await once([`${server.base}/loop-a`]);
    assert.equal(status, 1);
    assert.match(stdout, new RegExp(`DOWN .*302 -> 302 -> ${server.base}/loop-a  redirect loop`));
  });

  it("keeps at most --concurrency checks in flight", async () => {
    inFlight.most = 0;
    const urls = [1, 2, 3, 4, 5, 6].map((n) => `${server.base}/slow/${n}`);
    const { status } = await once(["--concurrency", "2", ...urls]);
    assert.equal(status, 0);
    assert.equal(inFlight.most, 2, "two at once, never more");
  });

  it("--json: one JSON object per line, one per URL, then a summary", async () => {
    const { status, stdout } = await once([
      "--json",
      `${server.base}/old`,
      `${server.base}/missing`,
    ]);
    assert.equal(status, 1);
    const objects = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.equal(objects.length, 3);
    const [old, missing, summary] = objects;
    assert.deepEqual(
      { ...old, latencyMs: 0 },
      {
        type: "check",
        url: `${server.base}/old`,
        status: "up",
        code: 200,
        reason: null,
        redirects: [{ url: `${server.base}/old`, code: 301 }],
        finalUrl: `${server.base}/ok`,
        method: "HEAD",
        latencyMs: 0,
      },
    );
    assert.equal(missing.status, "down");
    assert.equal(missing.reason, "404 Not Found");
    assert.deepEqual(summary, { type: "summary", up: 1, down: 1, broken: 0, checked: 2 });
  });

  it("--file: reads URLs one a line, skipping blank lines and # comments (a # in a URL is its fragment)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "linkwatcher-"));
    try {
      const file = join(dir, "urls.txt");
      writeFileSync(
        file,
        [
          "# sites to watch",
          "",
          `${server.base}/ok   # the home page`,
          `   ${server.base}/missing#section`,
          "  # an indented comment",
        ].join("\n"),
      );
      const { status, stdout } = await once(["-f", file, "--json"]);
      assert.equal(status, 1);
      const urls = stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line).url);
      assert.deepEqual(urls, [`${server.base}/ok`, `${server.base}/missing`, undefined]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ------------------------------------------------------------------ --crawl

describe("linkwatcher --crawl", { timeout: 20_000 }, () => {
  it("reports every broken link with the page it was on, visiting each URL once despite the loops", async () => {
    server.log.length = 0;
    const { status, stdout } = await once(["--crawl", `${server.base}/site/`]);
    assert.equal(status, 1, "a broken link is something broken");
    assert.match(stdout, new RegExp(`^UP +${server.base}/site/ +200`, "m"));
    assert.match(
      stdout,
      new RegExp(
        `^BROKEN ${server.base}/site/gone.html +404 Not Found .* on ${server.base}/site/a.html$`,
        "m",
      ),
    );
    assert.match(stdout, /1 up, 0 down, 1 broken link, 6 URLs checked/);
    // Each URL once, though a links home and a and b link to each other. Pages read for
    // links are fetched with GET, the rest with HEAD; a link in a comment or in a script's
    // text is none, mailto: is no web page, and c's links are past --depth 2. A HEAD that
    // failed (404) is asked again with GET before the link is called broken.
    assert.deepEqual(server.log.slice().sort(), [
      "GET /site/",
      "GET /site/a.html",
      "GET /site/b.html",
      "GET /site/gone.html",
      "HEAD /site/c.html",
      "HEAD /site/gone.html",
      "HEAD /site/logo.png",
    ]);
  });

  it('reports a link that cannot be resolved (href="//////") as broken, naming its page; exit 1', async () => {
    const home = await listen((_req, res) => {
      res.setHeader("content-type", "text/html");
      res.end(page('<a href="//////">nowhere</a><a href="http://[::1">half an address</a>'));
    });
    try {
      const { status, stdout } = await once(["--crawl", `${home.base}/`]);
      assert.equal(status, 1, stdout);
      assert.match(stdout, new RegExp(`^BROKEN ////// +not a valid URL +on ${home.base}/$`, "m"));
      assert.match(
        stdout,
        new RegExp(`^BROKEN http://\\[::1 +not a valid URL +on ${home.base}/$`, "m"),
      );
      assert.match(stdout, /1 up, 0 down, 2 broken links/);
      assert.deepEqual(home.log, ["GET /"], "nothing was asked for them");
    } finally {
      await home.close();
    }
  });

  it("checks the links of srcset, refresh and stylesheets (inline and fetched); --no-css leaves CSS unread", async () => {
    const files: Record<string, [string, string]> = {
      "/": [
        "text/html",
        page(
          `<link rel="stylesheet" href="/css/main.css"><meta http-equiv="refresh" content="10;url=/next.html">` +
            `<img src="/a.png" srcset="/a.png 1x, /a@2x.png 2x"><p style="background: url(/inline.png)">`,
        ),
      ],
      "/css/main.css": ["text/css", "@import 'more.css'; body { background: url(../bg.png) }"],
      "/css/more.css": ["text/css", "h1 { background: url(/deep-in-css.png) }"],
      "/next.html": ["text/html", page("")],
      "/a.png": ["image/png", "PNG"],
      "/bg.png": ["image/png", "PNG"],
    };
    const site = await listen((req, res) => {
      const file = files[req.url ?? ""];
      if (file === undefined) res.statusCode = 404;
      else res.setHeader("content-type", file[0]);
      res.end(file?.[1] ?? "");
    });
    try {
      const withCss = await once(["--crawl", "--json", `${site.base}/`]);
      const broken = (stdout: string) =>
        stdout
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line))
          .filter((o) => o.type === "link")
          .map(
            (o) => `${o.url.slice(site.base.length)} on ${o.foundOn[0].slice(site.base.length)}`,
          );
      assert.equal(withCss.status, 1);
      // At depth 2 the stylesheet is read (it is one link away), and so is what it imports
      // (two links away) to be checked, not read: /deep-in-css.png is three links away.
      assert.deepEqual(broken(withCss.stdout).sort(), ["/a@2x.png on /", "/inline.png on /"]);
      assert.ok(site.log.includes("GET /css/main.css"), "the stylesheet was read");
      assert.ok(site.log.includes("HEAD /bg.png"), "its url() was checked");
      assert.ok(site.log.includes("HEAD /css/more.css"), "its @import was checked");
      assert.ok(site.log.includes("GET /next.html"), "the refresh target was read");

      site.log.length = 0;
      const withoutCss = await once(["--crawl", "--no-css", "--json", `${site.base}/`]);
      assert.deepEqual(broken(withoutCss.stdout), ["/a@2x.png on /"]);
      assert.ok(site.log.includes("GET /css/main.css"), "the stylesheet is a link all the same");
      assert.ok(!site.log.includes("HEAD /bg.png"), "but it is not read");
    } finally {
      await site.close();
    }
  });

  it("lets pages and checks flow through one pool: a slow page holds up no other branch, --concurrency still bounds them", async () => {
    const events: string[] = [];
    const flight = { now: 0, most: 0 };
    const site = await listen((req, res) => {
      const path = req.url ?? "/";
      events.push(`${req.method} ${path}`);
      flight.now++;
      flight.most = Math.max(flight.most, flight.now);
      const answer = (body: string, delay = 0) =>
        setTimeout(() => {
          flight.now--;
          if (path === "/slow.html") events.push("answered /slow.html");
          res.setHeader("content-type", "text/html");
          res.end(body);
        }, delay);
      if (path === "/") answer(page('<a href="/slow.html">slow</a><a href="/fast.html">fast</a>'));
      else if (path === "/slow.html") answer(page(""), 600);
      else if (path === "/fast.html") {
        const links = [1, 2, 3, 4, 5, 6].map((n) => `<a href="/leaf/${n}.html">${n}</a>`);
        answer(page(links.join("")));
      } else answer(page(""), 50);
    });
    try {
      const { status } = await once(["--crawl", "--concurrency", "2", `${site.base}/`]);
      assert.equal(status, 0);
      // Level by level, the leaves (two links away) waited for the slow page (one away).
      const leaves = events.filter((e) => e.startsWith("HEAD /leaf/"));
      assert.equal(leaves.length, 6);
      const slowAnswered = events.indexOf("answered /slow.html");
      assert.ok(
        events.indexOf("HEAD /leaf/5.html") < slowAnswered,
        `the leaves were checked while the slow page was on its way: ${events.join(", ")}`,
      );
      assert.equal(flight.most, 2, "two requests at once, never more");
    } finally {
      await site.close();
    }
  });

  it("says when --depth left pages unvisited, and how many: in the report and in --json's summary", async () => {
    // c.html (an HTML page two links from home) is checked at --depth 2 but not read;
    // gone.html (404) and logo.png (no page) are no pages left unvisited.
    const text = await once(["--crawl", `${server.base}/site/`]);
    assert.match(
      text.stdout,
      /^1 up, 0 down, 1 broken link, 6 URLs checked; 1 page left unvisited by --depth 2$/m,
    );
    const json = await once(["--crawl", "--json", `${server.base}/site/`]);
    const summary = JSON.parse(json.stdout.trim().split("\n").at(-1) ?? "");
    assert.deepEqual(summary, {
      type: "summary",
      up: 1,
      down: 0,
      broken: 1,
      checked: 6,
      depth: 2,
      unvisited: 1,
    });
    // Deep enough, nothing is left: the summary says so by leaving it out.
    const deep = await once(["--crawl", "--depth", "5", `${server.base}/site/`]);
    assert.match(deep.stdout, /^1 up, 0 down, 1 broken link, 7 URLs checked$/m);
  });

  it("counts --depth along the shortest way to a page, also when a longer way gets there first", async () => {
    // Home links to /slow.html (answering late) and to /a.html; /slow.html links to /x.html,
    // and so does /a.html through /b.html. /x.html is two links away: at --depth 3 it is read
    // and its link /y.html checked, though the fast way finds it three links away first.
    const pages: Record<string, [string, number]> = {
      "/": ['<a href="/slow.html">s</a><a href="/a.html">a</a>', 0],
      "/slow.html": ['<a href="/x.html">x</a>', 300],
      "/a.html": ['<a href="/b.html">b</a>', 0],
      "/b.html": ['<a href="/x.html">x</a>', 0],
      "/x.html": ['<a href="/y.html">y</a>', 0],
      "/y.html": ["", 0],
    };
    const site = await listen((req, res) => {
      const [body, delay] = pages[req.url ?? ""] ?? ["", 0];
      setTimeout(() => {
        res.setHeader("content-type", "text/html");
        res.end(page(body));
      }, delay);
    });
    try {
      const { status, stdout } = await once(["--crawl", "--depth", "3", `${site.base}/`]);
      assert.equal(status, 0);
      assert.ok(site.log.includes("GET /x.html"), site.log.join(", "));
      assert.ok(site.log.includes("HEAD /y.html"), site.log.join(", "));
      // y itself, three links away, is the one page --depth 3 leaves unread.
      assert.match(stdout, /6 URLs checked; 1 page left unvisited by --depth 3$/m);
    } finally {
      await site.close();
    }
  });

  it("goes --depth links deep: 3 reads c and checks the page it links to; 0 checks the URL alone", async () => {
    server.log.length = 0;
    await once(["--crawl", "--depth", "3", `${server.base}/site/`]);
    assert.equal(count("GET /site/c.html"), 1);
    assert.equal(count("HEAD /site/deep.html"), 1);
    server.log.length = 0;
    await once(["--crawl", "--depth", "0", `${server.base}/site/`]);
    assert.deepEqual(server.log, ["HEAD /site/"]);
  });

  it("follows links on the same origin only: a link to another site is checked, not read", async () => {
    const other = await listen((req, res) => {
      res.setHeader("content-type", "text/html");
      res.end(req.url === "/" ? page('<a href="/far.html">far</a>') : page(""));
    });
    const home = await listen((req, res) => {
      res.setHeader("content-type", "text/html");
      res.end(
        req.url === "/"
          ? page(`<a href="${other.base}/">other</a><a href="/local.html">x</a>`)
          : "",
      );
    });
    try {
      const { status } = await once(["--crawl", "--depth", "5", `${home.base}/`]);
      assert.equal(status, 0);
      assert.deepEqual(home.log.slice().sort(), ["GET /", "GET /local.html"]);
      assert.deepEqual(other.log, ["HEAD /"], "checked with HEAD, its links not followed");
    } finally {
      await Promise.all([home.close(), other.close()]);
    }
  });
});

// ------------------------------------------------------------------ watching

describe("linkwatcher watching (without --once)", { timeout: 20_000 }, () => {
  it("--every: a line when a URL goes from UP to DOWN, none for checks that changed nothing; SIGINT ends it with 0", async () => {
    let failing = false;
    const flaky = await listen((_req, res) => {
      res.statusCode = failing ? 503 : 200;
      res.end();
    });
    const fake = fakeIo();
    const exit = main(["--every", "0.2", `${flaky.base}/`], fake.io);
    try {
      await until(() => fake.stdout().includes(" UP "), "the first check");
      failing = true;
      await until(() => fake.stdout().includes(" DOWN "), "the change to DOWN");
      fake.stop("SIGINT");
      assert.equal(await exit, 0);
      const lines = fake.stdout().trim().split("\n");
      assert.equal(lines.length, 2, fake.stdout());
      assert.match(
        lines[0] ?? "",
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ UP {3}http:\/\/127\.0\.0\.1:\d+\/ {2}200 {2}\d+ ms$/,
      );
      assert.match(lines[1] ?? "", /Z DOWN http:\/\/\S+ {2}503 Service Unavailable {2}\d+ ms$/);
      assert.ok(flaky.log.length >= 2, "checked again and again");
      assert.match(fake.stderr(), /watching 1 URL every 0\.2 s/);
      assert.match(fake.stderr(), /stopped \(SIGINT\)\n$/);
    } finally {
      fake.stop();
      await exit;
      await flaky.close();
    }
  });

  it("--json --crawl: one object per change; a crawled link that breaks comes with the page it is on", async () => {
    let broken = false;
    const flaky = await listen((req, res) => {
      if (req.url === "/") {
        res.setHeader("content-type", "text/html");
        res.end(page('<a href="/news.html">news</a>'));
      } else {
        res.statusCode = broken ? 404 : 200;
        res.end();
      }
    });
    const fake = fakeIo();
    const exit = main(
      ["--every", "0.2", "--crawl", "--depth", "1", "--json", `${flaky.base}/`],
      fake.io,
    );
    const objects = () =>
      fake
        .stdout()
        .trim()
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line));
    try {
      await until(() => flaky.log.includes("HEAD /news.html"), "the crawl to reach the link");
      broken = true;
      await until(() => objects().length === 2, "the link to break");
      fake.stop();
      assert.equal(await exit, 0);
      const [home, news] = objects();
      // A link that works is not news; the watched URL is, from its first check.
      assert.equal(home.type, "check");
      assert.equal(home.status, "up");
      assert.equal(home.previous, null);
      assert.match(home.time, /^\d{4}-\d\d-\d\dT/);
      assert.equal(news.type, "link");
      assert.equal(news.url, `${flaky.base}/news.html`);
      assert.equal(news.status, "down");
      assert.equal(news.previous, "up");
      assert.equal(news.code, 404);
      assert.deepEqual(news.foundOn, [`${flaky.base}/`]);
    } finally {
      fake.stop();
      await exit;
      await flaky.close();
    }
  });

  it("says when --depth left pages unvisited: a line (or a JSON object) when the count changes, a line in the table", async () => {
    const run = async (args: string[], fake: ReturnType<typeof fakeIo>, done: () => boolean) => {
      const exit = main(["--every", "0.1", "--crawl", ...args, `${server.base}/site/`], fake.io);
      try {
        await until(done, "the depth-limit notice");
        await new Promise((resolve) => setTimeout(resolve, 250)); // more rounds: no new notice
      } finally {
        fake.stop();
      }
      assert.equal(await exit, 0);
    };
    const lines = fakeIo();
    await run([], lines, () => lines.stdout().includes("unvisited"));
    const notices = lines
      .stdout()
      .split("\n")
      .filter((l) => l.includes("unvisited"));
    assert.equal(notices.length, 1, lines.stdout());
    assert.match(
      notices[0] ?? "",
      new RegExp(`^\\S+Z DEPTH 1 page left unvisited by --depth 2: ${server.base}/site/c.html$`),
    );

    const json = fakeIo();
    await run(["--json"], json, () => json.stdout().includes('"depth"'));
    const objects = json
      .stdout()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line))
      .filter((o) => o.type === "depth");
    assert.equal(objects.length, 1);
    assert.deepEqual(
      { ...objects[0], time: "t" },
      { type: "depth", time: "t", depth: 2, unvisited: 1, pages: [`${server.base}/site/c.html`] },
    );

    const table = fakeIo({ isTTY: true, columns: 120 });
    await run([], table, () => table.stdout().includes("unvisited"));
    assert.match(
      table.stdout(),
      /^1 page left unvisited by --depth 2 \(raise --depth to read it\)$/m,
    );
  });

  it("on a terminal: a live table redrawn in place; stopping draws it a last time and brings the cursor back", async () => {
    const fake = fakeIo({ isTTY: true, columns: 100 });
    const b = server.base;
    const exit = main(["--every", "0.1", `${b}/ok`, `${b}/missing`], fake.io);
    try {
      await until(() => fake.stdout().includes("DOWN"), "both checks");
      await new Promise((resolve) => setTimeout(resolve, 300)); // a few more rounds and redraws
      fake.stop();
      assert.equal(await exit, 0);
      const out = fake.stdout();
      assert.ok(out.startsWith("\x1b[?25l"), "hides the cursor while it draws");
      assert.ok(out.endsWith("\x1b[?25h"), "and shows it again: the table's finally block ran");
      // Each redraw goes back up over the last table ("\r", ESC [ n A) and clears from there (ESC [ J).
      const frames = out.slice(0, -"\x1b[?25h".length).split("\r\x1b[");
      assert.ok(frames.length >= 3, `${frames.length} frames`);
      for (const frame of frames.slice(1)) assert.match(frame, /^\d+A/);
      const last = (frames.at(-1) ?? "").replace(/^\d+A/, "").replace("\x1b[J", "");
      assert.match(last, /^linkwatcher: 1 up, 1 down; checks every 0\.1 s/);
      assert.match(last, /^URL +STATUS +CODE +LATENCY +LAST CHANGE$/m);
      assert.match(last, new RegExp(`^${b}/ok +UP +200 +\\d+ ms +\\d+ s ago$`, "m"));
      assert.match(
        last,
        new RegExp(`^${b}/missing +DOWN +404 +\\d+ ms +\\d+ s ago +404 Not Found$`, "m"),
      );
      for (const line of last.split("\n")) assert.ok(line.length < 100, `too wide: ${line}`);
    } finally {
      fake.stop();
      await exit;
    }
  });

  it("a --once run stopped by SIGINT ends at once, its request in flight aborted: exit 130", async () => {
    const fake = fakeIo();
    const started = performance.now();
    const exit = main(["--once", "--timeout", "60", `${server.base}/hang`], fake.io);
    await until(() => count("HEAD /hang") > 0, "the request");
    fake.stop("SIGINT");
    assert.equal(await exit, 130);
    assert.ok(performance.now() - started < 5000);
    assert.equal(fake.stdout(), "");
    assert.equal(fake.stderr(), "linkwatcher: interrupted (SIGINT)\n");
  });
});

// ------------------------------------------------------------------ usage

describe("linkwatcher usage", () => {
  const url = "http://127.0.0.1:9/";
  const mistakes: [string[], string][] = [
    [["--every", "x", url], "--every expects a positive number of seconds, got 'x'"],
    [["--every", "0", url], "--every expects a positive number of seconds, got '0'"],
    [["--timeout=-1", url], "--timeout expects a positive number of seconds, got '-1'"],
    [["--concurrency", "0", url], "--concurrency expects a whole number of 1 or more, got '0'"],
    [["--concurrency", "2.5", url], "--concurrency expects a whole number of 1 or more, got '2.5'"],
    [["--depth=-1", url], "--depth expects a whole number of 0 or more, got '-1'"],
    [["--nope", url], "unknown option '--nope'"],
    [[url, "--every"], "option '--every <value>' argument missing"],
    [["--once=yes", url], "option '--once' does not take an argument"],
    [[], "no URLs to watch: give at least one URL, or --file <path>"],
    [
      ["example.com/page"],
      "expected an http:// or https:// URL, got 'example.com/page' (argument) (did you mean 'https://example.com/page'?)",
    ],
    [
      ["ftp://example.com/"],
      "expected an http:// or https:// URL, got 'ftp://example.com/' (argument)",
    ],
    [["-f", "/no/such/file.txt"], "--file cannot read '/no/such/file.txt': no such file"],
  ];
  for (const [args, message] of mistakes) {
    it(`exit 2 for ${JSON.stringify(args.join(" "))}: ${message}`, async () => {
      const fake = fakeIo();
      assert.equal(await main(args, fake.io), 2);
      assert.equal(
        fake.stderr(),
        `linkwatcher: ${message}\nTry 'linkwatcher --help' for the options.\n`,
      );
      assert.equal(fake.stdout(), "");
    });
  }

  it("exit 2 for a bad URL in --file, naming the file and line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "linkwatcher-"));
    try {
      const file = join(dir, "urls.txt");
      writeFileSync(file, "# fine so far\nnot a url\n");
      const fake = fakeIo();
      assert.equal(await main(["--file", file], fake.io), 2);
      assert.match(fake.stderr(), new RegExp(`got 'not a url' \\(${file}:2\\)`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--help prints the usage and every option, exit 0", async () => {
    const fake = fakeIo();
    assert.equal(await main(["--help"], fake.io), 0);
    assert.match(fake.stdout(), /^Usage: linkwatcher \[options\] <url\.\.\.>\n/);
    for (const option of [
      "--file",
      "--every",
      "--once",
      "--concurrency",
      "--timeout",
      "--crawl",
      "--depth",
      "--json",
      "--no-css",
    ]) {
      assert.ok(fake.stdout().includes(`${option} `), option);
    }
    assert.equal(fake.stderr(), "");
  });
});

// ------------------------------------------------------------------ the parts

describe("extractLinks", () => {
  it("finds href and src, quoted or bare, resolved against <base>, without fragments, each once", () => {
    const html = `<html><head>
      <base href="/docs/">
      <link rel="stylesheet" href="style.css"><link rel="preconnect" href="https://fonts.example">
      <script src="app.js"></script>
    </head><body>
      <A HREF="Upper.html">upper case</A>
      <a href=bare.html>bare</a>
      <a title="a > b" href='single.html?x=1&amp;y=2#part'>single quotes, a > in a value</a>
      <a href="https://other.example/page">another site</a>
      <img src=" spaced.png ">
      <a href="a&#47;b&#x2F;c.html">numeric references</a>
      <video src="movie.mp4" poster="poster.jpg"></video>
      <a href="bare.html#again">the same page again</a>
    </body></html>`;
    assert.deepEqual(extractLinks(html, "http://site.test/index.html").links, [
      "http://site.test/docs/style.css",
      "http://site.test/docs/app.js",
      "http://site.test/docs/Upper.html",
      "http://site.test/docs/bare.html",
      "http://site.test/docs/single.html?x=1&y=2",
      "https://other.example/page",
      "http://site.test/docs/spaced.png",
      "http://site.test/docs/a/b/c.html",
      "http://site.test/docs/movie.mp4",
      "http://site.test/docs/poster.jpg",
    ]);
  });

  it("ignores what is no link: comments, script and style text, data-href, other schemes, the page itself", () => {
    const html = `
      <!-- <a href="/commented.html"> -->
      <script>document.write('<a href="/in-script.html">')</script>
      <style>a[href="/in-style.html"] { color: red }</style>
      <a data-href="/data.html">data attribute</a>
      <a href="#top">this page</a><a href="">this page too</a>
      <a href="mailto:a@b.test">mail</a><a href="javascript:void(0)">script</a><a href="tel:123">phone</a>
      <img src="data:image/png;base64,AAAA">
      <a href="/kept.html">the only link</a>`;
    assert.deepEqual(extractLinks(html, "https://site.test/"), {
      links: ["https://site.test/kept.html"],
      invalid: [],
    });
  });
});

describe("extractLinks: srcset, refresh, CSS and the other places a page names a URL", () => {
  const base = "http://site.test/dir/page.html";

  it("reads every candidate of srcset and imagesrcset, commas in URLs included", () => {
    const html = `
      <img src="one.png" srcset="one.png 1x, two.png 2x,three.png 3x">
      <picture><source srcset="wide.webp 800w , narrow.webp 400w" media="(min-width: 600px)"></picture>
      <img srcset="/img/a,b.png 1x, /img/c.png?w=1,2 2x">
      <link rel="preload" as="image" imagesrcset="hero-1.jpg 1x, hero-2.jpg 2x">`;
    assert.deepEqual(extractLinks(html, base).links, [
      "http://site.test/dir/one.png",
      "http://site.test/dir/two.png",
      "http://site.test/dir/three.png",
      "http://site.test/dir/wide.webp",
      "http://site.test/dir/narrow.webp",
      "http://site.test/img/a,b.png",
      "http://site.test/img/c.png?w=1,2",
      "http://site.test/dir/hero-1.jpg",
      "http://site.test/dir/hero-2.jpg",
    ]);
  });

  it("reads <meta http-equiv=refresh>, <link rel=preload|icon|manifest|stylesheet> and the rarer attributes", () => {
    const html = `<html manifest="app.appcache"><head>
      <meta http-equiv="Refresh" content="5; URL='/moved.html'">
      <meta http-equiv="refresh" content="0;url=plain.html">
      <meta http-equiv="refresh" content="30">
      <meta name="description" content="not/a/link.html">
      <link rel="preload" href="font.woff2" as="font">
      <link rel="icon" href="/favicon.ico"><link rel="manifest" href="site.webmanifest">
      <link rel="stylesheet" href="main.css">
    </head><body background="bg.png">
      <blockquote cite="source.html">said</blockquote>
      <object data="movie.swf"></object>
      <input type="image" src="button.png">
    </body></html>`;
    assert.deepEqual(extractLinks(html, base).links, [
      "http://site.test/dir/app.appcache",
      "http://site.test/moved.html",
      "http://site.test/dir/plain.html",
      "http://site.test/dir/font.woff2",
      "http://site.test/favicon.ico",
      "http://site.test/dir/site.webmanifest",
      "http://site.test/dir/main.css",
      "http://site.test/dir/bg.png",
      "http://site.test/dir/source.html",
      "http://site.test/dir/movie.swf",
      "http://site.test/dir/button.png",
    ]);
  });

  it('reads url() and @import in <style> and style="", resolved against <base>; not with css: false', () => {
    const html = `<head><base href="/assets/">
      <style>
        @import "reset.css";
        @import url('print.css') print;
        /* url(commented.png) */
        .hero { background: url(hero.jpg) no-repeat, url( "data:image/png;base64,AA" ); }
        .icon { mask: url(#mask); }
      </style></head>
      <body><div style="background-image: url(&quot;tile.png&quot;)"></div>
      <a href="x.html" style="cursor: url('hand.cur'), pointer">x</a></body>`;
    assert.deepEqual(extractLinks(html, base).links, [
      "http://site.test/assets/reset.css",
      "http://site.test/assets/print.css",
      "http://site.test/assets/hero.jpg",
      "http://site.test/assets/tile.png",
      "http://site.test/assets/x.html",
      "http://site.test/assets/hand.cur",
    ]);
    assert.deepEqual(extractLinks(html, base, { css: false }).links, [
      "http://site.test/assets/x.html",
    ]);
  });

  it("reads a stylesheet: url() and @import, resolved against the stylesheet", () => {
    const css = `@import 'base.css'; @charset "utf-8";
      body { background: url(../img/bg.png) } /* url(no.png) */
      @font-face { src: url("fonts/a.woff2") format("woff2"), url(fonts/a.woff) format("woff"); }`;
    assert.deepEqual(extractCssLinks(css, "http://site.test/css/main.css"), {
      links: [
        "http://site.test/css/base.css",
        "http://site.test/img/bg.png",
        "http://site.test/css/fonts/a.woff2",
        "http://site.test/css/fonts/a.woff",
      ],
      invalid: [],
    });
  });
});

describe("describeFailure", () => {
  /** An error shaped like fetch's: a bare "fetch failed" whose cause says what happened. */
  const fetchFailed = (cause: unknown) => new TypeError("fetch failed", { cause });
  const coded = (code: string, message = code, more: object = {}) =>
    Object.assign(new Error(message), { code, ...more });

  it("says in a few words why a request failed", () => {
    assert.equal(describeFailure(new TimeoutError("timed out"), 10), "timeout after 10 s");
    assert.equal(describeFailure(fetchFailed(coded("ECONNREFUSED")), 10), "connection refused");
    assert.equal(
      describeFailure(
        fetchFailed(coded("ENOTFOUND", "getaddrinfo", { hostname: "x.invalid" })),
        10,
      ),
      "DNS: host not found (x.invalid)",
    );
    assert.equal(
      describeFailure(fetchFailed(new AggregateError([coded("ECONNREFUSED")])), 10),
      "connection refused",
      "when several addresses were tried",
    );
    assert.equal(
      describeFailure(fetchFailed(coded("CERT_HAS_EXPIRED", "certificate has expired")), 10),
      "TLS: certificate has expired",
    );
    assert.equal(describeFailure(fetchFailed(new Error("bad port")), 10), "bad port");
  });
});

// ------------------------------------------------------------------ the command

describe("the linkwatcher command, as a child process", { timeout: 60_000 }, () => {
  const root = fileURLToPath(new URL("..", import.meta.url));

  /** Starts `node --import tsx examples/linkwatcher/main.ts ...args` and collects its output. */
  function start(args: string[]) {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "examples/linkwatcher/main.ts", ...args],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on("close", (code, signal) => resolve({ code, signal })),
    );
    return { child, exit, stdout: () => stdout, stderr: () => stderr };
  }

  /** Kills what a failed test left running. */
  function reap(child: ChildProcess): void {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }

  it("--once: exit 0 when all is well, 1 when something is broken, 2 for bad usage", async () => {
    const good = start(["--once", `${server.base}/ok`]);
    const bad = start(["--once", `${server.base}/ok`, `${server.base}/missing`]);
    const wrong = start(["--once", "--every", "x", `${server.base}/ok`]);
    try {
      assert.deepEqual(await good.exit, { code: 0, signal: null });
      assert.match(
        good.stdout(),
        /^UP +http:\/\/127\.0\.0\.1:\d+\/ok {2}200 {2}\d+ ms\n\n1 up, 0 down\n$/,
      );
      assert.deepEqual(await bad.exit, { code: 1, signal: null });
      assert.match(bad.stdout(), /^DOWN +\S+\/missing {2}404 Not Found/m);
      assert.deepEqual(await wrong.exit, { code: 2, signal: null });
      assert.match(
        wrong.stderr(),
        /^linkwatcher: --every expects a positive number of seconds, got 'x'\n/,
      );
      assert.equal(wrong.stdout(), "");
    } finally {
      for (const cli of [good, bad, wrong]) reap(cli.child);
    }
  });

  it("SIGINT ends a watch: its tasks are cancelled (the request in flight too) and it exits 0", async () => {
    const hangs = count("HEAD /hang");
    const cli = start([
      "--every",
      "0.2",
      "--timeout",
      "60",
      `${server.base}/ok`,
      `${server.base}/hang`,
    ]);
    try {
      await until(() => cli.stdout().includes(" UP "), "the first check", 20);
      await until(() => count("HEAD /hang") > hangs, "the hanging request", 5);
      const stopped = performance.now();
      cli.child.kill("SIGINT");
      assert.deepEqual(await cli.exit, { code: 0, signal: null });
      assert.ok(performance.now() - stopped < 5000, "a 60 s request did not hold it up");
      assert.match(cli.stdout(), /Z UP {3}http:\/\/127\.0\.0\.1:\d+\/ok {2}200 {2}\d+ ms\n/);
      assert.match(cli.stderr(), /stopped \(SIGINT\)\n$/);
    } finally {
      reap(cli.child);
    }
  });
});
