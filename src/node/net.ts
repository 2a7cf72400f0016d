/// <reference types="node" />
/**
 * TCP sockets as routines: `clockwork-microthreads/net`.
 *
 * The original library left asynchronous sockets as a TODO. Here a task
 * reads and writes a socket as if it blocked, and parks meanwhile:
 * `read()`, `readLine()` and `readExactly()` wait for data, `write()` waits
 * while the socket's buffer is full (back-pressure). Incoming data beyond a
 * high-water mark pauses the socket, so a slow reader slows its peer down
 * instead of filling memory. Errors (a peer reset) are thrown into the
 * task that reads or writes, and touch no other connection.
 *
 * `listen()` starts a server task, a child of the calling task, which runs
 * `handler(connection)` for each connection as its own child: cancelling
 * the server (or the task that started it) cancels its connections.
 * Built only on the core's public API.
 */
import * as net from "node:net";
import { Channel, ChannelClosedError, park, routine, spawn, type Task } from "../index.ts";

/** Bytes buffered from a socket before reading from it pauses. */
const HIGH_WATER = 64 * 1024;

/** A TCP connection, read and written by routines. */
export class Connection {
  /** The socket, for what this class does not cover (addresses, options). */
  readonly socket: net.Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;
  #error: Error | null = null;
  /** The parked reader or writer's waker, while one waits. */
  #readWaiter: (() => void) | null = null;
  #drainWaiter: (() => void) | null = null;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      if (this.#buffer.length >= HIGH_WATER) socket.pause();
      this.#notifyReader();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notifyReader();
    });
    socket.on("error", (error) => {
      this.#error = error;
      this.#notifyReader();
      this.#notifyWriter();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notifyReader();
      this.#notifyWriter();
    });
    socket.on("drain", () => this.#notifyWriter());
  }

  /** The next bytes that arrived, or null once the peer has ended the connection. */
  read(): Generator<unknown, Uint8Array | null, any> {
    return readRoutine(this) as Generator<unknown, Uint8Array | null, any>;
  }

  /**
   * The next line, without its "\n" (and "\r"), or null at the end. A last
   * line without a newline is returned as it is. A line longer than
   * `maxLength` bytes (default 64 KiB) throws.
   */
  readLine(options: { maxLength?: number } = {}): Generator<unknown, string | null, any> {
    const maxLength = options.maxLength ?? 64 * 1024;
    if (!(maxLength > 0))
      throw new RangeError(`readLine() option "maxLength" expects bytes above 0, got ${maxLength}`);
    return readLineRoutine(this, maxLength) as Generator<unknown, string | null, any>;
  }

  /** Exactly `n` bytes; throws if the connection ends first. */
  readExactly(n: number): Generator<unknown, Uint8Array, any> {
    if (!Number.isInteger(n) || n < 0)
      throw new RangeError(`readExactly() expects a whole number of bytes, got ${n}`);
    return readExactlyRoutine(this, n) as Generator<unknown, Uint8Array, any>;
  }

  /** Writes data, waiting while the socket's buffer is full. */
  write(data: string | Uint8Array): Generator<unknown, void, any> {
    return writeRoutine(this, data) as Generator<unknown, void, any>;
  }

  /** Ends our side of the connection (the peer reads the end); reading goes on. */
  end(): void {
    this.socket.end();
  }

  /** Closes the connection at once. */
  close(): void {
    this.socket.destroy();
  }

  /** @internal Takes up to `max` buffered bytes (all by default). */
  _take(max = Number.POSITIVE_INFINITY): Buffer {
    const taken = this.#buffer.length <= max ? this.#buffer : this.#buffer.subarray(0, max);
    this.#buffer = this.#buffer.subarray(taken.length);
    if (this.#buffer.length < HIGH_WATER / 2 && this.socket.isPaused()) this.socket.resume();
    return taken;
  }

  /** @internal The buffered bytes, not taken. */
  _peek(): Buffer {
    return this.#buffer;
  }

  /** @internal Throws a socket error, if one came. */
  _check(): void {
    if (this.#error !== null) throw this.#error;
  }

  /** @internal Whether the peer has ended (no more data will come). */
  get _ended(): boolean {
    return this.#ended;
  }

  /** @internal Parks the current task until more data, the end, or an error comes. */
  _waitForData(): Generator<unknown, void, any> {
    return park<void>(({ wake }) => {
      this.#readWaiter = () => wake();
      return () => {
        this.#readWaiter = null;
      };
    }, "data from a connection");
  }

  /** @internal Parks the current task until the socket drains (or fails). */
  _waitForDrain(): Generator<unknown, void, any> {
    return park<void>(({ wake }) => {
      this.#drainWaiter = () => wake();
      return () => {
        this.#drainWaiter = null;
      };
    }, "a connection's send buffer to drain");
  }

  #notifyReader(): void {
    const waiter = this.#readWaiter;
    this.#readWaiter = null;
    waiter?.();
  }

  #notifyWriter(): void {
    const waiter = this.#drainWaiter;
    this.#drainWaiter = null;
    waiter?.();
  }
}

const readRoutine = routine(function* read(conn: Connection) {
  for (;;) {
    if (conn._peek().length > 0) return new Uint8Array(conn._take());
    conn._check();
    if (conn._ended) return null;
    yield* conn._waitForData();
  }
});

