/**
 * Compression in serveStatic: a file with a precompressed sibling
 * (`app.js.br`, `app.js.gz`) is answered with it when the client's
 * Accept-Encoding takes that encoding; a compressible file without one is
 * compressed once and kept; never a Range, never a type compressed
 * already, never a tiny file. Each encoding has its own ETag and
 * Content-Length, and every answer that could have been another encoding
 * says `Vary: Accept-Encoding`. Requests go through node:http's client,
 * which (unlike fetch) hands over the bytes as they came, not decoded.
 */
import assert from "node:assert/strict";
import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  gunzipSync,
  gzipSync,
} from "node:zlib";
import { serveStatic } from "../src/node/http.ts";
import { suiteServer } from "./support.ts";

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A GET (or HEAD) whose body comes back as the bytes sent, compressed or not. */
function request(
  port: number,
  path: string,
  headers: http.OutgoingHttpHeaders = {},
  method = "GET",
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Some JavaScript, as compressible as a real bundle. */
function script(lines: number): string {
  let text = "";
  for (let i = 0; i < lines; i++) text += `export function f${i}(a, b) { return a * ${i} + b; }\n`;
  return text;
}

const root = mkdtempSync(join(tmpdir(), "clockwork-compress-"));
const appJs = script(2000); // ~110 KB
writeFileSync(join(root, "app.js"), appJs);
// The siblings a build writes: gzip made on purpose at level 1, so that it is told from ours (9).
const appBr = brotliCompressSync(appJs);
const appGz = gzipSync(appJs, { level: 1 });
writeFileSync(join(root, "app.js.br"), appBr);
writeFileSync(join(root, "app.js.gz"), appGz);
const styleCss = "body { margin: 0; padding: 0; color: #333; }\n".repeat(100); // no sibling
writeFileSync(join(root, "style.css"), styleCss);
writeFileSync(join(root, "tiny.css"), "body{}");
writeFileSync(join(root, "photo.png"), Buffer.alloc(8192, 1));
const oldJs = script(100);
writeFileSync(join(root, "old.js"), oldJs);
writeFileSync(join(root, "old.js.br"), brotliCompressSync("something else entirely"));
// The sibling is older than its file: left over from an earlier build, so not served.
utimesSync(join(root, "old.js.br"), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));

