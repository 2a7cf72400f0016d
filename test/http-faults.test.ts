/**
 * HTTP under faults: what `clockwork-microthreads/http` promises when a
 * client goes away.
 *
 * A request is a task, and a client that hangs up before it has the whole
 * answer cancels that task, as Go cancels a request's context: whatever
 * the handler waits on (a timer, the body, a slow write, a file being
 * opened) is released, its `finally` blocks run, its AbortSignal aborts,
 * and nothing is left in flight with a file open. A client going away is
 * no error of the handler's: nothing is printed, nothing reaches onError.
 * Code that cannot be cancelled (a shield) and writes to a client that has
 * gone gets a ClientGoneError at once. Running out of descriptors is the
 * server's trouble, not the file's absence: a 500 and an onError, never a
 * 404.
 *
 * Clients here are raw sockets that hang up at a chosen moment. Servers
 * listen on 127.0.0.1, port 0; every wait is bounded.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import fsPromises, { type FileHandle } from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { park, shield, sleep, timeout } from "../src/index.ts";
import { type HttpServer, type ServeOptions, type serve, serveStatic } from "../src/node/http.ts";
import { nodeScript, until, withServer } from "./support.ts";

type Handler = Parameters<typeof serve>[1];

/**
 * Runs `body(server)` against a server with `handler` and the default
 * onError, then closes it; gives what the server printed to stderr.
 */
async function withServerPrinting(
  handler: Handler,
  body: (server: HttpServer) => Promise<void>,
  options: ServeOptions = {},
): Promise<{ printed: string[] }> {
  const printed: string[] = [];
  const realError = console.error;
  console.error = (...args: unknown[]) => {
    printed.push(args.map((arg) => (arg instanceof Error ? arg.stack : String(arg))).join(" "));
  };
  try {
    await withServer(handler, body, { closeGrace: 0.2, ...options });
  } finally {
    console.error = realError;
  }
  return { printed };
}

/** Sends `request` on a raw socket, reads `readFirst` bytes of the answer (0: none), then hangs up. */
async function hangUp(
  port: number,
  request: string,
  options: { after?: number; readFirst?: number } = {},
): Promise<void> {
  const socket = net.connect({ port, host: "127.0.0.1" });
  socket.on("error", () => {});
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(request);
  if (options.readFirst !== undefined && options.readFirst > 0) {
    let got = 0;
    const wanted = options.readFirst;
    await new Promise<void>((resolve) => {
      socket.on("data", (chunk: Buffer) => {
        got += chunk.length;
        if (got >= wanted) {
          socket.pause();
          resolve();
        }
      });
    });
  } else {
    socket.pause(); // reads nothing
  }
  await new Promise((resolve) => setTimeout(resolve, options.after ?? 100));
  socket.destroy();
}

const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