const readLineRoutine = routine(function* readLine(conn: Connection, maxLength: number) {
  for (;;) {
    const buffered = conn._peek();
    const newline = buffered.indexOf(10);
    if (newline >= 0) {
      if (newline > maxLength)
        throw new Error(`readLine(): a line is longer than maxLength (${maxLength} bytes)`);
      const line = conn._take(newline + 1).toString("utf8", 0, newline);
      return line.endsWith("\r") ? line.slice(0, -1) : line;
    }
    if (buffered.length > maxLength) {
      throw new Error(`readLine(): a line is longer than maxLength (${maxLength} bytes)`);
    }
    conn._check();
    if (conn._ended) return buffered.length > 0 ? conn._take().toString("utf8") : null;
    yield* conn._waitForData();
  }
});

const readExactlyRoutine = routine(function* readExactly(conn: Connection, n: number) {
  for (;;) {
    if (conn._peek().length >= n) return new Uint8Array(conn._take(n));
    conn._check();
    if (conn._ended) {
      throw new Error(`readExactly(${n}): the connection ended after ${conn._peek().length} bytes`);
    }
    yield* conn._waitForData();
  }
});

const writeRoutine = routine(function* write(conn: Connection, data: string | Uint8Array) {
  conn._check();
  if (conn.socket.destroyed) throw new Error("write(): the connection is closed");
  if (conn.socket.write(data)) return;
  while (conn.socket.writableNeedDrain && !conn.socket.destroyed) {
    yield* conn._waitForDrain();
    conn._check();
  }
});

/** A listening TCP server. */
export class Server {
  /** The port it listens on (the one chosen, when asked for port 0). */
  readonly port: number;
  /** The address it listens on. */
  readonly host: string;
  /** @internal */
  readonly _server: net.Server;
  /** @internal The task that accepts connections; its children are the connections. */
  _task: Task<unknown> | null = null;

  /** @internal */
  constructor(server: net.Server, host: string) {
    this._server = server;
    this.host = host;
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** Stops listening and cancels every connection task. */
  close(): void {
    this._server.close();
    this._task?.cancel();
  }
}

/** Options for `listen()`. */
export interface ListenOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
}

/**
 * Listens for TCP connections; gives the Server once it is bound. Each
 * connection runs `handler(connection)` as a task (a child of the server's
 * task, itself a child of the caller); the connection is closed when the
 * handler ends, however it ends.
 *
 * @example
 * const server = yield* listen({ port: 0 }, function* echo(conn) {
 *   for (let line = yield* conn.readLine(); line !== null; line = yield* conn.readLine()) {
 *     yield* conn.write(`${line}\n`);
 *   }
 * });
 */
export function listen(
  options: ListenOptions,
  handler: (connection: Connection) => Generator<unknown, unknown, any>,
): Generator<unknown, Server, any> {
  if (typeof handler !== "function")
    throw new TypeError("listen() expects a handler routine, a function");
  return listenRoutine(options, handler) as Generator<unknown, Server, any>;
}

const listenRoutine = routine(function* listen(
  options: ListenOptions,
  handler: (connection: Connection) => Generator<unknown, unknown, any>,
) {
  const host = options.host ?? "127.0.0.1";
  const accepted = new Channel<net.Socket>(Number.MAX_SAFE_INTEGER);
  const raw = net.createServer((socket) => {
    if (!accepted.closed) accepted.trySend(socket);
    else socket.destroy();
  });
  let bound = false;
  try {
    yield* park<void>(
      ({ wake, fail }) => {
        raw.once("error", fail);
        raw.listen(options.port ?? 0, host, () => {
          raw.off("error", fail);
          wake();
        });
      },
      `binding ${host}:${options.port ?? 0}`,
    );
    bound = true;
  } finally {
    if (!bound) raw.close(); // failed, or cancelled while binding
  }
  raw.on("close", () => accepted.close());
  const server = new Server(raw, host);
  server._task = spawn(serve(server, accepted, handler), { name: `server ${host}:${server.port}` });
  return server;
});

const serve = routine(function* serve(
  server: Server,
  accepted: Channel<net.Socket>,
  handler: (connection: Connection) => Generator<unknown, unknown, any>,
) {
  try {
    for (;;) {
      const socket = yield* accepted.receive();
      spawn(connectionRoutine(new Connection(socket), handler), {
        name: `connection from ${socket.remoteAddress}:${socket.remotePort}`,
      });
    }
  } catch (error) {
    if (!(error instanceof ChannelClosedError)) throw error;
  } finally {
    server._server.close();
    accepted.close();
    for (let r = accepted.tryReceive(); r.ok; r = accepted.tryReceive()) r.value.destroy();
  }
});

const connectionRoutine = routine(function* connection(
  conn: Connection,
  handler: (connection: Connection) => Generator<unknown, unknown, any>,
) {
  try {
    yield* handler(conn);
  } finally {
    conn.socket.end();
    conn.socket.destroy();
  }
});

/** Connects to a TCP server; gives the Connection once it is open. */
export function connect(options: {
  host?: string;
  port: number;
}): Generator<unknown, Connection, any> {
  if (!Number.isInteger(options?.port))
    throw new TypeError(`connect() expects a port number, got ${options?.port}`);
  return connectRoutine(options.host ?? "127.0.0.1", options.port) as Generator<
    unknown,
    Connection,
    any
  >;
}

const connectRoutine = routine(function* connect(host: string, port: number) {
  const socket = net.connect({ host, port });
  let connected = false;
  try {
    yield* park<void>(({ wake, fail }) => {
      socket.once("connect", () => {
        socket.off("error", fail);
        wake();
      });
      socket.once("error", fail);
    }, `connecting to ${host}:${port}`);
    connected = true;
  } finally {
    if (!connected) socket.destroy(); // refused, or cancelled while connecting
  }
  return new Connection(socket);
});
