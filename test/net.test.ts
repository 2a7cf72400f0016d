/**
 * TCP sockets: `clockwork-microthreads/net`.
 *
 * The original library left asynchronous sockets as a TODO ("when I need
 * this, I just leave the HTTP request to a child process"). Here each
 * connection is a task that reads and writes as if it blocked. Servers
 * listen on 127.0.0.1 and port 0 (a free port); every test is bounded.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { describe, it } from "node:test";
import { all, routine, sleep, timeout, Worker } from "../src/index.ts";
import { type Connection, connect, listen } from "../src/node/net.ts";

const echo = routine(function* echo(conn: Connection) {
  for (let line = yield* conn.readLine(); line !== null; line = yield* conn.readLine()) {
    yield* conn.write(`${line}\n`);
  }
});

describe("net", () => {
  it("serves an echo protocol to 1,000 concurrent clients", async () => {
    const worker = new Worker();
    const client = routine(function* client(port: number, i: number) {
      const conn = yield* connect({ port });
      try {
        yield* conn.write(`hello ${i}\nbye ${i}\n`);
        const first = yield* conn.readLine();
        const second = yield* conn.readLine();
        return `${first}|${second}`;
      } finally {
        conn.close();
      }
    });
    function* main() {
      const server = yield* listen({ host: "127.0.0.1", port: 0 }, echo);
      try {
        const replies = yield* all(Array.from({ length: 1000 }, (_, i) => client(server.port, i)));
        return replies;
      } finally {
        server.close();
      }
    }
    const task = worker.assign(main());
    await worker.run();
    const replies = task.result as string[];
    assert.equal(replies.length, 1000);
    for (const [i, reply] of replies.entries()) assert.equal(reply, `hello ${i}|bye ${i}`);
  });

  it("reads exactly n bytes, and whatever arrived, and null at the end", async () => {
    const worker = new Worker();
    function* main() {
      const server = yield* listen({ port: 0 }, function* sender(conn) {
        yield* conn.write("HEADbody and more");
        conn.end();
      });
      const conn = yield* connect({ port: server.port });
      const head = Buffer.from(yield* conn.readExactly(4)).toString();
      const chunks: string[] = [];
      for (let chunk = yield* conn.read(); chunk !== null; chunk = yield* conn.read()) {
        chunks.push(Buffer.from(chunk).toString());
      }
      server.close();
      return [head, chunks.join("")];
    }
    const task = worker.assign(main());
    await worker.run();
    assert.deepEqual(task.result, ["HEAD", "body and more"]);
  });

  it("reads exactly n bytes past the 64 KiB at which reading pauses (1 MiB in one readExactly)", async () => {
    const worker = new Worker();
    const size = 1024 * 1024;
    let got = -1;
    function* main() {
      const server = yield* listen({ port: 0 }, function* sender(conn) {
        yield* conn.write(Buffer.alloc(size, 7));
        yield* conn.read(); // until the client has read it all and closed
      });
      const conn = yield* connect({ port: server.port });
      try {
        const data = yield* timeout(2, conn.readExactly(size));
        got = data.length;
      } finally {
        conn.close();
        server.close();
      }
    }
    worker.assign(main());
    await worker.run();
    assert.equal(got, size);
  });

  it("reads a line longer than the 64 KiB at which reading pauses, when maxLength allows it", async () => {
    const worker = new Worker();
    let got = -1;
    function* main() {
      const server = yield* listen({ port: 0 }, function* sender(conn) {
        yield* conn.write(`${"a".repeat(100_000)}\n`);
        yield* conn.read();
      });
      const conn = yield* connect({ port: server.port });
      try {
        const line = yield* timeout(2, conn.readLine({ maxLength: 200_000 }));
        got = line?.length ?? -1;
      } finally {
        conn.close();
        server.close();
      }
    }
    worker.assign(main());
    await worker.run();
    assert.equal(got, 100_000);
  });

  it("refuses a line that does not fit in maxLength together with its newline (as Go's bufio.Scanner), however it arrives", async () => {
    const worker = new Worker();
    const outcomes: string[] = [];
    function* main() {
      for (const length of [64 * 1024 - 1, 64 * 1024, 100_000]) {
        const server = yield* listen({ port: 0 }, function* sender(conn) {
          yield* conn.write(`${"b".repeat(length)}\nnext\n`);
          yield* conn.read();
        });
        const conn = yield* connect({ port: server.port });
        try {
          const line = yield* timeout(2, conn.readLine()); // maxLength: 64 KiB
          outcomes.push(`a line of ${line?.length}`);
        } catch (error) {
          outcomes.push((error as Error).message);
        } finally {
          conn.close();
          server.close();
        }
      }
    }
    worker.assign(main());
    await worker.run();
    const tooLong = "readLine(): a line does not fit in maxLength (65536 bytes) with its newline";
    assert.deepEqual(outcomes, ["a line of 65535", tooLong, tooLong]);
  });

  it("makes a fast writer wait for a slow reader (back-pressure), with bounded memory", async () => {
    const worker = new Worker();
    const chunk = Buffer.alloc(64 * 1024, 120);
    const total = 200; // 12.5 MiB
    let written = 0;
    let maxAhead = 0;
    let read = 0;
    function* main() {
      const server = yield* listen({ port: 0 }, function* writer(conn) {
        for (let i = 0; i < total; i++) {
          yield* conn.write(chunk);
          written += chunk.length;
          maxAhead = Math.max(maxAhead, written - read);
        }
        conn.end();
      });
      const conn = yield* connect({ port: server.port });
      for (let data = yield* conn.read(); data !== null; data = yield* conn.read()) {
        read += data.length;
        yield sleep(0.0005); // a slow reader
      }
      server.close();
    }
    worker.assign(main());
    await worker.run();
    assert.equal(read, chunk.length * total);
    // Without back-pressure the writer would be all 12.5 MiB ahead; socket buffers allow a few MiB.
    assert.ok(maxAhead < 8 * 1024 * 1024, `the writer got ${maxAhead} bytes ahead of the reader`);
  });

  it("throws a peer reset into the reading task without disturbing other connections", async () => {
    const worker = new Worker({ onError: () => {} });
    const outcomes: string[] = [];
    function* main() {
      const server = yield* listen({ port: 0 }, function* handler(conn) {
        try {
          const line = yield* conn.readLine();
          if (line === "reset me") {
            yield* conn.readLine(); // the client resets the connection while this waits
          } else {
            yield* conn.write(`ok ${line}\n`);
          }
        } catch (error) {
          outcomes.push(`server saw ${(error as NodeJS.ErrnoException).code}`);
        }
      });
      const rude = net.connect({ port: server.port, host: "127.0.0.1" });
      rude.write("reset me\n");
      yield sleep(0.05);
      rude.resetAndDestroy();
      const polite = yield* connect({ port: server.port });
      yield* polite.write("fine\n");
      outcomes.push(`client got ${yield* polite.readLine()}`);
      polite.close();
      yield sleep(0.05);
      server.close();
    }
    worker.assign(main());
    await worker.run();
    assert.deepEqual(outcomes.sort(), ["client got ok fine", "server saw ECONNRESET"]);
  });

  it("closes the server and cancels its connections when the listening task is cancelled, leaving no handle", async () => {
    const worker = new Worker();
    const cleanups: string[] = [];
    let port = 0;
    function* main() {
      const server = yield* listen({ port: 0 }, function* idle(conn) {
        try {
          yield* conn.readLine(); // waits forever
        } finally {
          cleanups.push("connection cleaned up");
        }
      });
      port = server.port;
      const clients = [yield* connect({ port }), yield* connect({ port })];
      yield sleep(0.05);
      return clients;
    }
    const task = worker.assign(main());
    const canceller = spawnLater(worker, () => task.cancel());
    await worker.run();
    assert.equal(canceller.state, "done");
    assert.deepEqual(cleanups, ["connection cleaned up", "connection cleaned up"]);
    // The port is free again: nothing listens there any more.
    await assert.rejects(
      new Promise((resolve, reject) => {
        const probe = net.connect({ port, host: "127.0.0.1" }, () => {
          probe.destroy();
          resolve("connected");
        });
        probe.on("error", reject);
      }),
      /ECONNREFUSED/,
    );
  });

  it("throws ECONNREFUSED from connect() when nothing listens", async () => {
    const worker = new Worker({ onError: () => {} });
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const task = worker.assign(connect({ port }));
    await worker.run();
    assert.equal((task.error as NodeJS.ErrnoException).code, "ECONNREFUSED");
  });
});

/** A top-level task that runs `fn` after 100 ms of real time. */
function spawnLater(worker: Worker, fn: () => void) {
  return worker.assign(
    (function* later() {
      yield sleep(0.1);
      fn();
    })(),
  );
}
