/**
 * Static files: `serveStatic(root)` from `clockwork-microthreads/http`.
 *
 * Content types, ETag and Last-Modified with 304, Range (206, 416), HEAD,
 * index.html for folders, and no way out of the root: `..`, its
 * percent-encodings, backslashes, NUL bytes and symbolic links that lead
 * outside are all refused. Then what users of serve-static (send) and sirv
 * take for granted, and RFC 9110 and 9112 ask: dotfiles hidden, no
 * redirect to another host, 412 for a failed If-Match or
 * If-Unmodified-Since, If-Range, a Range in an unknown unit ignored,
 * absolute-form targets, a missing root said once. Requests go to
 * 127.0.0.1 as raw HTTP, so that no client tidies the attacks up before
 * they arrive.
 */
import assert from "node:assert/strict";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type HttpServer, type StaticOptions, serveStatic } from "../src/node/http.ts";
import { suiteServer, withServer } from "./support.ts";

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
  mkdirSync(join(root, "types"));
  const types: Record<string, string> = {
    "photo.avif": "image/avif",
    "font.ttf": "font/ttf",
    "font.otf": "font/otf",
    "app.webmanifest": "application/manifest+json; charset=utf-8",
    "module.wasm": "application/wasm",
    "module.mjs": "text/javascript; charset=utf-8",
    "script.js": "text/javascript; charset=utf-8",
    "clip.mp4": "video/mp4",
    "song.MP3": "audio/mpeg",
    "data.json": "application/json; charset=utf-8",
    "app.js.map": "application/json; charset=utf-8",
    "page.html": "text/html; charset=utf-8",
    "notes.md": "text/markdown; charset=utf-8",
    "image.jxl": "image/jxl",
    "track.vtt": "text/vtt; charset=utf-8",
    "feed.xml": "text/xml; charset=utf-8",
    "archive.zip": "application/zip",
    "setup.exe": "application/x-msdownload",
    "mystery.unknown-extension": "application/octet-stream",
    "no-extension": "application/octet-stream",
  };
  for (const name of Object.keys(types)) writeFileSync(join(root, "types", name), "x");

  const server = suiteServer(() => serveStatic(root));
  const { errors } = server;

  after(() => {
    assert.equal(server.task().state, "done");
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

  it("gives content types from a complete table (mime-db's, generated into src/node/content-types.ts), application/octet-stream for an unknown extension", async () => {
    for (const [name, type] of Object.entries(types)) {
      const reply = await request(server.port, `/types/${name}`);
      assert.equal(reply.headers["content-type"], type, name);
    }
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

  it("closes every file it opens: small files, a large one, 304, HEAD, ranges, 416, folders, 404 and refusals, compressed or not", async () => {
    // The process's open descriptors (Linux's /proc/self/fd), before and after: files however
    // they are opened (fs/promises, a path's stream, readFile), and sockets (each request here
    // has a connection of its own, closed when it ends).
    const descriptors = () => readdirSync("/proc/self/fd").length;
    const before = descriptors();
    for (let round = 0; round < 5; round++) {
      // A new version of a file each round: nothing is served from what was kept of the last.
      writeFileSync(join(root, "round.txt"), `round ${round} `.repeat(200));
      utimesSync(join(root, "round.txt"), new Date(), new Date(Date.now() + round * 1000));
      const hello = await request(server.port, "/hello.txt");
      await request(server.port, "/hello.txt", { "if-none-match": hello.headers.etag ?? "" });
      await request(server.port, "/hello.txt", {}, "HEAD");
      await request(server.port, "/hello.txt", { range: "bytes=2-4" });
      await request(server.port, "/hello.txt", { range: "bytes=50-60" });
      await request(server.port, "/big.bin", { range: "bytes=0-199999" });
      await request(server.port, "/big.bin", { range: "bytes=100-199" });
      await request(server.port, "/round.txt", { "accept-encoding": "br" });
      await request(server.port, "/round.txt", { "accept-encoding": "gzip" });
      await request(server.port, "/round.txt", { range: "bytes=0-9" });
      await request(server.port, "/docs");
      await request(server.port, "/docs/");
      await request(server.port, "/missing.txt");
      await request(server.port, "/leak.txt");
    }
    // A close finishes in the thread pool; a stream closes its file once it has ended.
    for (let wait = 0; wait < 100 && descriptors() > before; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(descriptors(), before, "every descriptor opened was closed");
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

/**
 * A request written by hand on a socket (for what no client sends: a
 * target in absolute form, a path that starts with "//"), which should ask
 * for "Connection: close"; gives the status and the headers and body of
 * the answer, read until the server closes.
 */
function rawRequest(port: number, text: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" }, () => socket.write(text));
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const answer = Buffer.concat(chunks).toString("latin1");
      const split = answer.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = answer.slice(0, split).split("\r\n");
      const headers: http.IncomingHttpHeaders = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body: answer.slice(split + 4) });
    });
  });
}

/** A GET written by hand, with the target exactly as given. */
const GET = (target: string, host = "x") =>
  `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

/**
 * Runs `body` against a server of `serveStatic(root, options)`, then closes
 * it; gives the errors onError got and what was printed with console.warn.
 */
async function withStatic(
  root: string,
  options: StaticOptions,
  body: (server: HttpServer) => Promise<void>,
): Promise<{ errors: unknown[]; warned: string[] }> {
  const errors: unknown[] = [];
  const warned: string[] = [];
  const realWarn = console.warn;
  console.warn = (...args: unknown[]) => warned.push(args.join(" "));
  try {
    await withServer(serveStatic(root, options), body, {
      onError: (error) => errors.push(error),
    });
  } finally {
    console.warn = realWarn;
  }
  return { errors, warned };
}

describe("serveStatic, as users of serve-static (send) and sirv expect it", () => {
  const root = mkdtempSync(join(tmpdir(), "clockwork-static-rules-"));
  mkdirSync(join(root, "users"));
  mkdirSync(join(root, ".git"));
  mkdirSync(join(root, "sub"));
  mkdirSync(join(root, ".well-known"));
  writeFileSync(join(root, "users", "index.html"), "<h1>users</h1>");
  writeFileSync(join(root, "hello.txt"), "0123456789");
  writeFileSync(join(root, "page.html"), "<p>page</p>");
  writeFileSync(join(root, ".env"), "SECRET=1");
  writeFileSync(join(root, ".git", "config"), "[core]");
  writeFileSync(join(root, "sub", ".hidden"), "hidden");
  writeFileSync(join(root, ".well-known", "security.txt"), "Contact: mailto:x@example.com");
  // A known modification time, one second exactly: HTTP dates have no finer grain.
  const modified = new Date("2024-03-01T12:00:00Z");
  utimesSync(join(root, "hello.txt"), modified, modified);
  const lastModified = modified.toUTCString();
  const before = new Date(modified.getTime() - 60_000).toUTCString();
  const later = new Date(modified.getTime() + 60_000).toUTCString();

  it("collapses leading slashes when it adds a folder's slash: //users goes to /users/, not to the host 'users'", async () => {
    await withStatic(root, {}, async (server) => {
      for (const [path, location] of [
        ["//users", "/users/"],
        ["///users?tab=1", "/users/?tab=1"],
        ["/users", "/users/"],
      ] as const) {
        const reply = await rawRequest(server.port, GET(path));
        assert.equal(reply.status, 301, path);
        assert.equal(reply.headers.location, location, path);
      }
    });
  });

  it("hides dotfiles by default (404), and answers 403 with dotfiles: 'deny' or serves them with 'allow'; /.well-known/ is served", async () => {
    const hidden = ["/.env", "/.git/config", "/%2eenv", "/sub/.hidden", "/.git/"];
    const { errors } = await withStatic(root, {}, async (server) => {
      for (const path of hidden) {
        const reply = await request(server.port, path);
        assert.equal(reply.status, 404, path);
        assert.ok(!reply.body.includes("SECRET"), path);
      }
      const known = await request(server.port, "/.well-known/security.txt");
      assert.equal(known.status, 200);
      assert.equal((await request(server.port, "/hello.txt")).status, 200);
    });
    assert.deepEqual(errors, []);
    await withStatic(root, { dotfiles: "deny" }, async (server) => {
      for (const path of hidden) assert.equal((await request(server.port, path)).status, 403, path);
      assert.equal((await request(server.port, "/.well-known/security.txt")).status, 200);
    });
    await withStatic(root, { dotfiles: "allow" }, async (server) => {
      assert.equal((await request(server.port, "/.env")).body, "SECRET=1");
      assert.equal((await request(server.port, "/sub/.hidden")).body, "hidden");
      assert.equal((await request(server.port, "/.git/config")).status, 200);
    });
    assert.throws(
      () => serveStatic(root, { dotfiles: "show" as "allow" }),
      /option "dotfiles" expects "allow", "deny" or "ignore", got "show"/,
    );
  });

  it("answers 412 when If-Match or If-Unmodified-Since fails (RFC 9110 13.1.1, 13.1.4), and evaluates them before If-None-Match", async () => {
    await withStatic(root, {}, async (server) => {
      const { etag } = (await request(server.port, "/hello.txt")).headers;
      const status = async (headers: http.OutgoingHttpHeaders) =>
        (await request(server.port, "/hello.txt", headers)).status;
      assert.equal(await status({ "if-match": "*" }), 200);
      assert.equal(await status({ "if-match": '"other"' }), 412);
      // If-Match compares strongly, and the ETag is weak: it never matches.
      assert.equal(await status({ "if-match": String(etag) }), 412);
      assert.equal(await status({ "if-unmodified-since": before }), 412);
      assert.equal(await status({ "if-unmodified-since": lastModified }), 200);
      assert.equal(await status({ "if-unmodified-since": later }), 200);
      assert.equal(await status({ "if-unmodified-since": "not a date" }), 200, "ignored");
      // If-Match wins over If-Unmodified-Since; a 412 over a 304.
      assert.equal(await status({ "if-match": "*", "if-unmodified-since": before }), 200);
      assert.equal(await status({ "if-match": '"other"', "if-none-match": String(etag) }), 412);
      assert.equal(await status({ "if-match": "*", "if-none-match": String(etag) }), 304);
      const failed = await request(server.port, "/hello.txt", { "if-match": '"other"' }, "HEAD");
      assert.equal(failed.status, 412);
    });
  });

  it("gives the range when If-Range is the file's Last-Modified date, and the whole file when it is not (RFC 9110 13.1.5)", async () => {
    await withStatic(root, {}, async (server) => {
      const { etag } = (await request(server.port, "/hello.txt")).headers;
      const ranged = (ifRange: string) =>
        request(server.port, "/hello.txt", { range: "bytes=2-4", "if-range": ifRange });
      const same = await ranged(lastModified);
      assert.equal(same.status, 206);
      assert.equal(same.body, "234");
      const stale = await ranged(before);
      assert.equal(stale.status, 200);
      assert.equal(stale.body, "0123456789");
      assert.equal((await ranged(later)).status, 200, "only the exact date");
      assert.equal((await ranged(String(etag))).status, 200, "a weak tag never matches");
    });
  });

  it("ignores a Range in a unit it does not know (200, the whole file), not 416; the unit's name is case-insensitive", async () => {
    await withStatic(root, {}, async (server) => {
      const items = await request(server.port, "/hello.txt", { range: "items=0-1" });
      assert.equal(items.status, 200);
      assert.equal(items.body, "0123456789");
      const upper = await request(server.port, "/hello.txt", { range: "Bytes=0-1" });
      assert.equal(upper.status, 206);
      assert.equal(upper.body, "01");
      assert.equal(
        (await request(server.port, "/hello.txt", { range: "bytes=20-30" })).status,
        416,
      );
    });
  });

  it("answers 404 for a file named as a folder (/page.html/)", async () => {
    await withStatic(root, {}, async (server) => {
      assert.equal((await request(server.port, "/page.html/")).status, 404);
      assert.equal((await request(server.port, "/page.html")).status, 200);
      assert.equal((await request(server.port, "/users/")).status, 200);
    });
  });

  it("accepts a request target in absolute form (RFC 9112 3.2.2), whatever the Host header says", async () => {
    await withStatic(root, {}, async (server) => {
      const target = `http://127.0.0.1:${server.port}/hello.txt?v=1`;
      const reply = await rawRequest(server.port, GET(target, "elsewhere"));
      assert.equal(reply.status, 200);
      assert.equal(reply.body, "0123456789");
      const home = await rawRequest(server.port, GET("http://x"));
      assert.equal(home.status, 404, "the root folder has no index.html: a 404, served as /");
      const folder = await rawRequest(server.port, GET("http://x/users"));
      assert.equal(folder.headers.location, "/users/");
    });
  });

  it("answers 404 when its root does not exist, says so once (not an onError per request), and serves the root once it exists", async () => {
    const missing = join(mkdtempSync(join(tmpdir(), "clockwork-static-none-")), "public");
    const { errors, warned } = await withStatic(missing, {}, async (server) => {
      assert.equal((await request(server.port, "/hello.txt")).status, 404);
      assert.equal((await request(server.port, "/")).status, 404);
      mkdirSync(missing);
      writeFileSync(join(missing, "hello.txt"), "here now");
      assert.equal((await request(server.port, "/hello.txt")).body, "here now");
    });
    assert.deepEqual(errors, []);
    assert.equal(warned.length, 1, warned.join("\n"));
    assert.match(warned[0] ?? "", /root folder .*public does not exist/);
  });
});