describe("http under faults: a client that goes away", () => {
  it("cancels the request's task (request.signal aborts, its finally runs): a handler sleeping 3 s does not finish its 3 s", async () => {
    const events: string[] = [];
    let started = 0;
    const { printed } = await withServerPrinting(
      function* slow(req, res) {
        req.signal.addEventListener("abort", () => events.push("signal aborted"));
        try {
          yield sleep(3);
          events.push("slept 3 s");
          res.text("too late\n");
        } finally {
          events.push(`cleaned up after ${Date.now() - started} ms`);
        }
      },
      async (server) => {
        started = Date.now();
        await hangUp(server.port, GET("/slow"), { after: 100 });
        assert.ok(await until(() => events.length >= 2, 1500), `events: ${events.join(", ")}`);
        assert.equal(events[0], "signal aborted");
        assert.match(events[1] ?? "", /^cleaned up after \d+ ms$/);
        assert.ok(Number(/\d+/.exec(events[1] ?? "")?.[0]) < 1000, events[1]);
        assert.equal(server._inFlight, 0, "nothing is left in flight");
      },
    );
    assert.deepEqual(printed, []);
  });

  it("cancels a handler reading the body when the client hangs up halfway through it, and reports nothing", async () => {
    const events: string[] = [];
    const { printed } = await withServerPrinting(
      function* upload(req, res) {
        try {
          const body = yield* req.body();
          res.text(`got ${body.length} bytes\n`);
        } finally {
          events.push("cleaned up");
        }
      },
      async (server) => {
        await hangUp(
          server.port,
          "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc",
        );
        assert.ok(await until(() => events.length > 0, 1500), "the handler's finally ran");
        assert.equal(server._inFlight, 0);
      },
    );
    assert.deepEqual(events, ["cleaned up"]);
    assert.deepEqual(printed, [], "nothing printed through the default onError");
  });

  it("cancels a handler waiting to write to a client that stopped reading and left, and prints no stack trace", async () => {
    const events: string[] = [];
    const chunk = Buffer.alloc(64 * 1024, 120);
    const { printed } = await withServerPrinting(
      function* flood(_req, res) {
        try {
          for (let i = 0; i < 100_000; i++) yield* res.write(chunk); // 6 GiB: it waits for the client
          events.push("wrote everything");
        } finally {
          events.push("cleaned up");
        }
      },
      async (server) => {
        await hangUp(server.port, GET("/flood"), { readFirst: 1, after: 200 });
        assert.ok(await until(() => events.length > 0, 1500), "the handler's finally ran");
      },
    );
    assert.deepEqual(events, ["cleaned up"]);
    assert.deepEqual(printed, [], "nothing printed through the default onError");
  });

  it("cancels an event stream between two events when its client leaves: it does not wait for a write that can never finish", async () => {
    const events: string[] = [];
    const { printed } = await withServerPrinting(
      function* stream(_req, res) {
        try {
          for (let i = 0; ; i++) {
            yield* res.write(`data: ${i}\n\n`, { "content-type": "text/event-stream" });
            yield sleep(0.05);
          }
        } finally {
          events.push("stream ended");
        }
      },
      async (server) => {
        await hangUp(server.port, GET("/events"), { readFirst: 1, after: 20 });
        assert.ok(await until(() => events.length > 0, 1500), "the stream's finally ran");
        assert.equal(server._inFlight, 0);
      },
    );
    assert.deepEqual(printed, []);
  });

  it("throws a ClientGoneError at once from write() to a client that has gone, in code a cancel cannot cut (a shield)", async () => {
    let outcome = "";
    await withServerPrinting(
      function* stubborn(_req, res) {
        yield* res.write("first\n");
        yield* shield(
          (function* afterTheClientLeft() {
            // Wait until the response is closed (the client left); the cancel that comes is held.
            yield* park<void>(({ wake }) => {
              if (res.raw.destroyed) wake();
              else res.raw.once("close", () => wake());
              return undefined;
            }, "the client to leave");
            try {
              yield* timeout(1, res.write("second\n"));
              outcome = "write() returned";
            } catch (error) {
              outcome = `${(error as Error).name}: ${(error as Error).message}`;
            }
          })(),
        );
      },
      async (server) => {
        await hangUp(server.port, GET("/stubborn"), { readFirst: 1, after: 20 });
        assert.ok(await until(() => outcome !== "", 2000), "the write came back");
      },
    );
    assert.match(outcome, /^ClientGoneError: /);
  });
});

