/// <reference types="node" />
/**
 * An HTTP server where each request is a task: `clockwork-microthreads/http`.
 *
 * Built on `node:http` (its parser, keep-alive and timeouts) and on the
 * core's public API. `serve()` starts a server task, a child of the calling
 * task; each request runs `handler(request, response)` as a child of it. A
 * handler that throws gets a 500 (or the status of an HttpError it threw)
 * and the error goes to `onError`; the server goes on. Request bodies are
 * read with a size limit (413 past it). `close()` stops accepting, lets the
 * requests in flight finish within a grace period, then cancels the rest.
 */
import { Buffer } from "node:buffer";
import { createReadStream, type Stats } from "node:fs";
import * as fs from "node:fs/promises";
import * as http from "node:http";
import * as pathModule from "node:path";
import type { Readable } from "node:stream";
import { call, Future, park, routine, sleep, spawn, type Task } from "../index.ts";

/** Thrown by a handler to answer with a status other than 500. */
export class HttpError extends Error {
  /** "HttpError". */
  override name = "HttpError";
  /** The status to answer with. */
  readonly status: number;
  constructor(status: number, message: string = http.STATUS_CODES[status] ?? "Error") {
    super(message);
    this.status = status;
  }
}

/** Options for `serve()`. Times are in seconds. */
export interface ServeOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Largest request body `request.body()` accepts, in bytes (default 1 MiB): past it, 413. */
  bodyLimit?: number;
  /** Time a client has to send the request headers (default 10): a slowloris is dropped. */
  headersTimeout?: number;
  /** Time a client has to send the whole request (default 30). */
  requestTimeout?: number;
  /** How long an idle keep-alive connection stays open (default 5). */
  keepAliveTimeout?: number;
  /** How long `close()` lets requests in flight finish before cancelling them (default 5). */
  closeGrace?: number;
  /** Gets every error a handler threw (default: printed to stderr). */
  onError?: (error: unknown, request: Request) => void;
}

/** A request, as its handler sees it. */
export class Request {
  /** The Node request, for what this class does not cover. */
  readonly raw: http.IncomingMessage;
  /** "GET", "POST", ... */
  readonly method: string;
  /** The path and query, as sent. */
  readonly url: string;
  /** The path as sent, without the query. */
  readonly path: string;
  /** @internal The body limit. */
  readonly _limit: number;
  /** @internal Parsed on first use. */
  _query: URLSearchParams | undefined;

  /** @internal */
  constructor(raw: http.IncomingMessage, limit: number) {
    this.raw = raw;
    this.method = raw.method ?? "GET";
    this.url = raw.url ?? "/";
    const mark = this.url.indexOf("?");
    this.path = mark < 0 ? this.url : this.url.slice(0, mark);
    this._limit = limit;
    this._query = undefined;
  }

  /** The request's headers, names in lower case (Node builds this object on first use). */
  get headers(): http.IncomingHttpHeaders {
    return this.raw.headers;
  }

  /** The query string's parameters. */
  get query(): URLSearchParams {
    if (this._query === undefined) {
      const mark = this.url.indexOf("?");
      this._query = new URLSearchParams(mark < 0 ? "" : this.url.slice(mark + 1));
    }
    return this._query;
  }

  /** The whole body; throws HttpError(413) past `limit` bytes (default: the server's bodyLimit). */
  body(limit = this._limit): Generator<unknown, Uint8Array, any> {
    return readBody(this.raw, limit) as Generator<unknown, Uint8Array, any>;
  }

  /** The body as UTF-8 text. */
  *text(limit = this._limit): Generator<unknown, string, any> {
    return Buffer.from(yield* this.body(limit)).toString("utf8");
  }

  /** The body parsed as JSON; throws HttpError(400) if it is not. */
  *json(limit = this._limit): Generator<unknown, unknown, any> {
    const text = yield* this.text(limit);
    try {
      return JSON.parse(text);
    } catch {
      throw new HttpError(400, "the request body is not valid JSON");
    }
  }
}

