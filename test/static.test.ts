/**
 * Static files: `serveStatic(root)` from `clockwork-microthreads/http`.
 *
 * Content types, ETag and Last-Modified with 304, Range (206, 416), HEAD,
 * index.html for folders, and no way out of the root: `..`, its
 * percent-encodings, backslashes, NUL bytes and symbolic links that lead
 * outside are all refused. Requests go to 127.0.0.1 as raw HTTP, so that
 * no client tidies the attacks up before they arrive.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import fsPromises, { type FileHandle } from "node:fs/promises";
import * as http from "node:http";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { call, type Task, Worker } from "../src/index.ts";
import { type HttpServer, serve, serveStatic } from "../src/node/http.ts";

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request: the path is sent exactly as given. */
function request(
  port: number,
  path: string,
  headers: http.OutgoingHttpHeaders = {},
  method = "GET",
) {
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method, headers, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("serveStatic", () => {
  const top = mkdtempSync(join(tmpdir(), "clockwork-static-"));
  const root = join(top, "public");
  mkdirSync(join(root, "docs"), { recursive: true });
  writeFileSync(join(root, "index.html"), "<h1>home</h1>");
  writeFileSync(join(root, "hello.txt"), "0123456789");
  writeFileSync(join(root, "docs", "index.html"), "<h1>docs</h1>");
  writeFileSync(join(root, "style.css"), "body{}");
  writeFileSync(join(root, "big.bin"), Buffer.alloc(16 * 1024 * 1024, 7));
  writeFileSync(join(top, "secret.txt"), "top secret");
  symlinkSync(join(top, "secret.txt"), join(root, "leak.txt"));
  symlinkSync(join(root, "hello.txt"), join(root, "alias.txt"));

  const worker = new Worker();
  let server: HttpServer;
  let task: Task<unknown>;
  let stop: () => void = () => {};
  let running: Promise<void>;
  const errors: unknown[] = [];

  before(async () => {
    const ready = new Promise<void>((resolve) => {
      task = worker.assign(
        (function* main() {
          server = yield* serve(
            { port: 0, onError: (error) => errors.push(error) },
            serveStatic(root),
          );
          resolve();
          yield* call(new Promise<void>((done) => (stop = done)));
          yield* server.close();
        })(),
      );
    });
    running = worker.run();
    await ready;
  });

  after(async () => {
    stop();
    await running;
    assert.equal(task.state, "done");
    assert.deepEqual(errors, [], "no handler reported an error");
  });

  it("serves a file with its content type, ETag and Last-Modified", async () => {
    const reply = await request(server.port, "/hello.txt");
    assert.equal(reply.status, 200);
    assert.equal(reply.body, "0123456789");
    assert.equal(reply.headers["content-type"], "text/plain; charset=utf-8");
    assert.match(String(reply.headers.etag), /^W\/"/);
    assert.ok(reply.headers["last-modified"]);
    const css = await request(server.port, "/style.css");
    assert.equal(css.headers["content-type"], "text/css; charset=utf-8");
  });

  it("answers 304 to a matching If-None-Match or a fresh If-Modified-Since", async () => {
    const first = await request(server.port, "/hello.txt");
    const byTag = await request(server.port, "/hello.txt", {
      "if-none-match": String(first.headers.etag),
    });
    assert.equal(byTag.status, 304);
    assert.equal(byTag.body, "");
    const byDate = await request(server.port, "/hello.txt", {
      "if-modified-since": String(first.headers["last-modified"]),
    });
    assert.equal(byDate.status, 304);
    const stale = await request(server.port, "/hello.txt", { "if-none-match": '"other"' });
    assert.equal(stale.status, 200);
  });

  it("serves ranges (206) and refuses unsatisfiable ones (416)", async () => {
    const part = await request(server.port, "/hello.txt", { range: "bytes=2-5" });
    assert.equal(part.status, 206);
    assert.equal(part.body, "2345");
    assert.equal(part.headers["content-range"], "bytes 2-5/10");
    const suffix = await request(server.port, "/hello.txt", { range: "bytes=-3" });
    assert.equal(suffix.body, "789");
    const beyond = await request(server.port, "/hello.txt", { range: "bytes=20-30" });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers["content-range"], "bytes */10");
  });

  it("answers HEAD with the headers only", async () => {
    const head = await request(server.port, "/hello.txt", {}, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-length"], "10");
    assert.equal(head.body, "");
  });

  it("serves index.html for folders, redirecting to the trailing slash", async () => {
    assert.equal((await request(server.port, "/")).body, "<h1>home</h1>");
    assert.equal((await request(server.port, "/docs/")).body, "<h1>docs</h1>");
    const redirect = await request(server.port, "/docs");
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, "/docs/");
  });

  it("answers 404 for a missing file and 405 for other methods", async () => {
    assert.equal((await request(server.port, "/nothing.txt")).status, 404);
    assert.equal((await request(server.port, "/hello.txt", {}, "POST")).status, 405);
  });

  it("lets a client leave in the middle of a large file: no error, the task ends, the server goes on", async () => {
    const servedBefore = server.served;
    await new Promise<void>((resolve, reject) => {
      const req = http.get(
        { host: "127.0.0.1", port: server.port, path: "/big.bin", agent: false },
        (res) => {
          assert.equal(res.statusCode, 200);
          res.once("data", () => {
            // A first chunk of 16 MiB arrived: hang up.
            req.destroy();
            resolve();
          });
        },
      );
      req.on("error", (error) => {
        if ((error as { code?: string }).code !== "ECONNRESET") reject(error);
      });
    });
    for (let i = 0; i < 100 && server.served === servedBefore; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(server.served, servedBefore + 1, "the request's task ended");
    assert.equal((await request(server.port, "/hello.txt")).body, "0123456789");
  });

  it("closes every file it opens: small files, a large one, 304, HEAD, ranges, 416, folders, 404 and refusals", async () => {
    // Every FileHandle that fs/promises opens is counted until it is closed (the handler's
    // import sees the wrapper once the built-in module's exports are synced).
    const realOpen = fsPromises.open;
    const open = new Set<FileHandle>();
    let opened = 0;
    fsPromises.open = (async (...args: Parameters<typeof realOpen>) => {
      const handle = await realOpen(...args);
      opened++;
      open.add(handle);
      const close = handle.close.bind(handle);
      handle.close = () => {
        open.delete(handle);
        return close();
      };
      return handle;
    }) as typeof realOpen;
    syncBuiltinESMExports();
    try {
      for (let round = 0; round < 5; round++) {
        const hello = await request(server.port, "/hello.txt");
        await request(server.port, "/hello.txt", { "if-none-match": hello.headers.etag ?? "" });
        await request(server.port, "/hello.txt", {}, "HEAD");
        await request(server.port, "/hello.txt", { range: "bytes=2-4" });
        await request(server.port, "/hello.txt", { range: "bytes=50-60" });
        await request(server.port, "/big.bin", { range: "bytes=0-199999" });
        await request(server.port, "/docs");
        await request(server.port, "/docs/");
        await request(server.port, "/missing.txt");
        await request(server.port, "/leak.txt");
      }
      // A close finishes in the thread pool; a stream closes its file once it has ended.
      for (let wait = 0; wait < 50 && open.size > 0; wait++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok(opened >= 40, `only ${opened} files were opened: the wrapper was not used`);
      assert.equal(open.size, 0, `${open.size} of ${opened} files left open`);
    } finally {
      fsPromises.open = realOpen;
      syncBuiltinESMExports();
    }
  });

  it("follows symbolic links that stay inside the root", async () => {
    assert.equal((await request(server.port, "/alias.txt")).body, "0123456789");
  });

  for (const attack of [
    "/../secret.txt",
    "/docs/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/..%2fsecret.txt",
    "/..%5csecret.txt",
    "/..\\secret.txt",
    "/hello.txt%00.html",
    "/leak.txt",
  ]) {
    it(`refuses ${JSON.stringify(attack)}`, async () => {
      const reply = await request(server.port, attack);
      assert.ok([400, 403, 404].includes(reply.status), `status ${reply.status}`);
      assert.ok(!reply.body.includes("top secret"), "the secret did not leak");
    });
  }
});
