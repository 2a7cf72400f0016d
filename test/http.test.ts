/**
 * HTTP: `clockwork-microthreads/http`, a server on node:http where each
 * request is a task.
 *
 * Real requests (the built-in fetch) to servers on 127.0.0.1 and a free
 * port. A handler reads the body with a size limit and answers with text or
 * JSON; a handler that throws gets a 500 and its error goes to onError;
 * close() lets the requests in flight finish.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { call, Future, routine, sleep, VirtualClock, Worker } from "../src/index.ts";
import { HttpError, type Request, type Response, serve } from "../src/node/http.ts";
import { withServer } from "./support.ts";

describe("http", () => {
  it("answers inside node:http's own request callback: the handler's first step is not left to a microtask", async () => {
    const order: string[] = [];
    const handler = routine(function* handler(_req: Request, res: Response) {
      order.push("handler");
      res.text("now\n");
    });
    await withServer(handler, async (server) => {
      // A listener added after serve()'s own runs after it, in the same emit.
      server._server.on("request", (_req, res) => {
        order.push(res.headersSent ? "next listener: already answered" : "next listener: not yet");
      });
      const response = await fetch(`${server.url}/`);
      assert.equal(await response.text(), "now\n");
      assert.deepEqual(order, ["handler", "next listener: already answered"]);
    });
  });

  it("answers each request from its own task, with text and JSON", async () => {
    const hello = routine(function* hello(req: Request, res: Response) {
      if (req.path === "/json") res.json({ path: req.path, q: req.query.get("q") });
      else res.text(`hello from ${req.method} ${req.path}\n`);
    });
    await withServer(hello, async (server) => {
      const text = await fetch(`${server.url}/there`);
      assert.equal(text.status, 200);
      assert.equal(text.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.equal(await text.text(), "hello from GET /there\n");
      const json = await fetch(`${server.url}/json?q=42`);
      assert.deepEqual(await json.json(), { path: "/json", q: "42" });
    });
  });

  it("serves 200 concurrent requests", async () => {
    await withServer(
      function* slowish(req, res) {
        yield sleep(0.01);
        res.text(req.path);
      },
      async (server) => {
        const bodies = await Promise.all(
          Array.from({ length: 200 }, (_, i) => fetch(`${server.url}/${i}`).then((r) => r.text())),
        );
        bodies.forEach((body, i) => {
          assert.equal(body, `/${i}`);
        });
        assert.equal(server.served, 200);
      },
    );
  });

  it("reads a JSON body, and refuses one over the limit with 413", async () => {
    await withServer(
      function* echoJson(req, res) {
        res.json({ got: yield* req.json() });
      },
      async (server) => {
        const ok = await fetch(server.url, { method: "POST", body: JSON.stringify({ a: 1 }) });
        assert.deepEqual(await ok.json(), { got: { a: 1 } });
        const big = await fetch(server.url, { method: "POST", body: "x".repeat(2000) });
        assert.equal(big.status, 413);
        const bad = await fetch(server.url, { method: "POST", body: "{not json" });
        assert.equal(bad.status, 400);
      },
      { bodyLimit: 1000 },
    );
  });

  it("answers 500 when a handler throws, reports the error, and goes on", async () => {
    const reported: string[] = [];
    await withServer(
      function* flaky(req, res) {
        if (req.path === "/boom") throw new Error("kaboom");
        if (req.path === "/missing") throw new HttpError(404);
        res.text("fine");
      },
      async (server) => {
        assert.equal((await fetch(`${server.url}/boom`)).status, 500);
        const missing = await fetch(`${server.url}/missing`);
        assert.equal(missing.status, 404);
        assert.equal(await missing.text(), "Not Found\n");
        assert.equal(await (await fetch(`${server.url}/ok`)).text(), "fine");
      },
      { onError: (error) => reported.push((error as Error).message) },
    );
    assert.deepEqual(reported, ["kaboom"], "HttpErrors are answers, not failures");
  });

  it("streams a body chunk by chunk, and sends files", async () => {
    const folder = mkdtempSync(join(tmpdir(), "clockwork-http-"));
    writeFileSync(join(folder, "data.json"), '{"from":"a file"}');
    await withServer(
      function* mixed(req, res) {
        if (req.path === "/file") {
          yield* res.sendFile(join(folder, "data.json"));
          return;
        }
        for (let i = 1; i <= 3; i++) {
          yield* res.write(`chunk ${i}\n`, { "content-type": "text/plain" });
          yield sleep(0.01);
        }
        res.end();
      },
      async (server) => {
        assert.equal(
          await (await fetch(`${server.url}/stream`)).text(),
          "chunk 1\nchunk 2\nchunk 3\n",
        );
        const file = await fetch(`${server.url}/file`);
        assert.equal(file.headers.get("content-type"), "application/json; charset=utf-8");
        assert.deepEqual(await file.json(), { from: "a file" });
      },
    );
  });

  it("drops a client that sends its headers too slowly (slowloris)", async () => {
    await withServer(
      function* never(_req, res) {
        res.text("unreachable");
      },
      async (server) => {
        const closed = await new Promise<number>((resolve) => {
          const started = Date.now();
          const slow = net.connect({ port: server.port, host: "127.0.0.1" }, () => {
            slow.write("GET / HTTP/1.1\r\nHost: x\r\n"); // and never the blank line
          });
          slow.resume(); // read whatever the server says (a 408), so that the close is seen
          slow.on("close", () => resolve(Date.now() - started));
          slow.on("error", () => {});
        });
        assert.ok(closed < 5000, `dropped after ${closed} ms`);
      },
      { headersTimeout: 0.3, requestTimeout: 0.3 },
    );
  });

  it("closes gracefully: a request in flight finishes, then the server is gone", async () => {
    const worker = new Worker();
    let port = 0;
    const results: string[] = [];
    worker.assign(
      (function* main() {
        const server = yield* serve({ port: 0, closeGrace: 2 }, function* slow(_req, res) {
          yield sleep(0.2);
          res.text("finished");
        });
        port = server.port;
        const inFlight = fetch(`${server.url}/`).then((r) => r.text());
        yield sleep(0.05); // the request is in its handler now
        yield* server.close();
        results.push(yield* call(inFlight));
      })(),
    );
    await worker.run();
    assert.deepEqual(results, ["finished"]);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`), /fetch failed/);
  });

  /**
   * Two requests in flight whose handlers sleep `sleeps` seconds of a
   * VirtualClock (time jumps when every task waits), then close() with
   * `closeGrace`; gives when close() returned (seconds after it began), the
   * steps the worker took meanwhile, and what each client got.
   */
  async function closeOnVirtualClock(sleeps: number[], closeGrace: number) {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    const outcome = { closedAfter: -1, steps: -1, answers: [] as string[] };
    worker.assign(
      (function* main() {
        let started = 0;
        const allStarted = new Future<void>();
        const server = yield* serve({ port: 0, closeGrace }, function* slow(req, res) {
          if (++started === sleeps.length) allStarted.resolve();
          yield sleep(Number(req.query.get("sleep")));
          res.text(`slept ${req.query.get("sleep")}`);
        });
        const inFlight = sleeps.map((seconds) =>
          fetch(`${server.url}/?sleep=${seconds}`).then(
            (r) => r.text(),
            () => "no answer",
          ),
        );
        yield* allStarted.wait();
        const [began, steps] = [clock.now(), worker.counters.steps];
        yield* server.close();
        outcome.closedAfter = clock.now() - began;
        outcome.steps = worker.counters.steps - steps;
        outcome.answers = yield* call(Promise.all(inFlight));
      })(),
    );
    await worker.run();
    return outcome;
  }

  it("close() parks until the last request in flight ends, on the worker's clock, without polling (issue 14)", async () => {
    const { closedAfter, steps, answers } = await closeOnVirtualClock([1.005, 2.005], 60);
    assert.deepEqual(answers, ["slept 1.005", "slept 2.005"]);
    assert.ok(Math.abs(closedAfter - 2.005) < 1e-9, `close() returned ${closedAfter} s after`);
    assert.ok(steps < 30, `the worker took ${steps} steps meanwhile: close() polls`);
  });

  it("close() waits out its grace period on the worker's clock, then cancels what is left", async () => {
    const { closedAfter, answers } = await closeOnVirtualClock([1, 100], 3);
    assert.deepEqual(answers, ["slept 1", "no answer"]);
    assert.ok(Math.abs(closedAfter - 3) < 1e-9, `close() returned ${closedAfter} s after`);
  });
});