const readBody = routine(function* body(raw: http.IncomingMessage, limit: number) {
  const declared = Number(raw.headers["content-length"]);
  if (declared > limit) throw new HttpError(413, `the request body is over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  yield* park<void>(({ wake, fail }) => {
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        raw.pause();
        fail(new HttpError(413, `the request body is over ${limit} bytes`));
      } else chunks.push(chunk);
    };
    const onEnd = () => wake();
    const onError = (error: Error) => fail(error);
    raw.on("data", onData);
    raw.on("end", onEnd);
    raw.on("error", onError);
    return () => {
      raw.off("data", onData);
      raw.off("end", onEnd);
      raw.off("error", onError);
    };
  }, "a request body");
  return new Uint8Array(Buffer.concat(chunks));
});

/** The response to a request. */
export class Response {
  /** The Node response, for what this class does not cover (streams). */
  readonly raw: http.ServerResponse;

  /** @internal */
  constructor(raw: http.ServerResponse) {
    this.raw = raw;
  }

  /** Whether the response has been sent. */
  get sent(): boolean {
    return this.raw.writableEnded;
  }

  /** Sends a body (text or bytes) with a status and headers, and ends the response. */
  send(
    body: string | Uint8Array,
    options: { status?: number; headers?: http.OutgoingHttpHeaders } = {},
  ): void {
    const headers: http.OutgoingHttpHeaders = { ...options.headers };
    if (headers["content-type"] === undefined && typeof body === "string") {
      headers["content-type"] = "text/plain; charset=utf-8";
    }
    headers["content-length"] = Buffer.byteLength(body);
    this.raw.writeHead(options.status ?? 200, headers);
    this.raw.end(body);
  }

  /** Sends plain text. */
  text(body: string, status = 200): void {
    this._sendString(status, "text/plain; charset=utf-8", body);
  }

  /** Sends a value as JSON. */
  json(value: unknown, status = 200): void {
    this._sendString(status, "application/json; charset=utf-8", JSON.stringify(value));
  }

  /** @internal text() and json(), without send()'s options to copy: the hot path of small answers. */
  _sendString(status: number, contentType: string, body: string): void {
    this.raw.writeHead(status, {
      "content-type": contentType,
      "content-length": Buffer.byteLength(body),
    });
    this.raw.end(body);
  }

  /**
   * Writes a chunk of a streamed body (status 200 and the given headers are
   * sent first if they were not), waiting while the client is slow to read.
   */
  *write(
    chunk: string | Uint8Array,
    headers: http.OutgoingHttpHeaders = {},
  ): Generator<unknown, void, any> {
    if (!this.raw.headersSent) this.raw.writeHead(200, headers);
    if (this.raw.write(chunk)) return;
    const raw = this.raw;
    yield* park<void>(({ wake, fail }) => {
      const onDrain = () => wake();
      const onClose = () => fail(new Error("the client went away"));
      raw.once("drain", onDrain);
      raw.once("close", onClose);
      return () => {
        raw.off("drain", onDrain);
        raw.off("close", onClose);
      };
    }, "a slow client");
  }

  /** Ends a streamed body. */
  end(): void {
    this.raw.end();
  }

  /** Sends a file (its content type from its extension), waiting while the client reads it. */
  *sendFile(
    file: string,
    options: { status?: number; headers?: http.OutgoingHttpHeaders } = {},
  ): Generator<unknown, void, any> {
    const stat = yield* call(fs.stat(file));
    if (!stat.isFile()) throw new HttpError(404);
    this.raw.writeHead(options.status ?? 200, {
      "content-type": contentTypeOf(file),
      "content-length": stat.size,
      ...options.headers,
    });
    if (stat.size === 0) {
      this.raw.end();
      return;
    }
    yield* pipeFile(createReadStream(file, { start: 0, end: stat.size - 1 }), this.raw);
  }
}

/**
 * Streams a file's read stream into a response (`pipe`, which waits for a
 * slow client) and waits until the response is finished. A client that
 * goes away ends the wait without an error (nobody is left to tell); a
 * read error fails it. The stream (and so the file) is closed however this
 * ends.
 */
function* pipeFile(stream: Readable, raw: http.ServerResponse) {
  try {
    yield* park<void>(({ wake, fail }) => {
      const onDone = () => wake();
      const onError = (error: Error) => fail(error);
      stream.on("error", onError);
      raw.on("finish", onDone);
      raw.on("close", onDone);
      stream.pipe(raw);
      return () => {
        stream.off("error", onError);
        raw.off("finish", onDone);
        raw.off("close", onDone);
        stream.unpipe(raw);
      };
    }, "a file being sent");
  } finally {
    stream.destroy();
  }
}

/** A file opened for reading, with its stat. */
interface OpenFile {
  handle: fs.FileHandle;
  stat: Stats;
}

/**
 * Opens a file and reads its stat (two trips to the thread pool, where a
 * stat then a stream's open would be three), or gives null when it cannot
 * be opened. A handle that this routine cannot hand over (an error, or a
 * cancel while the open or the stat was under way) is closed.
 */
function* openFile(path: string): Generator<unknown, OpenFile | null, any> {
  const opening = fs.open(path, "r");
  let handle: fs.FileHandle | undefined;
  try {
    handle = yield* call(opening);
  } catch {
    return null;
  } finally {
    if (handle === undefined) opening.then(closeQuietly, () => {});
  }
  let handed = false;
  try {
    const stat = yield* call(handle.stat());
    handed = true;
    return { handle, stat };
  } catch {
    return null;
  } finally {
    if (!handed) closeQuietly(handle);
  }
}

function closeQuietly(handle: fs.FileHandle): void {
  handle.close().catch(() => {}); // nothing to do if closing fails
}

/** Files up to this size are read with one read and sent with one write; larger ones are streamed. */
const SMALL_FILE_BYTES = 64 * 1024;

function contentTypeOf(file: string): string {
  return CONTENT_TYPES[pathModule.extname(file).toLowerCase()] ?? "application/octet-stream";
}

/** A running HTTP server. */
export class HttpServer {
  /** The port it listens on (the one chosen, when asked for port 0). */
  readonly port: number;
  /** The address it listens on. */
  readonly host: string;
  /** Requests answered so far. */
  served = 0;
  /** @internal */
  readonly _server: http.Server;
  /** @internal The task every request task is a child of. */
  _task: Task<unknown> | null = null;
  /** @internal Request tasks in flight. */
  _inFlight = 0;
  /** @internal Set once close() began or the server task ended: new requests get a 503. */
  _closing = false;
  /** @internal The server task's signal: aborted once it is being cancelled or has ended so. */
  _cancelled: AbortSignal | null = null;
  /** @internal */
  readonly _closeGrace: number;

  /** @internal */
  constructor(server: http.Server, host: string, closeGrace: number) {
    this._server = server;
    this.host = host;
    this.port = (server.address() as { port: number }).port;
    this._closeGrace = closeGrace;
  }

  /** The server's address, e.g. "http://127.0.0.1:8080". */
  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  /**
   * Closes gracefully: stops accepting, lets the requests in flight finish
   * within the grace period, then cancels the rest and closes every
   * connection.
   */
  close(): Generator<unknown, void, any> {
    return closeRoutine(this) as Generator<unknown, void, any>;
  }
}

const closeRoutine = routine(function* close(server: HttpServer) {
  server._closing = true;
  server._server.close();
  server._server.closeIdleConnections();
  const deadline = Date.now() + server._closeGrace * 1000;
  while (server._inFlight > 0 && Date.now() < deadline) yield sleep(0.01);
  server._task?.cancel();
  server._server.closeAllConnections();
});

/** A request handler: a routine, run as a task of its own for each request. */
export type Handler = (request: Request, response: Response) => Generator<unknown, unknown, any>;

/**
 * Starts an HTTP server; gives it once it listens. Each request runs
 * `handler(request, response)` as its own task.
 *
 * @example
 * const server = yield* serve({ port: 8080 }, function* hello(req, res) {
 *   res.text(`hello from ${req.path}\n`);
 * });
 */
export function serve(
  options: ServeOptions,
  handler: Handler,
): Generator<unknown, HttpServer, any> {
  if (typeof handler !== "function")
    throw new TypeError("serve() expects a handler routine, a function");
  for (const key of [
    "bodyLimit",
    "headersTimeout",
    "requestTimeout",
    "keepAliveTimeout",
    "closeGrace",
  ] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== "number" || !(value >= 0))) {
      throw new RangeError(
        `serve() option "${key}" expects a number, 0 or more, got ${String(value)}`,
      );
    }
  }
  return serveRoutine(options, handler) as Generator<unknown, HttpServer, any>;
}

const serveRoutine = routine(function* serve(options: ServeOptions, handler: Handler) {
  const host = options.host ?? "127.0.0.1";
  const headersTimeout = (options.headersTimeout ?? 10) * 1000;
  const requestTimeout = (options.requestTimeout ?? 30) * 1000;
  const bodyLimit = options.bodyLimit ?? 1024 * 1024;
  const onError =
    options.onError ??
    ((error: unknown, request: Request) => {
      console.error(`clockwork http: ${request.method} ${request.url} failed:`, error);
    });
  let server: HttpServer | undefined;
  // Node checks those timeouts every connectionsCheckingInterval (30 s by default): check often enough.
  const checkEvery = Math.max(50, Math.min(1000, Math.min(headersTimeout, requestTimeout) / 4));
  const raw = http.createServer({ connectionsCheckingInterval: checkEvery }, (req, res) => {
    // Each request becomes a child task of the server task, started from
    // here: no queue and no hop through another task on the way in.
    const task = server?._task;
    // A task being cancelled, or one that ended, takes no children: answer 503 here, since a
    // request task cancelled before its first step would never answer at all.
    if (server === undefined || task == null || server._closing || server._cancelled?.aborted) {
      res.writeHead(503, { connection: "close" });
      res.end("the server is closing\n");
      return;
    }
    const request = new Request(req, bodyLimit);
    const current = server;
    current._inFlight++;
    // deliver(): the request's first step runs now, inside this callback, not in a microtask.
    task.worker.deliver(() =>
      task.spawn(exchange(current, request, new Response(res), handler, onError), {
        name: `${request.method} ${request.path}`,
      }),
    );
  });
  raw.headersTimeout = headersTimeout;
  raw.requestTimeout = requestTimeout;
  raw.keepAliveTimeout = (options.keepAliveTimeout ?? 5) * 1000;
  const listening = new Future<void>();
  raw.once("error", (error) => {
    if (!listening.settled) listening.reject(error);
  });
  raw.listen(options.port ?? 0, host, () => listening.resolve());
  try {
    yield* listening.wait();
  } catch (error) {
    raw.close();
    throw error;
  }
  server = new HttpServer(raw, host, options.closeGrace ?? 5);
  const closed = new Future<void>();
  raw.on("close", () => {
    if (!closed.settled) closed.resolve();
  });
  server._task = spawn(serverTask(server, closed), { name: `http server ${host}:${server.port}` });
  server._cancelled = server._task.signal; // aborted as soon as the task is being cancelled
  return server;
});

/**
 * The task that stands for the server: the parent of every request task. It
 * waits until the server closes (or is cancelled); then, as any parent, it
 * ends only once its requests have.
 */
const serverTask = routine(function* httpServer(server: HttpServer, closed: Future<void>) {
  try {
    yield* closed.wait();
  } finally {
    server._closing = true;
    server._server.close();
  }
});

const exchange = routine(function* handle(
  server: HttpServer,
  request: Request,
  response: Response,
  handler: Handler,
  onError: (error: unknown, request: Request) => void,
) {
  try {
    yield* handler(request, response);
    if (!response.raw.headersSent) {
      throw new Error(`the handler for ${request.method} ${request.path} ended without a response`);
    }
    if (!response.raw.writableEnded) response.raw.end();
  } catch (error) {
    const status = error instanceof HttpError ? error.status : 500;
    if (!(error instanceof HttpError)) onError(error, request);
    if (!response.raw.headersSent) {
      const message = error instanceof HttpError ? error.message : "internal server error";
      response.send(`${message}\n`, {
        status,
        headers: status === 413 ? { connection: "close" } : {},
      });
    } else {
      response.raw.destroy();
    }
  } finally {
    server.served++;
    server._inFlight--;
    if (!response.raw.writableEnded) response.raw.destroy(); // cancelled mid-way
  }
});

// ------------------------------------------------------------------ static files

/** Content types by file extension (what browsers need; anything else is application/octet-stream). */
const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".xml": "application/xml; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".wasm": "application/wasm",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".pdf": "application/pdf",
  ".mp3": "audio/mpeg",
  ".mp4": "video/mp4",
};

/** Options for `serveStatic()`. */
export interface StaticOptions {
  /** The file served for a folder (default "index.html"). */
  index?: string;
  /** Cache-Control header value (default "no-cache": revalidate with ETag). */
  cacheControl?: string;
}

/**
 * A handler that serves the files under `root`: content types, ETag and
 * Last-Modified with 304, Range (206, 416), HEAD, `index.html` for
 * folders. There is no way out of `root`: `..` (also percent-encoded),
 * backslashes, NUL bytes and symbolic links that lead outside are refused.
 *
 * @example
 * yield* serve({ port: 8080 }, serveStatic("./public"));
 */
export function serveStatic(root: string, options: StaticOptions = {}): Handler {
  if (typeof root !== "string" || root === "") {
    throw new TypeError(`serveStatic() expects a root folder, got ${JSON.stringify(root)}`);
  }
  const base = pathModule.resolve(root);
  const index = options.index ?? "index.html";
  const cacheControl = options.cacheControl ?? "no-cache";
  let realBase: string | undefined;
  // Files found inside the root, by path: the real path is resolved again only when the
  // path now leads to another file (device and inode differ), so most requests cost one stat.
  const checked = new Map<string, { dev: number; ino: number }>();
  return function* serveStatic(req, res) {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.send("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
      return;
    }
    realBase ??= yield* call(fs.realpath(base));
    const file = safePath(base, req.raw.url ?? "/");
    if (file === undefined) throw new HttpError(403, "forbidden path");
    let target = file;
    let opened = yield* openFile(target);
    if (opened?.stat.isDirectory()) {
      closeQuietly(opened.handle);
      if (!req.path.endsWith("/")) {
        res.send("", {
          status: 301,
          headers: { location: `${req.path}/${req.url.slice(req.path.length)}` },
        });
        return;
      }
      target = pathModule.join(target, index);
      opened = yield* openFile(target);
    }
    if (opened === null) throw new HttpError(404);
    const { handle, stat } = opened;
    let streaming = false; // once a stream has the handle, closing it is the stream's
    try {
      if (!stat.isFile()) throw new HttpError(404);
      const known = checked.get(target);
      if (known === undefined || known.dev !== stat.dev || known.ino !== stat.ino) {
        const real = yield* call(fs.realpath(target));
        if (real !== realBase && !real.startsWith(realBase + pathModule.sep)) {
          throw new HttpError(403, "forbidden path");
        }
        if (checked.size >= 10_000) checked.clear();
        checked.set(target, { dev: stat.dev, ino: stat.ino });
      }

      const etag = `W/"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
      const headers: http.OutgoingHttpHeaders = {
        "content-type": contentTypeOf(target),
        etag,
        "last-modified": stat.mtime.toUTCString(),
        "cache-control": cacheControl,
        "accept-ranges": "bytes",
      };
      if (isFresh(req, etag, stat.mtimeMs)) {
        res.raw.writeHead(304, {
          etag,
          "last-modified": headers["last-modified"],
          "cache-control": cacheControl,
        });
        res.raw.end();
        return;
      }
      let start = 0;
      let end = stat.size - 1;
      let status = 200;
      const range = req.headers.range;
      if (range !== undefined && req.headers["if-range"] === undefined) {
        const parsed = parseRange(range, stat.size);
        if (parsed === null) {
          res.send("range not satisfiable\n", {
            status: 416,
            headers: { "content-range": `bytes */${stat.size}` },
          });
          return;
        }
        if (parsed !== undefined) {
          [start, end] = parsed;
          status = 206;
          headers["content-range"] = `bytes ${start}-${end}/${stat.size}`;
        }
      }
      const length = end >= start ? end - start + 1 : 0;
      headers["content-length"] = length;
      res.raw.writeHead(status, headers);
      if (req.method === "HEAD" || length === 0) {
        res.raw.end();
        return;
      }
      if (length <= SMALL_FILE_BYTES) {
        // One read and one write: no stream to set up for a small file.
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = yield* call(handle.read(buffer, 0, length, start));
        if (bytesRead === length) res.raw.end(buffer);
        else res.raw.destroy(); // the file shrank since its stat: a short body would leave the client waiting
        return;
      }
      streaming = true;
      yield* pipeFile(handle.createReadStream({ start, end }), res.raw);
    } finally {
      if (!streaming) closeQuietly(handle);
    }
  };
}