describe("http under faults: hang-ups before the answer starts", () => {
  const folder = mkdtempSync(join(tmpdir(), "clockwork-http-faults-"));
  writeFileSync(join(folder, "big.bin"), Buffer.alloc(1024 * 1024, 7)); // streamed, not read at once
  writeFileSync(join(folder, "hello.txt"), "hello\n");

  /**
   * Runs `body` while every file fs/promises opens or stats takes `delay`
   * ms first (the handler's import sees the wrappers once the built-in
   * module's exports are synced); then waits until every open under way
   * has finished, and gives the number of files still open.
   */
  async function withSlowFiles(delay: number, body: () => Promise<void>): Promise<number> {
    const realOpen = fsPromises.open;
    const realStat = fsPromises.stat;
    const open = new Set<FileHandle>();
    let opening = 0;
    const pause = () => new Promise((resolve) => setTimeout(resolve, delay));
    fsPromises.open = (async (...args: Parameters<typeof realOpen>) => {
      opening++;
      try {
        await pause();
        const handle = await realOpen(...args);
        open.add(handle);
        const close = handle.close.bind(handle);
        handle.close = () => {
          open.delete(handle);
          return close();
        };
        return handle;
      } finally {
        opening--;
      }
    }) as typeof realOpen;
    fsPromises.stat = (async (...args: Parameters<typeof realStat>) => {
      await pause();
      return realStat(...args);
    }) as typeof realStat;
    syncBuiltinESMExports();
    try {
      await body();
      await until(() => opening === 0 && open.size === 0, delay + 1000); // a close finishes in the thread pool
      return open.size + opening;
    } finally {
      fsPromises.open = realOpen;
      fsPromises.stat = realStat;
      syncBuiltinESMExports();
    }
  }

  it("ends a serveStatic request whose client hangs up while the file is being opened, and closes the file once opened", async () => {
    let endedAfter = -1;
    const left = await withSlowFiles(1000, async () => {
      await withServerPrinting(serveStatic(folder), async (server) => {
        const started = Date.now();
        await hangUp(server.port, GET("/big.bin"), { after: 50 }); // the open takes 1 s
        assert.ok(await until(() => server.served === 1, 2000), "the request's task ended");
        endedAfter = Date.now() - started;
      });
    });
    assert.ok(
      endedAfter < 600,
      `the request ended ${endedAfter} ms after it came, not after the open`,
    );
    assert.equal(left, 0, "no file is left open");
  });

  it("ends a sendFile request whose client hangs up while the file is looked at, before the first byte", async () => {
    let endedAfter = -1;
    await withSlowFiles(1000, async () => {
      await withServerPrinting(
        function* download(_req, res) {
          yield* res.sendFile(join(folder, "big.bin"));
        },
        async (server) => {
          const started = Date.now();
          await hangUp(server.port, GET("/download"), { after: 50 });
          assert.ok(await until(() => server.served === 1, 2000), "the request's task ended");
          endedAfter = Date.now() - started;
        },
      );
    });
    assert.ok(
      endedAfter < 600,
      `the request ended ${endedAfter} ms after it came, not after the stat`,
    );
  });

  it("throws a ClientGoneError at once from a sendFile a cancel cannot cut (a shield) to a client that has gone", async () => {
    let outcome = "";
    await withServerPrinting(
      function* stubborn(_req, res) {
        yield* shield(
          (function* afterTheClientLeft() {
            yield* park<void>(({ wake }) => {
              if (res.raw.destroyed) wake();
              else res.raw.once("close", () => wake());
              return undefined;
            }, "the client to leave");
            try {
              yield* timeout(1, res.sendFile(join(folder, "big.bin")));
              outcome = "sendFile() returned";
            } catch (error) {
              outcome = `${(error as Error).name}: ${(error as Error).message}`;
            }
          })(),
        );
      },
      async (server) => {
        await hangUp(server.port, GET("/stubborn"), { after: 20 });
        assert.ok(await until(() => outcome !== "", 2000), "sendFile came back");
      },
    );
    assert.match(outcome, /^ClientGoneError: /);
  });
});

describe("http under faults: the listening socket", () => {
  it("says so on stderr and goes on serving when accepting a connection fails (ENFILE, ENOBUFS): no crash, no silence", async (t) => {
    const printed: string[] = [];
    t.mock.method(console, "error", (...parts: unknown[]) => {
      printed.push(parts.map((p) => (p instanceof Error ? p.message : String(p))).join(" "));
    });
    const answers: string[] = [];
    let where = "";
    await withServer(
      function* hello(_req, res) {
        res.text("hello");
      },
      async (server) => {
        where = `127.0.0.1:${server.port}`;
        // What Node does when the system refuses an accept (libuv keeps listening): an "error"
        // event on the listening socket, which kills the process if nobody listens to it.
        for (const code of ["ENFILE", "ENOBUFS"]) {
          const error = Object.assign(new Error(`accept ${code}`), { code, syscall: "accept" });
          server._server.emit("error", error);
        }
        for (let i = 0; i < 2; i++) {
          answers.push(await (await fetch(`http://${where}/`)).text());
        }
      },
    );
    assert.deepEqual(answers, ["hello", "hello"]);
    assert.deepEqual(
      printed,
      ["ENFILE", "ENOBUFS"].map(
        (code) =>
          `clockwork http: accepting a connection on ${where} failed (the server goes on): accept ${code}`,
      ),
    );
  });
});

