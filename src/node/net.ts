/// <reference types="node" />
/**
 * TCP sockets as routines: `clockwork-microthreads/net`.
 *
 * The original library left asynchronous sockets as a TODO. Here a task
 * reads and writes a socket as if it blocked, and parks meanwhile:
 * `read()`, `readLine()` and `readExactly()` wait for data, `write()` waits
 * until the OS has taken the bytes (back-pressure). Incoming data beyond a
 * high-water mark pauses the socket, so a slow reader slows its peer down
 * instead of filling memory. Errors (a peer reset) are thrown into the
 * task that reads or writes, and touch no other connection: every socket
 * has its error listener from the moment it exists (accepted, or being
 * connected), so a reset that comes before its task's first step waits for
 * that task's first read or write instead of killing the process.
 *
 * `listen()` starts a server task, a child of the calling task, which runs
 * `handler(connection)` for each connection as its own child: cancelling
 * the server (or the task that started it) cancels its connections. A
 * handler's error ends its connection only: the connection's own failure
 * (a reset, a broken pipe) quietly, as nobody is left to tell, and any
 * other error through `onError`. A connection is half-open when the peer
 * ends its side first: reading gives null, writing still delivers (the peer
 * may be waiting for an answer, as TCP allows), until our side ends or the
 * connection closes. Built only on the core's public API.
 */
import * as net from "node:net";
import { Channel, ChannelClosedError, park, routine, spawn, type Task } from "../index.ts";

/** Bytes buffered from a socket before reading from it pauses. */
const HIGH_WATER = 64 * 1024;

/** A TCP connection, read and written by routines. */
export class Connection {
  /** The socket, for what this class does not cover (addresses, options). */
  readonly socket: net.Socket;
  /** The peer's address and port ("127.0.0.1:50312"), as they were when the connection was made. */
  readonly peer: string;
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;
  #error: Error | null = null;
  /** The parked reader or writer's waker, while one waits. */
  #readWaiter: (() => void) | null = null;
  #flushWaiter: (() => void) | null = null;
  /** @internal The callback of every write(): wakes the writer waiting for its bytes to go out. */
  readonly _flushed: () => void;

  /** Wraps a socket; `peer` defaults to the socket's remote address and port. */
  constructor(socket: net.Socket, peer = `${socket.remoteAddress}:${socket.remotePort}`) {
    this.socket = socket;
    this.peer = peer;
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
    this._flushed = () => this.#notifyWriter();
  }

  /** The next bytes that arrived, or null once the peer has ended the connection. */
  read(): Generator<unknown, Uint8Array | null, any> {
    return readRoutine(this) as Generator<unknown, Uint8Array | null, any>;
  }

  /**
   * The next line, without its "\n" (and "\r"), or null at the end. A last
   * line without a newline is returned as it is. A line must fit in
   * `maxLength` bytes (default 64 KiB) together with its newline, as in Go's
   * `bufio.Scanner`: a longer one throws, and what was read of it stays
   * buffered.
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

  /**
   * Writes data. Like Go's `Write`, it returns once the bytes are with the
   * operating system, waiting meanwhile (back-pressure from a slow peer),
   * so a `close()` or the end of a handler right after it loses nothing.
   * After the peer has ended its side, writing goes on (the connection is
   * half-open, as TCP allows; the peer may still be reading). Throws the
   * connection's error (a reset, a broken pipe), or a clear error after
   * `end()` or `close()`: bytes are never dropped without a word.
   */
  write(data: string | Uint8Array): Generator<unknown, void, any> {
    return writeRoutine(this, data) as Generator<unknown, void, any>;
  }

  /**
   * Ends our side of the connection (the peer reads the end, after what was
   * written); reading goes on. A `write()` after it throws.
   */
  end(): void {
    this.socket.end();
  }

  /** Closes the connection at once (what `write()` gave the OS still goes out). */
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

  /** @internal Whether `error` is this connection's own failure (what its socket reported). */
  _failedWith(error: unknown): boolean {
    return error !== null && error === this.#error;
  }

  /** @internal Whether the peer has ended (no more data will come). */
  get _ended(): boolean {
    return this.#ended;
  }

  /**
   * @internal Parks the current task until more data, the end, or an error
   * comes. A reader waits only when it needs more than is buffered, so a
   * socket paused at the high-water mark is resumed here: a `readExactly(n)`
   * or a line longer than the mark would otherwise wait for bytes the
   * paused socket never reads. What is buffered then stays bounded by what
   * the reader asked for.
   */
  _waitForData(): Generator<unknown, void, any> {
    if (this.socket.isPaused()) this.socket.resume();
    return park<void>(({ wake }) => {
      this.#readWaiter = () => wake();
      return () => {
        this.#readWaiter = null;
      };
    }, "data from a connection");
  }

  /** @internal Parks the current task until a write has gone out to the OS (or the socket fails). */
  _waitForFlush(): Generator<unknown, void, any> {
    return park<void>(({ wake }) => {
      this.#flushWaiter = () => wake();
      return () => {
        this.#flushWaiter = null;
      };
    }, "a connection's bytes to go out (a slow peer)");
  }

