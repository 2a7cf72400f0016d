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
 *
 * A client that goes away before it has the whole answer cancels its
 * request's task, as Go cancels a request's context: whatever the handler
 * waits on is released, its `finally` blocks run, and its task's signal
 * (`request.signal`) aborts. That is no error of the handler's: nothing is
 * reported. Code a cancel cannot cut (a `shield`) that writes to a client
 * that has gone gets a `ClientGoneError` at once.
 */
import { Buffer } from "node:buffer";
import { createReadStream, type Stats } from "node:fs";
import * as fs from "node:fs/promises";
import * as http from "node:http";
import * as pathModule from "node:path";
import type { Readable } from "node:stream";
import {
  call,
  currentTask,
  Future,
  park,
  routine,
  spawn,
  type Task,
  TimeoutError,
  timeout,
} from "../index.ts";
import {
  compress,
  type Encoding,
  isCompressible,
  MAX_COMPRESS_BYTES,
  MIN_COMPRESS_BYTES,
  negotiate,
  SUFFIX,
} from "./compress.ts";
import { contentTypeOfExtension } from "./content-types.ts";
import { keepListening } from "./net.ts";

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

/**
 * Thrown by `response.write()` (and a body being read) when the client has
 * gone: there is nobody left to answer. A handler need not catch it: its
 * task is cancelled anyway when the client leaves, and it is not reported.
 */
export class ClientGoneError extends Error {
  /** "ClientGoneError". */
  override name = "ClientGoneError";
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
  /**
   * How long `close()` lets requests in flight finish before cancelling
   * them (default 5), on the worker's clock.
   */
  closeGrace?: number;
  /**
   * Gets every error a handler threw (default: printed to stderr), except
   * HttpErrors (they are answers) and a client going away (no error).
   */
  onError?: (error: unknown, request: Request) => void;
}

/** A request, as its handler sees it. */
export class Request {
  /** The Node request, for what this class does not cover. */
  readonly raw: http.IncomingMessage;
  /** "GET", "POST", ... */
  readonly method: string;
  /**
   * The path and query, as sent (still percent-encoded). A target sent in
   * absolute form, `GET http://host/a?b`, is given as `/a?b`; `raw.url`
   * keeps it whole.
   */
  readonly url: string;
  /** The path as sent, without the query. */
  readonly path: string;
  /** @internal The body limit. */
  readonly _limit: number;
  /** @internal Parsed on first use. */
  _query: URLSearchParams | undefined;
  /** @internal The request's task, once it runs. */
  _task: Task<unknown> | null;

  /** @internal */
  constructor(raw: http.IncomingMessage, limit: number) {
    this.raw = raw;
    this.method = raw.method ?? "GET";
    const target = raw.url ?? "/";
    // Most targets are in origin-form ("/a?b"); an absolute-form one ("http://host/a?b", which
    // RFC 9112 says a server must accept) is read as its path and query.
    this.url = target.charCodeAt(0) === 47 /* "/" */ ? target : originForm(target);
    const mark = this.url.indexOf("?");
    this.path = mark < 0 ? this.url : this.url.slice(0, mark);
    this._limit = limit;
    this._query = undefined;
    this._task = null;
  }

