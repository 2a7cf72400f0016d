/**
 * The web server example: `examples/webserver`, what `npm start` runs.
 *
 * Each test starts the real program as a child process on a free port
 * (PORT=0; it prints the URL it got), talks to it over HTTP on 127.0.0.1,
 * and stops it with SIGINT, as Ctrl-C would: it must close gracefully and
 * exit with status 0.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  type History,
  publicDir,
  type Stats,
  snapshotTasks,
  type TaskNode,
  TREE_LIMIT,
  webServer,
} from "../examples/webserver/server.ts";
import { routine, sleep, spawn as spawnTask, VirtualClock, Worker } from "../src/index.ts";
import type { HttpServer } from "../src/node/http.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

interface Program {
  child: ChildProcess;
  /** "http://127.0.0.1:PORT", no trailing slash. */
  url: string;
  output: () => string;
  /** Sends a signal and gives the exit code (null if a signal ended it). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `node --import tsx examples/webserver/main.ts ...args` and waits for its URL. */
function start(args: string[] = [], env: Record<string, string> = {}): Promise<Program> {
  return startCommand(
    [process.execPath, "--import", "tsx", "examples/webserver/main.ts", ...args],
    env,
  );
}

/**
 * Starts `argv` from the project's root with PORT=0 and waits (at most
 * `seconds`) for the URL it prints. With `group`, the child leads a
 * process group of its own, as a terminal's foreground job does.
 */