  #notifyReader(): void {
    const waiter = this.#readWaiter;
    this.#readWaiter = null;
    waiter?.();
  }

  #notifyWriter(): void {
    const waiter = this.#flushWaiter;
    this.#flushWaiter = null;
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
    // A newline at or past maxLength ends a line that does not fit.
    const newline = buffered.indexOf(10);
    if (newline >= 0 && newline < maxLength) {
      const line = conn._take(newline + 1).toString("utf8", 0, newline);
      return line.endsWith("\r") ? line.slice(0, -1) : line;
    }
    if (buffered.length >= maxLength) {
      throw new Error(
        `readLine(): a line does not fit in maxLength (${maxLength} bytes) with its newline`,
      );
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
  const socket = conn.socket;
  conn._check();
  if (socket.destroyed) throw new Error(`write(): the connection to ${conn.peer} is closed`);
  if (socket.writableEnded) {
    throw new Error(`write(): the connection to ${conn.peer} has ended its sending side (end())`);
  }
  socket.write(data, conn._flushed);
  // Usually the OS takes the bytes at once; otherwise wait until everything queued went out.
  while (socket.writableLength > 0) {
    yield* conn._waitForFlush();
    conn._check();
    if (socket.destroyed && socket.writableLength > 0) {
      throw new Error(
        `write(): the connection to ${conn.peer} was closed before the bytes went out`,
      );
    }
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
  /**
   * Gets every error a connection's handler threw, except the connection's
   * own failure (a reset, a broken pipe: the peer is gone, nobody is left
   * to tell). Default: printed to stderr. The server and the other
   * connections go on either way.
   */
  onError?: (error: unknown, connection: Connection) => void;
}

/**
 * Listens for TCP connections; gives the Server once it is bound. Each
 * connection runs `handler(connection)` as a task (a child of the server's
 * task, itself a child of the caller); the connection is closed when the
 * handler ends, however it ends. A handler's error ends its connection
 * only (see `onError`): one client's reset never ends the server.
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
  const onError =
    options.onError ??
    ((error: unknown, connection: Connection) => {
      console.error(`clockwork net: the connection from ${connection.peer} failed:`, error);
    });
  const accepted = new Channel<Connection>(Number.MAX_SAFE_INTEGER);
  // Half-open: a client that has sent its end may still be reading what we write.
  const raw = net.createServer({ allowHalfOpen: true }, (socket) => {
    // The Connection (and its error listener) now, not when the server task takes it: a reset
    // before then must wait for the handler, not go unheard and kill the process.
    const connection = new Connection(socket);
    if (!accepted.closed) accepted.trySend(connection);
    else connection.close();
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
  keepListening(raw, `net: accepting a connection on ${host}:${server.port}`);
  server._task = spawn(serve(server, accepted, handler, onError), {
    name: `server ${host}:${server.port}`,
  });
  return server;
});

/**
 * @internal Once a server listens, an "error" of its listening socket is an
 * accept the system refused (ENFILE, ENOBUFS, ENOMEM: the process or the
 * machine is short of something, for now). libuv goes on listening, so the
 * server goes on too, and says so on stderr, as Go's net/http logs an
 * accept error and retries. Without a listener Node would throw the error
 * and end the process; with a silent one, nobody would know why clients
 * are turned away.
 */
export function keepListening(raw: net.Server, what: string): void {
  raw.on("error", (error) => {
    console.error(`clockwork ${what} failed (the server goes on):`, error);
  });
}

const serve = routine(function* serve(
  server: Server,
  accepted: Channel<Connection>,
  handler: (connection: Connection) => Generator<unknown, unknown, any>,
  onError: (error: unknown, connection: Connection) => void,
) {
  try {
    for (;;) {
      const connection = yield* accepted.receive();
      spawn(connectionRoutine(connection, handler, onError), {
        name: `connection from ${connection.peer}`,
      });
    }
  } catch (error) {
    if (!(error instanceof ChannelClosedError)) throw error;
  } finally {
    server._server.close();
    accepted.close();
    for (let r = accepted.tryReceive(); r.ok; r = accepted.tryReceive()) r.value.close();
  }
});

/**
 * A connection's task: the handler, then the socket closed. The handler's
 * error stops here, so that it never reaches the server task (which would
 * fail, and with it every other connection).
 */
const connectionRoutine = routine(function* connection(
  conn: Connection,
  handler: (connection: Connection) => Generator<unknown, unknown, any>,
  onError: (error: unknown, connection: Connection) => void,
) {
  try {
    yield* handler(conn);
  } catch (error) {
    if (!conn._failedWith(error)) onError(error, conn);
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
  const socket = net.connect({ host, port, allowHalfOpen: true });
  // Its error listener from now on: a reset after the connect, before this task's next step,
  // is kept for the first read or write.
  const connection = new Connection(socket, `${host}:${port}`);
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
  return connection;
});