describe("serveStatic: several roots, and files that change", () => {
  const top = mkdtempSync(join(tmpdir(), "clockwork-static-roots-"));
  const first = join(top, "first");
  const second = join(top, "second");
  mkdirSync(first);
  mkdirSync(join(second, "docs"), { recursive: true });
  writeFileSync(join(first, "both.txt"), "from the first root");
  writeFileSync(join(second, "both.txt"), "from the second root");
  writeFileSync(join(second, "only-second.txt"), "only in the second root");
  writeFileSync(join(second, "docs", "index.html"), "<h1>second docs</h1>");

  const server = suiteServer(() => serveStatic([first, second]));
  const { errors } = server;

  after(() => {
    assert.deepEqual(errors, [], "no handler reported an error");
  });

  it("serves a file from the first root that has it, a folder's index too, and 404 when none has it", async () => {
    assert.equal((await request(server.port, "/both.txt")).body, "from the first root");
    assert.equal((await request(server.port, "/only-second.txt")).body, "only in the second root");
    assert.equal((await request(server.port, "/docs/")).body, "<h1>second docs</h1>");
    assert.equal((await request(server.port, "/docs")).status, 301);
    assert.equal((await request(server.port, "/in-neither.txt")).status, 404);
  });

  it("serves a file new as soon as it changes (even to the same size), and one that appears, though what it knew of it is kept", async () => {
    const file = join(first, "changing.txt");
    writeFileSync(file, "version 1");
    const one = await request(server.port, "/changing.txt");
    assert.equal(one.body, "version 1");
    assert.equal((await request(server.port, "/changing.txt")).body, "version 1");
    writeFileSync(file, "version 2"); // the same size: only the time of change tells
    utimesSync(file, new Date(), new Date(Date.now() + 2000));
    const two = await request(server.port, "/changing.txt");
    assert.equal(two.body, "version 2");
    assert.notEqual(two.headers.etag, one.headers.etag);
    // A file that appears in the first root now hides the second root's.
    assert.equal((await request(server.port, "/only-second.txt")).body, "only in the second root");
    writeFileSync(join(first, "only-second.txt"), "now in the first too");
    assert.equal((await request(server.port, "/only-second.txt")).body, "now in the first too");
  });

  it("refuses a root list that is empty or holds anything but folder names, saying what it expected", () => {
    assert.throws(() => serveStatic([]), /expects a root folder or a list of them, got \[\]/);
    assert.throws(() => serveStatic([first, ""]), /got \[".*",""\]/);
  });
});