describe("serveStatic: compression", () => {
  const server = suiteServer(() => serveStatic(root));

  it("serves a precompressed .br sibling to a client that takes br, with its own length and ETag, and Vary", async () => {
    const reply = await request(server.port, "/app.js", {
      "accept-encoding": "gzip, deflate, br",
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers["content-encoding"], "br");
    assert.equal(reply.headers.vary, "Accept-Encoding");
    assert.equal(reply.headers["content-type"], "text/javascript; charset=utf-8");
    assert.equal(reply.headers["content-length"], String(appBr.length));
    assert.deepEqual(reply.body, appBr, "the sibling's bytes, as they are on disk");
    const plain = await request(server.port, "/app.js");
    assert.equal(plain.headers["content-encoding"], undefined);
    assert.equal(plain.headers.vary, "Accept-Encoding");
    assert.equal(plain.body.toString(), appJs);
    assert.notEqual(reply.headers.etag, plain.headers.etag, "one ETag per encoding");
  });

  it("serves the .gz sibling to a client that takes gzip only (or prefers it by q-value)", async () => {
    for (const accept of ["gzip", "x-gzip", "br;q=0.5, gzip", "gzip;q=1, br;q=0.9"]) {
      const reply = await request(server.port, "/app.js", { "accept-encoding": accept });
      assert.equal(reply.headers["content-encoding"], "gzip", accept);
      assert.deepEqual(reply.body, appGz, accept);
    }
  });

  it("reads Accept-Encoding's q-values: q=0 refuses, * stands for the codings not named, identity alone gets the file as it is", async () => {
    const encodingOf = async (accept: string) =>
      (await request(server.port, "/app.js", { "accept-encoding": accept })).headers[
        "content-encoding"
      ];
    assert.equal(await encodingOf("br;q=0, gzip;q=0"), undefined);
    assert.equal(await encodingOf("br;q=0"), undefined, "gzip not named and no *");
    assert.equal(await encodingOf("br;q=0, *"), "gzip");
    assert.equal(await encodingOf("*"), "br");
    assert.equal(await encodingOf("identity"), undefined);
    assert.equal(await encodingOf("BR"), "br", "coding names are case-insensitive");
  });

  it("compresses a compressible file that has no sibling once (brotli at its best), and keeps it", async () => {
    const first = await request(server.port, "/style.css", { "accept-encoding": "br" });
    assert.equal(first.headers["content-encoding"], "br");
    assert.equal(first.headers.vary, "Accept-Encoding");
    assert.equal(brotliDecompressSync(first.body).toString(), styleCss);
    assert.equal(first.headers["content-length"], String(first.body.length));
    const best = brotliCompressSync(styleCss, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
    assert.ok(first.body.length <= best.length * 1.05, `${first.body.length} vs ${best.length}`);
    const second = await request(server.port, "/style.css", { "accept-encoding": "br" });
    assert.deepEqual(second.body, first.body);
    assert.equal(second.headers.etag, first.headers.etag);
    const gz = await request(server.port, "/style.css", { "accept-encoding": "gzip" });
    assert.equal(gz.headers["content-encoding"], "gzip");
    assert.equal(gunzipSync(gz.body).toString(), styleCss);
    assert.notEqual(gz.headers.etag, first.headers.etag);
  });

  it("never compresses a Range request: the range is of the file as it is", async () => {
    const part = await request(server.port, "/app.js", {
      "accept-encoding": "br, gzip",
      range: "bytes=0-99",
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers["content-encoding"], undefined);
    assert.equal(part.body.toString(), appJs.slice(0, 100));
    assert.equal(part.headers["content-range"], `bytes 0-99/${Buffer.byteLength(appJs)}`);
  });

  it("never compresses a type compressed already (an image) or a tiny file, and says no Vary for them", async () => {
    for (const path of ["/photo.png", "/tiny.css"]) {
      const reply = await request(server.port, path, { "accept-encoding": "br, gzip" });
      assert.equal(reply.status, 200, path);
      assert.equal(reply.headers["content-encoding"], undefined, path);
      assert.equal(reply.headers.vary, undefined, path);
    }
  });

  it("answers HEAD with the compressed answer's headers and no body", async () => {
    const head = await request(server.port, "/app.js", { "accept-encoding": "br" }, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-encoding"], "br");
    assert.equal(head.headers["content-length"], String(appBr.length));
    assert.equal(head.body.length, 0);
  });

  it("answers 304 to If-None-Match with the compressed answer's ETag, with Vary", async () => {
    const first = await request(server.port, "/app.js", { "accept-encoding": "br" });
    const again = await request(server.port, "/app.js", {
      "accept-encoding": "br",
      "if-none-match": String(first.headers.etag),
    });
    assert.equal(again.status, 304);
    assert.equal(again.headers.vary, "Accept-Encoding");
    assert.equal(again.body.length, 0);
  });

  it("does not serve a sibling older than its file (left from an earlier build): the file is compressed anew", async () => {
    const reply = await request(server.port, "/old.js", { "accept-encoding": "br" });
    assert.equal(reply.headers["content-encoding"], "br");
    assert.equal(brotliDecompressSync(reply.body).toString(), oldJs);
  });
});

describe("serveStatic: compress: false", () => {
  const server = suiteServer(() => serveStatic(root, { compress: false }));

  it("sends every file as it is, siblings or not, and says no Vary", async () => {
    for (const path of ["/app.js", "/style.css"]) {
      const reply = await request(server.port, path, { "accept-encoding": "br, gzip" });
      assert.equal(reply.headers["content-encoding"], undefined, path);
      assert.equal(reply.headers.vary, undefined, path);
    }
  });

  it("refuses an option that is not a boolean, saying what it expected", () => {
    assert.throws(
      () => serveStatic(root, { compress: "yes" as unknown as boolean }),
      /option "compress" expects true or false, got "yes"/,
    );
  });
});