/**
 * The file path for a request target inside `base`, or undefined when the
 * target tries to leave it: `..` segments (plain or percent-encoded),
 * backslashes, NUL bytes, or anything that does not decode.
 */
function safePath(base: string, target: string): string | undefined {
  const rawPath = target.split("?")[0] as string;
  if (/%5c|\\|%00|\0/i.test(rawPath)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return undefined;
  const segments = decoded.split("/");
  if (segments.some((segment) => segment === "..")) return undefined;
  const file = pathModule.join(base, ...segments);
  if (file !== base && !file.startsWith(base + pathModule.sep)) return undefined;
  return file;
}

function isFresh(req: Request, etag: string, mtimeMs: number): boolean {
  const noneMatch = req.headers["if-none-match"];
  if (noneMatch !== undefined) {
    return noneMatch.split(",").some((tag) => {
      const t = tag.trim();
      return t === "*" || t === etag || `W/${t}` === etag || t === etag.slice(2);
    });
  }
  const since = req.headers["if-modified-since"];
  if (since !== undefined) {
    const time = Date.parse(since);
    return !Number.isNaN(time) && Math.floor(mtimeMs / 1000) <= Math.floor(time / 1000);
  }
  return false;
}

/** One "bytes=a-b" range: [start, end], null when unsatisfiable, undefined when ignored (several ranges). */
function parseRange(header: string, size: number): [number, number] | null | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return header.includes(",") ? undefined : null;
  const [, a = "", b = ""] = match;
  if (a === "" && b === "") return null;
  let start: number;
  let end: number;
  if (a === "") {
    const suffix = Number(b);
    if (suffix === 0) return null;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) return null;
  return [start, end];
}