describe("http under faults: out of descriptors", () => {
  /**
   * A child node process that may hold 256 descriptors: a server with
   * serveStatic and sendFile, two keep-alive connections opened (and
   * answered once) while descriptors are left, then every descriptor taken,
   * then a request on each connection, then the descriptors given back and
   * one more request. Prints what it saw as JSON.
   */
  const script = `
    import { closeSync, mkdtempSync, openSync, writeFileSync } from "node:fs";
    import * as net from "node:net";
    import { tmpdir } from "node:os";
    import { join } from "node:path";
    import { call, run } from "./src/index.ts";
    import { serve, serveStatic } from "./src/node/http.ts";

    const folder = mkdtempSync(join(tmpdir(), "clockwork-emfile-"));
    writeFileSync(join(folder, "hello.txt"), "hello\\n");
    // Served first while descriptors are out: hello.txt, served before, is in serveStatic's
    // memory and needs none (it is served: 200), so the file that shows the 500 is this one.
    writeFileSync(join(folder, "other.txt"), "other\\n");
    const files = serveStatic(folder);
    const errors = [];
    const statuses = [];

    /** Sends a GET on a kept-alive socket and gives the status of its answer ("closed" if none). */
    function get(socket, path) {
      if (socket.destroyed) return "closed";
      return new Promise((resolve, reject) => {
        let got = Buffer.alloc(0);
        socket.once("close", () => resolve("closed"));
        const onData = (chunk) => {
          got = Buffer.concat([got, chunk]);
          const end = got.indexOf("\\r\\n\\r\\n");
          if (end < 0) return;
          const head = got.subarray(0, end).toString();
          const length = Number(/content-length: *(\\d+)/i.exec(head)?.[1] ?? 0);
          if (got.length < end + 4 + length) return;
          socket.off("data", onData);
          resolve(Number(head.split(" ")[1]));
        };
        socket.on("data", onData);
        socket.once("error", reject);
        socket.write("GET " + path + " HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n");
      });
    }

    async function client(port) {
      const connect = () => new Promise((resolve, reject) => {
        const socket = net.connect({ port, host: "127.0.0.1" }, () => resolve(socket));
        socket.once("error", reject);
      });
      const a = await connect();
      const b = await connect();
      statuses.push(await get(a, "/hello.txt"), await get(b, "/send"));
      // Takes every descriptor left. Again before each request: a file of the requests above may
      // still be closing in the thread pool, and give one back.
      const held = [];
      const takeAll = () => {
        try {
          for (;;) {
            held.push(openSync("/dev/null", "r"));
            if (held.length > 10000) throw new Error("the descriptor limit was not lowered");
          }
        } catch (error) {
          if (error.code !== "EMFILE") throw error;
        }
      };
      try {
        takeAll();
        await new Promise((resolve) => setTimeout(resolve, 100));
        takeAll();
        statuses.push(await get(a, "/other.txt"));
        takeAll();
        statuses.push(await get(b, "/send"));
      } finally {
        for (const fd of held) closeSync(fd);
      }
      statuses.push(await get(a, "/other.txt"), await get(b, "/send"));
      a.destroy();
      b.destroy();
    }

    await run(function* main() {
      const server = yield* serve(
        { port: 0, closeGrace: 0.2, onError: (error) => errors.push(error.code ?? String(error)) },
        function* route(req, res) {
          if (req.path === "/send") yield* res.sendFile(join(folder, "hello.txt"));
          else yield* files(req, res);
        },
      );
      try {
        yield* call(client(server.port));
      } finally {
        yield* server.close();
      }
    }());
    console.log(JSON.stringify({ statuses, errors }));
  `;

  it("answers 500 and calls onError when a file cannot be opened for want of descriptors (EMFILE), never 404, and serves it again once there are some", async () => {
    const { code, stdout, stderr } = await nodeScript(script, 20, { openFiles: 256 });
    assert.equal(code, 0, stderr);
    const { statuses, errors } = JSON.parse(stdout) as { statuses: unknown[]; errors: string[] };
    assert.deepEqual(statuses, [200, 200, 500, 500, 200, 200], "serveStatic, then sendFile");
    assert.deepEqual(errors, ["EMFILE", "EMFILE"]);
  });
});