  /**
   * Aborted when the request's task is cancelled: its client went away, or
   * the server closed before it was done. For promise-based APIs, as Go's
   * `r.Context()`: `yield* call(fetch(url, { signal: req.signal }))`.
   */
  get signal(): AbortSignal {
    if (this._task === null) throw new Error("request.signal: the request's task has not started");
    return this._task.signal;
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

/** The origin form ("/a?b") of an absolute-form request target ("http://host/a?b"); others as they are. */
function originForm(target: string): string {
  const authority = /^[a-z][a-z\d+.-]*:\/\/[^/?#]*/i.exec(target);
  if (authority === null) return target; // "*" (OPTIONS *), or something no route will match
  const rest = target.slice(authority[0].length);
  return rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
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
    // The request fails only when its client has gone (Node's "aborted").
    const onError = (error: Error) =>
      fail(new ClientGoneError("the client went away while sending the body", { cause: error }));
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
   * Throws a ClientGoneError at once if the client has gone (or goes while
   * this waits), and an Error after the response has ended.
   */
  *write(
    chunk: string | Uint8Array,
    headers: http.OutgoingHttpHeaders = {},
  ): Generator<unknown, void, any> {
    const raw = this.raw;
    if (raw.destroyed) throw clientGone();
    if (raw.writableEnded) throw new Error("response.write(): the response has ended");
    if (!raw.headersSent) raw.writeHead(200, headers);
    if (raw.write(chunk)) return;
    yield* park<void>(({ wake, fail }) => {
      // A response closed already fires no more events: fail now, not on a 'close' long gone.
      if (raw.destroyed) {
        fail(clientGone());
        return undefined;
      }
      const onDrain = () => wake();
      const onClose = () => fail(clientGone());
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

  /**
   * Sends a file (its content type from its extension), waiting while the
   * client reads it. A file that does not exist (or is no file) is an
   * HttpError(404); any other failure to open it (out of descriptors, say)
   * is thrown as it is: a 500 and an onError. Throws a ClientGoneError if
   * the client has gone (or goes before it has the whole file).
   */
  *sendFile(
    file: string,
    options: { status?: number; headers?: http.OutgoingHttpHeaders } = {},
  ): Generator<unknown, void, any> {
    // Opened before the answer starts, so a failure (out of descriptors, say) can still be a 500.
    const opened = yield* openFile(file);
    if (opened === null) throw new HttpError(404);
    const { handle, stat } = opened;
    let streaming = false; // once a stream has the handle, closing it is the stream's
    try {
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
      streaming = true;
      yield* pipeFile(handle.createReadStream({ start: 0, end: stat.size - 1 }), this.raw);
    } finally {
      if (!streaming) closeQuietly(handle);
    }
  }
}

function clientGone(): ClientGoneError {
  return new ClientGoneError("the client went away");
}

/**
 * Streams a file's read stream into a response (`pipe`, which waits for a
 * slow client) and waits until the response is finished. A client that has
 * gone (or goes while this waits) throws a ClientGoneError, as write()
 * does; a read error fails it. The stream (and so the file) is closed
 * however this ends.
 */
function* pipeFile(stream: Readable, raw: http.ServerResponse) {
  try {
    // A response closed already fires no more events: waiting for its 'close' would be forever.
    if (raw.destroyed) throw clientGone();
    yield* park<void>(({ wake, fail }) => {
      const onFinish = () => wake();
      const onClose = () => (raw.writableFinished ? wake() : fail(clientGone()));
      const onError = (error: Error) => fail(error);
      stream.on("error", onError);
      raw.on("finish", onFinish);
      raw.on("close", onClose);
      stream.pipe(raw);
      return () => {
        stream.off("error", onError);
        raw.off("finish", onFinish);
        raw.off("close", onClose);
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
 * stat then a stream's open would be three), or gives null when there is
 * no such file. Any other failure (out of descriptors: EMFILE, ENFILE; no
 * permission; an I/O error) is thrown: it is the server's trouble, a 500
 * and an onError, never a "not found". A handle that this routine cannot
 * hand over (an error, or a cancel while the open or the stat was under
 * way) is closed.
 */
function* openFile(path: string): Generator<unknown, OpenFile | null, any> {
  const opening = fs.open(path, "r");
  let handle: fs.FileHandle | undefined;
  try {
    handle = yield* call(opening);
  } catch (error) {
    if (isNoSuchFile(error)) return null;
    throw error;
  } finally {
    if (handle === undefined) opening.then(closeQuietly, () => {});
  }
  let handed = false;
  try {
    const stat = yield* call(handle.stat());
    handed = true;
    return { handle, stat };
  } finally {
    if (!handed) closeQuietly(handle);
  }
}

/** The errors that mean there is no file at a path (as send, behind serve-static, reads them): a 404. */
const NO_SUCH_FILE = new Set(["ENOENT", "ENOTDIR", "ENAMETOOLONG"]);

function isNoSuchFile(error: unknown): boolean {
  return NO_SUCH_FILE.has((error as { code?: unknown } | null)?.code as string);
}

function closeQuietly(handle: fs.FileHandle): void {
  handle.close().catch(() => {}); // nothing to do if closing fails
}

/** Files up to this size are read with one read and sent with one write; larger ones are streamed. */
const SMALL_FILE_BYTES = 64 * 1024;
/**
 * Files (and precompressed siblings) up to this size are read whole once
 * and kept while their stat is the same (within cacheBytes): a page's
 * scripts and styles are served from memory. Larger ones are streamed from
 * disk at every request.
 */
const KEPT_FILE_BYTES = 512 * 1024;

/**
 * A file's content type from its extension, by the table generated from
 * mime-db (src/node/content-types.ts); application/octet-stream when the
 * extension is unknown.
 */
function contentTypeOf(file: string): string {
  const ext = pathModule.extname(file).slice(1).toLowerCase();
  return contentTypeOfExtension(ext) ?? "application/octet-stream";
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
  /** @internal What close() waits on: resolved when the last request in flight ends. */
  _idle: Future<void> | null = null;
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
   * connection. It returns as soon as the last request in flight ends.
   */
  close(): Generator<unknown, void, any> {
    return closeRoutine(this) as Generator<unknown, void, any>;
  }
}

const closeRoutine = routine(function* close(server: HttpServer) {
  server._closing = true;
  server._server.close();
  server._server.closeIdleConnections();
  if (server._inFlight > 0 && server._closeGrace > 0) {
    // Parked until the last request in flight ends (it resolves the future), for at most the
    // grace period on the worker's clock: no polling, and no wall time.
    server._idle ??= new Future<void>();
    try {
      yield* timeout(server._closeGrace, server._idle.wait());
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
    }
  }
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
    const child = task.worker.deliver(() =>
      task.spawn(exchange(current, request, new Response(res), handler, onError), {
        name: `${request.method} ${request.path}`,
      }),
    );
    // A client that goes away before it has the whole answer cancels the request's task (as Go
    // cancels r.Context()). Most answers are done by now, and need no listener.
    if (!child.isDone()) {
      res.once("close", () => {
        if (!res.writableFinished) child.worker.deliver(() => child.cancel());
      });
    }
  });
  raw.headersTimeout = headersTimeout;
  raw.requestTimeout = requestTimeout;
  raw.keepAliveTimeout = (options.keepAliveTimeout ?? 5) * 1000;
  const listening = new Future<void>();
  const failed = (error: Error) => listening.reject(error);
  raw.once("error", failed);
  raw.listen(options.port ?? 0, host, () => {
    raw.off("error", failed);
    listening.resolve();
  });
  try {
    yield* listening.wait();
  } catch (error) {
    raw.close();
    throw error;
  }
  server = new HttpServer(raw, host, options.closeGrace ?? 5);
  keepListening(raw, `http: accepting a connection on ${host}:${server.port}`);
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
  request._task = currentTask() ?? null;
  try {
    yield* handler(request, response);
    if (response.raw.destroyed) return; // the client went away: nobody to answer
    if (!response.raw.headersSent) {
      throw new Error(`the handler for ${request.method} ${request.path} ended without a response`);
    }
    if (!response.raw.writableEnded) response.raw.end();
  } catch (error) {
    // A client that went away is no failure of the handler's, and nobody is left to answer.
    if (error instanceof ClientGoneError) return;
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
    if (--server._inFlight === 0 && server._idle !== null && !server._idle.settled) {
      server._idle.resolve();
    }
    if (!response.raw.writableEnded) response.raw.destroy(); // cancelled mid-way
  }
});

// ------------------------------------------------------------------ static files

/** Options for `serveStatic()`. */
export interface StaticOptions {
  /** The file served for a folder (default "index.html"). */
  index?: string;
  /** Cache-Control header value (default "no-cache": revalidate with ETag). */
  cacheControl?: string;
  /**
   * Paths with a part that begins with a dot (`/.env`, `/.git/config`), as
   * serve-static reads the option: "ignore" (the default) answers 404, as
   * if they were not there; "deny" answers 403; "allow" serves them.
   * `/.well-known/` (RFC 8615) is served whatever this says, as sirv does.
   */
  dotfiles?: "allow" | "deny" | "ignore";
  /**
   * Compression (default true): a file with a precompressed sibling
   * (`app.js.br`, `app.js.gz`, no older than the file) is answered with it
   * when the client's `Accept-Encoding` takes that encoding; a
   * compressible file (text, JSON, JavaScript, SVG, wasm, ...) of 1 KiB to
   * 8 MiB without one is compressed once (brotli preferred, at its best)
   * and kept. Never for a Range request. False sends every file as it is.
   */
  compress?: boolean;
  /**
   * Bytes of file contents kept in memory (default 64 MiB): small files
   * (up to 64 KiB) and compressed ones, the oldest dropped first. 0 keeps
   * none: every request reads its file, and nothing is compressed on the
   * fly (precompressed siblings are still served).
   */
  cacheBytes?: number;
}

const DOTFILES = ["allow", "deny", "ignore"];

/** A version of a file in one encoding: in memory, or read from `path` per request. */
interface Variant {
  encoding: Encoding;
  size: number;
  etag: string;
  /** The bytes, when kept in memory. */
  body: Buffer | undefined;
  /** The file to stream the bytes from (a precompressed sibling too large to keep). */
  path: string | undefined;
}

/**
 * What serveStatic knows of a file, kept while its stat says it is the same
 * file (device, inode, size and modification time): the check that its
 * real path is inside the root, its headers, its bytes if small, its
 * compressed versions. A file that changes or appears is seen at once:
 * every request stats its path.
 */
interface Entry {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  contentType: string;
  etag: string;
  lastModified: string;
  /** The whole file, when it is small and the cache keeps bytes. */
  body: Buffer | undefined;
  /** Whether answers may differ by Accept-Encoding (a sibling, or a compressible type): Vary. */
  varies: boolean;
  /** Encodings that can be served (siblings, or compressible), best first. */
  encodings: Encoding[];
  /** Encodings at hand or being made. */
  variants: Map<Encoding, Variant | Promise<Variant | null> | null>;
  /** Bytes of this entry kept in memory. */
  bytes: number;
}

function sameFile(entry: Entry, stat: Stats): boolean {
  return (
    entry.mtimeMs === stat.mtimeMs &&
    entry.size === stat.size &&
    entry.ino === stat.ino &&
    entry.dev === stat.dev
  );
}

/** A file's stat, or null when there is no such file (any other failure is thrown: a 500). */
function* statOrNull(path: string): Generator<unknown, Stats | null, any> {
  try {
    return yield* call(fs.stat(path));
  } catch (error) {
    if (isNoSuchFile(error)) return null;
    throw error;
  }
}

/**
 * A handler that serves the files under `root` (or under each of several
 * roots: the first that has the file answers, the others are not
 * tried): content types, ETag and Last-Modified with 304, the other
 * conditional requests of RFC 9110 (If-Match and If-Unmodified-Since:
 * 412; If-Range), Range (206, 416), HEAD, `index.html` for folders (a
 * redirect adds the slash, never to another host: `//a` goes to `/a/`),
 * compression (see `compress`). Dotfiles are hidden (see `dotfiles`).
 * There is no way out of a root: `..` (also percent-encoded),
 * backslashes, NUL bytes and symbolic links that lead outside are
 * refused. A root that does not exist answers 404 to every request (said
 * once, on stderr, at the first) until it does.
 *
 * What it learns of a file (its headers, its bytes when small, its
 * compressed versions) is kept while the file's stat is the same: each
 * request costs one stat, and a file that changes or appears is served
 * new at once.
 *
 * @example
 * yield* serve({ port: 8080 }, serveStatic("./public"));
 */
export function serveStatic(
  root: string | readonly string[],
  options: StaticOptions = {},
): Handler {
  const rootList = typeof root === "string" ? [root] : root;
  if (
    !Array.isArray(rootList) ||
    rootList.length === 0 ||
    rootList.some((r) => typeof r !== "string" || r === "")
  ) {
    throw new TypeError(
      `serveStatic() expects a root folder or a list of them, got ${JSON.stringify(root)}`,
    );
  }
  const dotfiles = options.dotfiles ?? "ignore";
  if (!DOTFILES.includes(dotfiles)) {
    throw new TypeError(
      `serveStatic() option "dotfiles" expects "allow", "deny" or "ignore", got ${JSON.stringify(dotfiles)}`,
    );
  }
  const compressOn = options.compress ?? true;
  if (typeof compressOn !== "boolean") {
    throw new TypeError(
      `serveStatic() option "compress" expects true or false, got ${JSON.stringify(compressOn)}`,
    );
  }
  const cacheBytes = options.cacheBytes ?? 64 * 1024 * 1024;
  if (typeof cacheBytes !== "number" || !(cacheBytes >= 0)) {
    throw new RangeError(
      `serveStatic() option "cacheBytes" expects a number, 0 or more, got ${String(cacheBytes)}`,
    );
  }
  const index = options.index ?? "index.html";
  const cacheControl = options.cacheControl ?? "no-cache";
  const roots = rootList.map((r) => ({
    base: pathModule.resolve(r),
    real: undefined as string | undefined,
    saidMissing: false,
  }));
  // What is known of each file, by path; the oldest first (a Map keeps insertion order).
  const entries = new Map<string, Entry>();
  let keptBytes = 0;

  /** Drops entries, oldest first, until the bytes kept fit. */
  function fit(): void {
    for (const [path, entry] of entries) {
      if (keptBytes <= cacheBytes && entries.size <= 10_000) return;
      entries.delete(path);
      keptBytes -= entry.bytes;
    }
  }

  function keep(entry: Entry, bytes: number): boolean {
    if (bytes > cacheBytes / 4) return false; // one file never fills the cache
    entry.bytes += bytes;
    keptBytes += bytes;
    return true;
  }

  /** What is known of the file at `target` (inside `realBase`) with this stat, learned now if need be. */
  function* entryOf(target: string, stat: Stats, realBase: string): Generator<unknown, Entry, any> {
    const known = entries.get(target);
    if (known !== undefined && sameFile(known, stat)) return known;
    const real = yield* call(fs.realpath(target));
    if (real !== realBase && !real.startsWith(realBase + pathModule.sep)) {
      throw new HttpError(403, "forbidden path");
    }
    const contentType = contentTypeOf(target);
    const entry: Entry = {
      dev: stat.dev,
      ino: stat.ino,
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      contentType,
      etag: `W/"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`,
      lastModified: stat.mtime.toUTCString(),
      body: undefined,
      varies: false,
      encodings: [],
      variants: new Map(),
      bytes: 0,
    };
    if (compressOn) {
      // Precompressed siblings, when no older than the file (a stale one is not served).
      for (const encoding of ["br", "gzip"] as const) {
        const sibling = `${target}${SUFFIX[encoding]}`;
        const found = yield* statOrNull(sibling);
        if (found?.isFile() && found.mtimeMs >= stat.mtimeMs) {
          entry.encodings.push(encoding);
          entry.variants.set(encoding, {
            encoding,
            size: found.size,
            etag: `W/"${found.size.toString(16)}-${Math.floor(found.mtimeMs).toString(16)}-${encoding}"`,
            body: undefined,
            path: sibling,
          });
        }
      }
      if (
        entry.encodings.length === 0 &&
        cacheBytes > 0 &&
        stat.size >= MIN_COMPRESS_BYTES &&
        stat.size <= MAX_COMPRESS_BYTES &&
        isCompressible(contentType)
      ) {
        entry.encodings.push("br", "gzip");
      }
      entry.varies = entry.encodings.length > 0;
    }
    if (known !== undefined) {
      entries.delete(target);
      keptBytes -= known.bytes;
    }
    entries.set(target, entry);
    return entry;
  }

  /** The variant of `entry` in `encoding`, made (and kept) if need be; null if not worth it. */
  function* variantOf(
    entry: Entry,
    target: string,
    encoding: Encoding,
  ): Generator<unknown, Variant | null, any> {
    let variant = entry.variants.get(encoding);
    if (variant === undefined) {
      // Made once, whoever asks meanwhile waits for the same promise.
      variant = makeVariant(entry, target, encoding);
      entry.variants.set(encoding, variant);
      variant.then(
        (made) => {
          if (entry.variants.get(encoding) === variant) entry.variants.set(encoding, made);
        },
        () => entry.variants.delete(encoding), // tried again by the next request
      );
    }
    return variant instanceof Promise ? yield* call(variant) : variant;
  }

  async function makeVariant(
    entry: Entry,
    target: string,
    encoding: Encoding,
  ): Promise<Variant | null> {
    const bytes = entry.body ?? (await fs.readFile(target));
    if (bytes.length !== entry.size) return null; // changed under us: the next stat will see it
    const body = await compress(encoding, bytes);
    // Not worth it when it saves under a tenth (already compressed data, say).
    if (body.length > bytes.length * 0.9 || !keep(entry, body.length)) return null;
    fit();
    return {
      encoding,
      size: body.length,
      etag: `${entry.etag.slice(0, -1)}-${encoding}"`,
      body,
      path: undefined,
    };
  }

  /**
   * Serves the file `segments` names under one root. Gives false when that
   * root has no such file (the next root is tried), true once answered.
   */
  function* fromRoot(
    req: Request,
    res: Response,
    root: (typeof roots)[number],
    segments: string[],
  ): Generator<unknown, boolean, any> {
    if (root.real === undefined) {
      try {
        root.real = yield* call(fs.realpath(root.base));
      } catch (error) {
        if (!isNoSuchFile(error)) throw error;
        // The operator's mistake, not the client's nor each request's: said once, then 404s.
        if (!root.saidMissing) {
          root.saidMissing = true;
          console.warn(
            `clockwork http: serveStatic(): the root folder ${root.base} does not exist: every request gets 404 until it does`,
          );
        }
        return false;
      }
    }
    const base = root.base;
    const file = pathModule.join(base, ...segments);
    if (file !== base && !file.startsWith(base + pathModule.sep)) {
      throw new HttpError(403, "forbidden path");
    }
    let target = file;
    let stat = yield* statOrNull(target);
    if (stat?.isDirectory()) {
      if (!req.path.endsWith("/")) {
        // Leading slashes collapsed: "//host" would send the browser to another host.
        const location = `/${req.path.replace(/^\/+/, "")}/${req.url.slice(req.path.length)}`;
        res.send("", { status: 301, headers: { location } });
        return true;
      }
      target = pathModule.join(target, index);
      stat = yield* statOrNull(target);
    } else if (stat !== null && req.path.endsWith("/")) {
      return false; // "/file.html/" names a folder, and there is none
    }
    if (stat === null || !stat.isFile()) return false;
    const entry = yield* entryOf(target, stat, root.real);
    yield* answer(req, res, target, entry);
    return true;
  }

  function* answer(req: Request, res: Response, target: string, entry: Entry) {
    const range = req.headers.range;
    // Never a compressed answer to a Range request: the range is of the file as it is.
    let variant: Variant | null = null;
    if (entry.encodings.length > 0 && range === undefined) {
      const encoding = negotiate(req.headers["accept-encoding"], entry.encodings);
      if (encoding !== undefined) variant = yield* variantOf(entry, target, encoding);
    }
    const etag = variant === null ? entry.etag : variant.etag;
    const headers: http.OutgoingHttpHeaders = {
      "content-type": entry.contentType,
      etag,
      "last-modified": entry.lastModified,
      "cache-control": cacheControl,
      "accept-ranges": "bytes",
    };
    if (entry.varies) headers.vary = "Accept-Encoding";
    // RFC 9110 13.2.2: If-Match, else If-Unmodified-Since (412); then If-None-Match, else
    // If-Modified-Since (304); then If-Range decides whether a Range is read.
    if (preconditionFailed(req, etag, entry.mtimeMs)) {
      res.send("precondition failed\n", { status: 412 });
      return;
    }
    if (isFresh(req, etag, entry.mtimeMs)) {
      const fresh: http.OutgoingHttpHeaders = {
        etag,
        "last-modified": entry.lastModified,
        "cache-control": cacheControl,
      };
      if (entry.varies) fresh.vary = "Accept-Encoding";
      res.raw.writeHead(304, fresh);
      res.raw.end();
      return;
    }
    if (variant !== null) {
      if (variant.body === undefined && variant.size <= KEPT_FILE_BYTES && cacheBytes > 0) {
        // A small precompressed sibling is read once, as a small file is.
        const bytes = yield* call(fs.readFile(variant.path ?? target));
        if (bytes.length === variant.size && keep(entry, bytes.length)) {
          variant.body = bytes;
          fit();
        }
      }
      headers["content-encoding"] = variant.encoding;
      headers["content-length"] = variant.size;
      res.raw.writeHead(200, headers);
      if (req.method === "HEAD") res.raw.end();
      else yield* sendBytes(res, variant.path ?? target, variant.body, 0, variant.size - 1, 0);
      return;
    }
    const size = entry.size;
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (range !== undefined && rangeStillValid(req, etag, entry.mtimeMs)) {
      const parsed = parseRange(range, size);
      if (parsed === null) {
        res.send("range not satisfiable\n", {
          status: 416,
          headers: { "content-range": `bytes */${size}` },
        });
        return;
      }
      if (parsed !== undefined) {
        [start, end] = parsed;
        status = 206;
        headers["content-range"] = `bytes ${start}-${end}/${size}`;
      }
    }
    const length = end >= start ? end - start + 1 : 0;
    headers["content-length"] = length;
    if (entry.body === undefined && size <= KEPT_FILE_BYTES && cacheBytes > 0) {
      // A small file is read once, whole, and kept while its stat is the same.
      const bytes = yield* call(fs.readFile(target));
      if (bytes.length === size && keep(entry, bytes.length)) {
        entry.body = bytes;
        fit();
      }
    }
    res.raw.writeHead(status, headers);
    if (req.method === "HEAD" || length === 0) {
      res.raw.end();
      return;
    }
    yield* sendBytes(res, target, entry.body, start, end, size);
  }

  return function* serveStatic(req, res) {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.send("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
      return;
    }
    const segments = pathSegments(req.path);
    if (segments === undefined) throw new HttpError(403, "forbidden path");
    if (dotfiles !== "allow" && isHidden(segments)) {
      if (dotfiles === "deny") throw new HttpError(403, "forbidden path");
      throw new HttpError(404);
    }
    for (const root of roots) {
      if (yield* fromRoot(req, res, root, segments)) return;
    }
    throw new HttpError(404);
  };
}

/**
 * Sends bytes `start` to `end` of a file: from `body` when it is in memory,
 * else one read of a small part, else a stream of the file's path (a
 * path-based stream costs less than a FileHandle's). `size` is what the
 * stat said (0 when unknown): a file that shrank since is cut off, not
 * padded, so the client sees a broken answer rather than waiting.
 */
function* sendBytes(
  res: Response,
  path: string,
  body: Buffer | undefined,
  start: number,
  end: number,
  size: number,
): Generator<unknown, void, any> {
  if (body !== undefined) {
    res.raw.end(start === 0 && end === body.length - 1 ? body : body.subarray(start, end + 1));
    return;
  }
  const length = end - start + 1;
  if (length <= SMALL_FILE_BYTES && size > 0) {
    // One open, one read and one write: no stream to set up for a small part.
    const opened = yield* openFile(path);
    if (opened === null) {
      res.raw.destroy(); // gone since its stat: the answer has started, so cut it off
      return;
    }
    try {
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = yield* call(opened.handle.read(buffer, 0, length, start));
      if (bytesRead === length) res.raw.end(buffer);
      else res.raw.destroy(); // the file shrank since its stat: a short body would leave the client waiting
    } finally {
      closeQuietly(opened.handle);
    }
    return;
  }
  yield* pipeFile(createReadStream(path, { start, end }), res.raw);
}

/**
 * The decoded parts of a request path, or undefined when the path tries to
 * leave the root: `..` parts (plain or percent-encoded), backslashes, NUL
 * bytes, or anything that does not decode.
 */
function pathSegments(rawPath: string): string[] | undefined {
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
  return segments;
}

/** Whether a path has a part that begins with a dot, `/.well-known/` (RFC 8615) aside. */
function isHidden(segments: string[]): boolean {
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    if (segment.charCodeAt(0) !== 46 /* "." */) continue;
    if (segment === "." || (segment === ".well-known" && i === 1)) continue;
    return true;
  }
  return false;
}

/**
 * Whether If-Match or (without it) If-Unmodified-Since fails: a 412. If-Match
 * compares entity tags strongly (RFC 9110 13.1.1), and ours are weak, so
 * only `*` (any current file) passes it.
 */
function preconditionFailed(req: Request, etag: string, mtimeMs: number): boolean {
  const match = req.headers["if-match"];
  if (match !== undefined) {
    return !match.split(",").some((tag) => {
      const t = tag.trim();
      return t === "*" || (t === etag && !t.startsWith("W/"));
    });
  }
  const since = req.headers["if-unmodified-since"];
  if (since !== undefined) {
    const time = Date.parse(since);
    return !Number.isNaN(time) && Math.floor(mtimeMs / 1000) > Math.floor(time / 1000);
  }
  return false;
}

/**
 * Whether a Range is to be read (RFC 9110 13.1.5): yes without If-Range;
 * with it, only if it names the file as it is: its Last-Modified date
 * exactly, or its entity tag compared strongly (ours are weak, so never).
 */
function rangeStillValid(req: Request, etag: string, mtimeMs: number): boolean {
  const ifRange = req.headers["if-range"];
  if (ifRange === undefined) return true;
  const value = String(ifRange).trim();
  if (value.startsWith('"') || value.startsWith("W/"))
    return value === etag && !etag.startsWith("W/");
  const time = Date.parse(value);
  return !Number.isNaN(time) && Math.floor(mtimeMs / 1000) * 1000 === time;
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

/**
 * One "bytes=a-b" range: [start, end], null when unsatisfiable (416),
 * undefined when ignored (the whole file): several ranges, or a unit other
 * than bytes (RFC 9110 14.2: a server must ignore a unit it does not know).
 */
function parseRange(header: string, size: number): [number, number] | null | undefined {
  const trimmed = header.trim();
  const equals = trimmed.indexOf("=");
  if (equals < 0 || trimmed.slice(0, equals).trim().toLowerCase() !== "bytes") return undefined;
  const match = /^(\d*)-(\d*)$/.exec(trimmed.slice(equals + 1).trim());
  if (match === null) return trimmed.includes(",") ? undefined : null;
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