async function startCommand(
  argv: string[],
  env: Record<string, string> = {},
  { seconds = 20, group = false } = {},
): Promise<Program> {
  const [file, ...args] = argv as [string, ...string[]];
  const child = spawn(file, args, {
    cwd: root,
    env: { ...process.env, PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: group,
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no URL within ${seconds} s:\n${output}`)),
      seconds * 1000,
    );
    const look = () => {
      const match = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    };
    child.stdout?.on("data", look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    child,
    url,
    output: () => output,
    async stop(signal = "SIGINT") {
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** A GET on a new connection (no keep-alive), so a cluster can hand it to any process. */
function get(url: string): Promise<Response> {
  return fetch(url, { headers: { connection: "close" }, signal: AbortSignal.timeout(5000) });
}

/** Sends a request target exactly as written (fetch would normalise "..") and gives the status line. */
function rawGet(url: string, target: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
    });
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      data += chunk;
    });
    socket.on("end", () => resolve(data.split("\r\n")[0] as string));
    socket.on("error", reject);
    socket.setTimeout(5000, () => socket.destroy(new Error("no answer within 5 s")));
  });
}

/** Every node of a task tree, parents before their children. */
function nodesOf(tree: TaskNode[]): TaskNode[] {
  return tree.flatMap((node) => [node, ...nodesOf(node.children)]);
}

/** The events of a server-sent event stream read so far: each one's name ("message" if none) and data. */
function eventsOf(received: string): { event: string; data: string }[] {
  return received
    .split("\n\n")
    .slice(0, -1) // the last part is an event not yet complete (or empty)
    .map((block) => ({
      event: /^event: (.*)$/m.exec(block)?.[1] ?? "message",
      data: /^data: (.*)$/m.exec(block)?.[1] ?? "",
    }));
}

/** Reads an open event stream until `count` events have come whole. */
async function readEvents(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  count: number,
): Promise<{ event: string; data: string }[]> {
  const decoder = new TextDecoder();
  let received = "";
  while (eventsOf(received).length < count) {
    const { value, done } = await reader.read();
    assert.ok(!done, "the stream stays open while the server runs");
    received += decoder.decode(value, { stream: true });
  }
  return eventsOf(received);
}

describe("web server (npm start)", () => {
  it("serves its pages, static files and the live APIs, refuses a way out, and exits 0 on SIGINT", async () => {
    const program = await start();
    try {
      assert.match(program.output(), /clockwork web server on http:\/\/127\.0\.0\.1:\d+\//);

      const home = await get(`${program.url}/`);
      assert.equal(home.status, 200);
      assert.match(home.headers.get("content-type") ?? "", /text\/html/);
      assert.match(await home.text(), /<html/);

      const status = await get(`${program.url}/status`);
      assert.equal(status.status, 200);
      assert.match(await status.text(), /api\/stats/, "the status page reads the stats API");

      const css = await get(`${program.url}/style.css`);
      assert.equal(css.status, 200);
      assert.match(css.headers.get("content-type") ?? "", /text\/css/);
      await css.text();

      const stats = (await (await get(`${program.url}/api/stats`)).json()) as Stats;
      assert.equal(typeof stats.pid, "number");
      assert.equal(typeof stats.uptime, "number");
      assert.ok(stats.requests >= 3, "the pages above were counted");
      assert.ok(stats.tasks.total >= 3, "the program, the meter, the server and this request");
      assert.equal(typeof stats.stepsPerSecond, "number");

      const history = (await (await get(`${program.url}/api/history`)).json()) as History;
      assert.equal(history.interval, 1);
      assert.equal(history.keep, 300, "five minutes of samples, one a second");
      assert.ok(history.samples.length >= 1, "the meter sampled at the start");
      assert.equal(typeof history.samples[0]?.requestsPerSecond, "number");

      const dump = await (await get(`${program.url}/api/tasks`)).text();
      assert.match(dump, /task "http server 127\.0\.0\.1:\d+"/);
      assert.match(dump, /task "steps meter" waiting on sleep/);
      assert.match(dump, /task "GET \/api\/tasks" running/, "the request sees its own task");

      const missing = await get(`${program.url}/no-such-file.txt`);
      assert.equal(missing.status, 404);
      await missing.text();

      assert.match(await rawGet(program.url, "/../package.json"), /^HTTP\/1\.1 403/);
      assert.match(await rawGet(program.url, "/%2e%2e/%2e%2e/package.json"), /^HTTP\/1\.1 403/);
      assert.match(await rawGet(program.url, "/..%2f..%2fpackage.json"), /^HTTP\/1\.1 403/);
    } finally {
      const code = await program.stop("SIGINT");
      assert.equal(code, 0, program.output());
    }
    assert.match(program.output(), /SIGINT: closing/);
    assert.match(program.output(), /closed\n$/);
  });

  it("counts its live tasks from the very tree it shows: one snapshot, in /api/stats and in each event of /api/stream", async () => {
    const program = await start();
    try {
      const stats = (await (await get(`${program.url}/api/stats`)).json()) as Stats;
      const nodes = nodesOf(stats.tree);
      assert.equal(stats.omitted, 0);
      assert.equal(nodes.length, stats.tasks.total, "the count is the tree's");
      const runnable = nodes.filter((n) => n.state === "running" || n.state === "runnable");
      assert.equal(runnable.length, stats.tasks.runnable);
      assert.equal(nodes.length - runnable.length, stats.tasks.waiting);
      // The request asking is a live task too, and the one running as the snapshot is taken.
      const own = nodes.find((n) => n.name === "GET /api/stats");
      assert.equal(own?.state, "running");
      assert.equal(own?.doing, "running");
      const meter = nodes.find((n) => n.name === "steps meter");
      assert.match(meter?.doing ?? "", /^waiting on sleep until \d/);
      assert.deepEqual(meter?.stack, ["repeat"]);
      const server = stats.tree
        .flatMap((n) => n.children)
        .find((n) => /^http server 127\.0\.0\.1:\d+$/.test(n.name));
      assert.ok(server?.children.includes(own as TaskNode), "requests are children of the server");

      // The stream: each event carries its tree, and its count is that tree's.
      const response = await fetch(`${program.url}/api/stream`, {
        signal: AbortSignal.timeout(10_000),
      });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const events = (await readEvents(reader, 3)).filter((e) => e.event === "message");
      assert.ok(events.length >= 2, "the stats now, then the meter's");
      for (const { data } of events) {
        const event = JSON.parse(data) as Stats;
        const tree = nodesOf(event.tree);
        assert.equal(tree.length + event.omitted, event.tasks.total, data);
        assert.ok(
          tree.some((n) => n.name === "GET /api/stream"),
          "the stream's own task is in its tree",
        );
      }
      await reader.cancel();
    } finally {
      assert.equal(await program.stop("SIGINT"), 0, program.output());
    }
  });

  it("lets a download in flight finish when it is told to stop (SIGTERM), then exits 0", async () => {
    const program = await start();
    // A response read slowly: the body is still flowing when the signal comes.
    const response = await get(`${program.url}/status`);
    const stopping = program.stop("SIGTERM");
    const body = await response.text();
    assert.match(body, /<\/html>/, "the whole page arrived");
    assert.equal(await stopping, 0, program.output());
    assert.match(program.output(), /SIGTERM: closing/);
  });

  it("streams its stats as server-sent events, and ends the stream cleanly when told to stop", async () => {
    const program = await start();
    const response = await fetch(`${program.url}/api/stream`, {
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const events = await readEvents(reader, 2);
    assert.equal(events[0]?.event, "history", "first the samples kept, for the charts");
    const history = JSON.parse(events[0]?.data as string) as History;
    assert.ok(history.samples.length >= 1);
    assert.equal(events[1]?.event, "message", "then the stats");
    const first = JSON.parse(events[1]?.data as string) as Stats;
    assert.equal(first.pid, program.child.pid);
    assert.equal(typeof first.requestsPerSecond, "number");
    // Stopping: the stream's task ends itself (no waiting out the 5 s grace), the body ends.
    const asked = Date.now();
    const stopping = program.stop("SIGINT");
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    assert.equal(await stopping, 0, program.output());
    assert.ok(Date.now() - asked < 3000, `stopped after ${Date.now() - asked} ms`);
  });

  it("runs N processes with --cluster N, which share the port and stop together", async () => {
    const program = await start(["--cluster", "2"]);
    try {
      assert.match(program.output(), /in 2 processes/);
      const pids = new Set<number>();
      for (let i = 0; i < 20 && pids.size < 2; i++) {
        const stats = (await (await get(`${program.url}/api/stats`)).json()) as { pid: number };
        pids.add(stats.pid);
      }
      assert.equal(pids.size, 2, "requests were answered by two processes");
      assert.ok(!pids.has(program.child.pid as number), "the primary only supervises");
    } finally {
      assert.equal(await program.stop("SIGINT"), 0, program.output());
    }
  });

  it("answers bad usage with a message and status 2", async () => {
    for (const [args, env, message] of [
      [["--cluster", "two"], {}, /--cluster expects a whole number, got "two"/],
      [[], { PORT: "http" }, /PORT expects a whole number, got "http"/],
      [["--verbose"], {}, /Unknown option '--verbose'/],
    ] as const) {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "examples/webserver/main.ts", ...args],
        {
          cwd: root,
          env: { ...process.env, PORT: "0", ...env },
        },
      );
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk;
      });
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      assert.equal(code, 2, stderr);
      assert.match(stderr, message);
      assert.match(stderr, /usage: npm start/);
    }
  });
});

/**
 * `npm start` as a service manager or a container runtime runs it: the
 * signal goes to the process it started, npm. npm passes SIGINT and SIGTERM
 * on to its child, so that child must be the server itself (node on the
 * built program, started by `exec`), not a shell or tsx that would die and
 * leave the server running.
 */
describe("npm start, stopped as a service manager stops it", () => {
  /** npm, as this test was started by it (npm_execpath), else from the PATH. */
  const { npm_execpath: npmCli } = process.env;
  const npm = npmCli?.endsWith(".js") ? [process.execPath, npmCli] : ["npm"];

  /** The parent of a process, from /proc (Linux), or undefined. */
  function parentOf(pid: number): number | undefined {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
      return undefined;
    }
  }

  function isAlive(pid: number): boolean {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  for (const [signal, to] of [
    ["SIGTERM", "npm's process"],
    ["SIGINT", "the whole process group, as Ctrl-C in a terminal"],
  ] as const) {
    it(`builds, starts node on the built server, and on ${signal} to ${to} closes gracefully: exit 0, at once, nothing left running`, async () => {
      const program = await startCommand([...npm, "start"], {}, { seconds: 120, group: true });
      const npmPid = program.child.pid as number;
      let serverPid = 0;
      try {
        const stats = (await (await get(`${program.url}/api/stats`)).json()) as Stats;
        serverPid = stats.pid;
        const parent = parentOf(serverPid);
        if (parent !== undefined) assert.equal(parent, npmPid, "npm started node itself");
        const asked = Date.now();
        if (signal === "SIGTERM") process.kill(npmPid, signal);
        else process.kill(-npmPid, signal);
        const code = await new Promise<number | null>((resolve) =>
          program.child.once("exit", resolve),
        );
        const took = Date.now() - asked;
        assert.equal(code, 0, program.output());
        assert.match(program.output(), new RegExp(`${signal}: closing`));
        assert.match(program.output(), /closed\n$/);
        assert.ok(took < 3000, `npm exited ${took} ms after the ${signal}`);
        assert.ok(!isAlive(serverPid), "the server is gone");
      } finally {
        // Whatever failed, nothing of it is left running.
        for (const pid of [-npmPid, serverPid]) {
          if (pid !== 0 && isAlive(pid)) process.kill(pid, "SIGKILL");
        }
      }
    });
  }
});

/**
 * The history the status page's charts start from: the server's meter
 * keeps its latest samples (one a second) in a ring. Here the server runs
 * in this process, on a worker of the test's, keeping 3 samples.
 */
describe("the web server's history of samples", { timeout: 30_000 }, () => {
  /** Runs webServer on a worker of its own until `use` is done; gives what `use` gives. */
  async function withServer<T>(history: number, use: (url: string) => Promise<T>): Promise<T> {
    const worker = new Worker();
    let stop: () => void = () => {};
    const shutdown = new Promise<void>((resolve) => {
      stop = resolve;
    });
    let listening: (server: HttpServer) => void = () => {};
    const ready = new Promise<HttpServer>((resolve) => {
      listening = resolve;
    });
    const options = { host: "127.0.0.1", port: 0, roots: [publicDir], history };
    worker.assign(webServer(worker, { ...options, onListening: listening }, shutdown));
    const serving = worker.run();
    try {
      const server = await Promise.race([ready, serving.then(() => assert.fail("it ended"))]);
      return await use(server.url);
    } finally {
      stop();
      await serving;
    }
  }

  const historyOf = async (url: string) =>
    (await (await get(`${url}/api/history`)).json()) as History;
  /** The times of a history's samples, oldest first. */
  const uptimes = (history: History) => history.samples.map((sample) => sample.uptime);

  it("keeps the last samples, one a second, oldest first; older ones are dropped", async () => {
    await withServer(3, async (url) => {
      // Until the ring is full and its first sample (taken at the start) has been dropped.
      let history = await historyOf(url);
      for (
        let i = 0;
        i < 40 && !(uptimes(history).length === 3 && (uptimes(history)[0] as number) > 0.5);
        i++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        history = await historyOf(url);
      }
      assert.equal(history.keep, 3);
      assert.equal(history.samples.length, 3, JSON.stringify(history));
      const [first, second, third] = uptimes(history) as [number, number, number];
      assert.ok(first > 0.5, "the sample taken at the start was dropped");
      for (const gap of [second - first, third - second]) {
        assert.ok(gap > 0.9 && gap < 2, `a second apart, not ${gap} s`);
      }
      for (const sample of history.samples) {
        assert.ok(sample.liveTasks >= 3, "the server, its meter, its http server at least");
        assert.ok(sample.stepsPerSecond > 0, "the meter's own steps at least");
      }
    });
  });

  it("counts the requests of each second, and the stream starts with the samples kept", async () => {
    await withServer(3, async (url) => {
      const before = (await (await get(`${url}/api/stats`)).json()) as Stats;
      await Promise.all(
        Array.from({ length: 20 }, async () => (await get(`${url}/style.css`)).text()),
      );
      const after = (await (await get(`${url}/api/stats`)).json()) as Stats;
      // Until a sample taken after the burst is kept.
      let history = await historyOf(url);
      for (let i = 0; i < 20 && (uptimes(history).at(-1) ?? 0) <= after.uptime; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        history = await historyOf(url);
      }
      const since = history.samples.filter((s) => s.uptime > before.uptime);
      const counted = since.reduce((sum, s) => sum + s.requestsPerSecond, 0);
      assert.ok(counted >= 21, `the burst and the request after it, counted: ${counted}`);

      const response = await fetch(`${url}/api/stream`, { signal: AbortSignal.timeout(10_000) });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const [first] = await readEvents(reader, 1);
      await reader.cancel();
      assert.equal(first?.event, "history");
      const streamed = JSON.parse(first?.data as string) as History;
      assert.equal(streamed.keep, 3);
      assert.ok(streamed.samples.length >= 2, "the samples kept so far");
      assert.ok(
        (uptimes(streamed).at(-1) ?? 0) >= (uptimes(history).at(-1) ?? 1),
        "the latest ones",
      );
    });
  });

  it("refuses a history that is no whole number above 0", async () => {
    const worker = new Worker();
    worker.assign(
      webServer(worker, { host: "127.0.0.1", port: 0, history: 0 }, new Promise(() => {})),
    );
    await assert.rejects(worker.run(), {
      name: "RangeError",
      message: 'webServer option "history" expects a whole number above 0, got 0',
    });
  });
});

/**
 * A snapshot of a busy worker: the tree holds at most TREE_LIMIT tasks
 * (the first ones, depth first), the count holds them all, and each drawn
 * task says what it waits on, however many are live.
 */
describe("a snapshot of the tasks of a busy server", () => {
  /** A worker with one task that has spawned `n` sleeping children. */
  function busyWorker(n: number): Worker {
    const worker = new Worker({ clock: new VirtualClock() });
    worker.assign(
      routine(function* parent() {
        for (let i = 0; i < n; i++) spawnTask(sleep(60), { name: `request ${i}` });
        yield* sleep(60);
      })(),
    );
    while (worker.tick()) {}
    return worker;
  }

  it("draws the first TREE_LIMIT tasks and counts every one", () => {
    const { tasks, tree, omitted } = snapshotTasks(busyWorker(300));
    assert.deepEqual(tasks, { total: 301, runnable: 0, waiting: 301 });
    assert.equal(nodesOf(tree).length, TREE_LIMIT);
    assert.equal(omitted, 301 - TREE_LIMIT);
    const [parent] = tree;
    assert.equal(parent?.name, "parent");
    assert.match(parent?.doing ?? "", /^waiting on sleep until 60\.000/);
    assert.deepEqual(
      parent?.children.slice(0, 2).map((n) => [n.name, n.doing]),
      [
        ["request 0", "waiting on sleep until 60.000"],
        ["request 1", "waiting on sleep until 60.000"],
      ],
      "the oldest first, each with what it waits on",
    );
  });

  it("says what each drawn task waits on, with 5,000 tasks live too", () => {
    const { tasks, tree } = snapshotTasks(busyWorker(5000));
    assert.equal(tasks.total, 5001);
    assert.match(tree[0]?.doing ?? "", /^waiting on sleep until 60\.000/);
    assert.equal(tree[0]?.children[0]?.doing, "waiting on sleep until 60.000");
  });
});
