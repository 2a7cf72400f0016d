/**
 * TCP under faults: what `clockwork-microthreads/net` promises when the
 * other side misbehaves.
 *
 * A peer may reset a connection at any moment, even before the task that
 * owns it has taken a step; it may half-close (send its end and go on
 * reading); and a handler may simply fail. None of that may kill the
 * process, end the server, touch another connection, or lose data without
 * a word. Every socket has its error handling from the moment it exists;
 * a connection's own failure (a reset) ends its task quietly; any other
 * error of a handler goes to `onError`. After a peer's end, what we write
 * is still delivered (the connection is half-open, as TCP allows).
 *
 * Where the moment matters (a reset before a task's first step), the
 * worker is driven by hand with `tick()`, so that the test decides when
 * tasks step and when only the event loop runs. Everything listens on
 * 127.0.0.1, port 0, and is bounded in time.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { describe, it } from "node:test";
import { routine, sleep, suspend, Worker } from "../src/index.ts";
import { type Connection, connect, listen, type Server } from "../src/node/net.ts";

/** Lets the event loop run for `ms` while the worker takes no step. */
function eventLoopOnly(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Steps the worker by hand, letting the event loop run between steps, until `done()` (at most 5 s). */
async function drive(worker: Worker, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`still waiting after 5 s:\n${worker.dump()}`);
    while (worker.tick()) if (done()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A raw Node peer: a server that hands each socket to `onSocket`. */
async function rawServer(onSocket: (socket: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, onSocket);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

/** Connects a raw Node socket and waits until it is connected. */
function rawClient(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", ...options }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Everything a raw socket receives, once it has ended. */
function receiveAll(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
    });
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

const echo = routine(function* echo(conn: Connection) {
  for (let line = yield* conn.readLine(); line !== null; line = yield* conn.readLine()) {
    yield* conn.write(`${line}\n`);
  }
});

/** Asks an echo server for one line over a fresh connection. */
const askEcho = routine(function* askEcho(port: number, text: string) {
  const conn = yield* connect({ port });
  try {
    yield* conn.write(`${text}\n`);
    return yield* conn.readLine();
  } finally {
    conn.close();
  }
});

describe("net under faults", () => {
  it("survives a connection reset right after accept, before its task's first step", async () => {
    const worker = new Worker();
    const reported: unknown[] = [];
    const seen: string[] = [];
    let server: Server | undefined;
    worker.assign(
      (function* main() {
        server = yield* listen(
          { port: 0, onError: (error) => reported.push(error) },
          function* handler(conn) {
            seen.push("handler started");
            const line = yield* conn.readLine(); // the first one meets the reset that came before
            yield* conn.write(`${line}\n`);
            seen.push(`answered ${line}`);
          },
        );
        yield suspend();
      })(),
    );
    await drive(worker, () => server !== undefined);
    if (server === undefined) return;

    // The server accepts; the worker takes no step, so the connection's task has not started.
    const accepted = new Promise<net.Socket>((resolve) =>
      server?._server.once("connection", resolve),
    );
    const rude = await rawClient(server.port);
    const socket = await accepted;
    rude.resetAndDestroy();
    await new Promise((resolve) => socket.once("close", resolve)); // the reset has arrived
    assert.deepEqual(seen, [], "the connection's task has not taken a step yet");

    // Now the worker steps: the handler meets the reset, quietly; the server still serves.
    const polite = worker.assign(askEcho(server.port, "still there?"));
    await drive(worker, () => polite.isDone());
    assert.equal(polite.result, "still there?");
    assert.deepEqual(seen, ["handler started", "handler started", "answered still there?"]);
    assert.deepEqual(reported, [], "a reset is the connection's end, not an error to report");
    worker.cancelAll();
    await drive(worker, () => worker.tasks.length === 0);
  });

  it("survives a reset that comes after connect() resolved, before its task's next step", async () => {
    const worker = new Worker({ onError: () => {} });
    // A peer that accepts, and resets a moment later (by then our side has seen the connect).
    const peer = await rawServer((socket) => {
      setTimeout(() => socket.resetAndDestroy(), 20);
    });
    let conn: Connection | undefined;
    const client = worker.assign(
      (function* client() {
        conn = yield* connect({ port: portOf(peer) });
        return yield* conn.read();
      })(),
    );
    // Step until connect() waits; then only the event loop runs: the connect and the reset arrive.
    await drive(worker, () => client.state === "waiting");
    await eventLoopOnly(100);
    assert.equal(conn, undefined, "connect() has not handed the connection over yet");
    await drive(worker, () => client.isDone());
    assert.equal(client.state, "failed");
    assert.equal((client.error as NodeJS.ErrnoException).code, "ECONNRESET");
    await new Promise((resolve) => peer.close(resolve));
  });

  it("keeps the echo server of the docs serving when one client resets mid-conversation", async () => {
    const worker = new Worker();
    const reported: unknown[] = [];
    let answers: (string | null)[] = [];
    worker.assign(
      (function* main() {
        const server = yield* listen({ port: 0, onError: (error) => reported.push(error) }, echo);
        try {
          // A client that says something, then resets while the echo waits for the next line.
          const rude = net.connect({ port: server.port, host: "127.0.0.1" });
          rude.on("error", () => {});
          rude.write("hello\n");
          yield sleep(0.05);
          rude.resetAndDestroy();
          yield sleep(0.05);
          answers = [yield* askEcho(server.port, "one"), yield* askEcho(server.port, "two")];
        } finally {
          server.close();
        }
      })(),
    );
    await worker.run();
    assert.deepEqual(answers, ["one", "two"]);
    assert.deepEqual(reported, []);
  });

  it("gives a handler's own error to onError and keeps serving the other connections", async () => {
    const worker = new Worker();
    const reported: string[] = [];
    const answers: (string | null)[] = [];
    const picky = routine(function* picky(conn: Connection) {
      const line = yield* conn.readLine();
      if (line === "boom") throw new Error("the handler failed");
      yield* conn.write(`${line}\n`);
    });
    worker.assign(
      (function* main() {
        const server = yield* listen(
          { port: 0, onError: (error) => reported.push((error as Error).message) },
          picky,
        );
        try {
          const waiting = yield* connect({ port: server.port }); // a connection that stays open meanwhile
          answers.push(yield* askEcho(server.port, "boom"));
          answers.push(yield* askEcho(server.port, "fine"));
          yield* waiting.write("still here\n");
          answers.push(yield* waiting.readLine());
          waiting.close();
        } finally {
          server.close();
        }
      })(),
    );
    await worker.run();
    assert.deepEqual(answers, [null, "fine", "still here"]);
    assert.deepEqual(reported, ["the handler failed"]);
  });

  it("throws a reset into a handler that waits to write (its peer stopped reading, then reset)", async () => {
    const worker = new Worker();
    let outcome = "";
    worker.assign(
      (function* main() {
        const server = yield* listen({ port: 0 }, function* flood(conn) {
          const chunk = Buffer.alloc(64 * 1024, 120);
          try {
            for (let i = 0; i < 10_000; i++) yield* conn.write(chunk); // 640 MiB: it must wait
            outcome = "wrote everything";
          } catch (error) {
            outcome = (error as NodeJS.ErrnoException).code ?? String(error);
            throw error;
          }
        });
        try {
          const reader = yield* rawClientRoutine(server.port);
          reader.pause(); // reads nothing: the server's writes back up
          yield sleep(0.2);
          reader.resetAndDestroy();
          yield sleep(0.1);
        } finally {
          server.close();
        }
      })(),
    );
    await worker.run();
    assert.ok(["ECONNRESET", "EPIPE"].includes(outcome), `the writer saw ${outcome}`);
  });

  it("delivers what a handler writes after its client has half-closed (sent its end)", async () => {
    const worker = new Worker();
    let server: Server | undefined;
    worker.assign(
      (function* main() {
        server = yield* listen({ port: 0 }, function* summing(conn) {
          // Reads numbers until the client's end, then answers: the client waits for it.
          let sum = 0;
          for (let line = yield* conn.readLine(); line !== null; line = yield* conn.readLine()) {
            sum += Number(line);
          }
          yield sleep(0.02);
          yield* conn.write(`sum ${sum}\n`);
        });
        yield suspend();
      })(),
    );
    const running = worker.run();
    while (server === undefined) await eventLoopOnly(5);
    const client = await rawClient(server.port, { allowHalfOpen: true });
    const reply = receiveAll(client);
    client.end("1\n2\n3\n"); // half-close: done sending, still reading
    assert.equal(await reply, "sum 6\n");
    client.destroy();
    worker.cancelAll();
    await running;
  });

  it("delivers what a connect()ed task writes after its peer has half-closed", async () => {
    const worker = new Worker();
    let received = "";
    // A peer that says hello, ends its side, and keeps reading until our end.
    const peer = await rawServer((socket) => {
      socket.end("hello\n");
      receiveAll(socket).then(
        (text) => {
          received = text;
          socket.destroy();
        },
        () => {},
      );
    });
    worker.assign(
      (function* client() {
        const conn = yield* connect({ port: portOf(peer) });
        try {
          const greeting = yield* conn.readLine();
          assert.equal(yield* conn.readLine(), null, "the peer has ended its side");
          yield sleep(0.02);
          yield* conn.write(`thanks for the ${greeting}\n`);
          conn.end();
          yield sleep(0.05);
        } finally {
          conn.close();
        }
      })(),
    );
    await worker.run();
    assert.equal(received, "thanks for the hello\n");
    await new Promise((resolve) => peer.close(resolve));
  });

  it("throws from write() after the connection's own end(), instead of dropping the bytes", async () => {
    const worker = new Worker();
    let thrown = "";
    worker.assign(
      (function* main() {
        const server = yield* listen({ port: 0 }, function* quiet(conn) {
          yield* conn.read();
        });
        const conn = yield* connect({ port: server.port });
        try {
          conn.end();
          yield* conn.write("too late\n");
        } catch (error) {
          thrown = (error as Error).message;
        } finally {
          conn.close();
          server.close();
        }
      })(),
    );
    await worker.run();
    assert.match(thrown, /end\(\)/);
  });

  it("delivers every byte a handler wrote before it returned, even when the OS buffers were full then", async () => {
    const worker = new Worker();
    let written = 0;
    let server: Server | undefined;
    worker.assign(
      (function* main() {
        server = yield* listen({ port: 0 }, function* sender(conn) {
          // The client reads nothing yet: write until the OS buffers are full and a write has
          // had to wait, then return at once: the connection is closed behind the handler.
          const chunk = Buffer.alloc(10_000, 120);
          let waited = false;
          while (!waited) {
            const before = Date.now();
            yield* conn.write(chunk);
            written += chunk.length;
            waited = conn.socket.writableLength > 0 || Date.now() - before > 50;
          }
        });
        yield suspend();
      })(),
    );
    const running = worker.run();
    while (server === undefined) await eventLoopOnly(5);
    const client = await rawClient(server.port);
    client.pause();
    await eventLoopOnly(300);
    const received = await new Promise<number>((resolve, reject) => {
      let bytes = 0;
      client.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
      });
      client.on("end", () => resolve(bytes));
      client.on("error", reject);
      client.resume();
    });
    client.destroy();
    worker.cancelAll();
    await running;
    assert.ok(written > 100_000, `only ${written} bytes were written`);
    assert.equal(received, written);
  });

  it("says so on stderr and goes on serving when accepting a connection fails (ENFILE, ENOBUFS): no crash, no silence", async (t) => {
    const printed: string[] = [];
    t.mock.method(console, "error", (...parts: unknown[]) => {
      printed.push(parts.map((p) => (p instanceof Error ? p.message : String(p))).join(" "));
    });
    const worker = new Worker();
    let answers: (string | null)[] = [];
    let where = "";
    worker.assign(
      (function* main() {
        const server = yield* listen({ port: 0 }, echo);
        where = `127.0.0.1:${server.port}`;
        try {
          // What Node does when the system refuses an accept (libuv keeps listening): an "error"
          // event on the listening socket, which would kill the process if nobody listened.
          for (const code of ["ENFILE", "ENOBUFS"]) {
            const error = Object.assign(new Error(`accept ${code}`), { code, syscall: "accept" });
            server._server.emit("error", error);
          }
          answers = [yield* askEcho(server.port, "one"), yield* askEcho(server.port, "two")];
        } finally {
          server.close();
        }
      })(),
    );
    await worker.run();
    assert.deepEqual(answers, ["one", "two"]);
    assert.deepEqual(
      printed,
      ["ENFILE", "ENOBUFS"].map(
        (code) =>
          `clockwork net: accepting a connection on ${where} failed (the server goes on): accept ${code}`,
      ),
    );
  });
});

/** connect() for a raw Node socket, as a routine. */
function* rawClientRoutine(port: number): Generator<unknown, net.Socket, any> {
  const socket = (yield rawClient(port)) as net.Socket;
  socket.on("error", () => {});
  return socket;
}
