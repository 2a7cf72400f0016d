// The server side of the http benchmark, in a process of its own (forked by
// bench/http.ts), so that the load generator does not share its thread.
//
//   node bench/http-server.mjs <node|node-same-headers|clockwork|sirv|clockwork-static> [folder]
//
// It tells its parent { port } once it listens (or { error }), then answers
// "start" and "stop" messages, as many times as asked: "stop" replies
// { cpuMs }, the CPU time (user + system) used since "start". The parent
// kills it at the end. Started without an IPC channel (as
// bench/http-instructions.mjs starts it, under valgrind), it prints those
// messages on stdout as JSON lines instead.
import * as http from "node:http";

const tell = (message) => {
  if (process.send) process.send(message);
  else process.stdout.write(`${JSON.stringify(message)}\n`);
};

const [mode, folder] = process.argv.slice(2);
const hello = "hello world\n";

function listenNode(handler) {
  const server = http.createServer(handler);
  server.listen(0, "127.0.0.1", () => tell({ port: server.address().port }));
}

async function main() {
  if (mode === "node") {
    listenNode((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(hello);
    });
  } else if (mode === "node-same-headers") {
    // The headers res.text() sends: a charset, and a content-length instead of chunks.
    listenNode((_req, res) => {
      res.writeHead(200, {
        "content-type": "text/plain; charset=utf-8",
        "content-length": Buffer.byteLength(hello),
      });
      res.end(hello);
    });
  } else if (mode === "sirv") {
    const { default: sirv } = await import("sirv");
    const files = sirv(folder);
    listenNode((req, res) => files(req, res));
  } else if (mode === "clockwork" || mode === "clockwork-static") {
    const { Worker } = await import("../dist/index.js");
    const { serve, serveStatic } = await import("../dist/node/http.js");
    const handler =
      mode === "clockwork"
        ? function* hello_(_req, res) {
            res.text(hello);
          }
        : serveStatic(folder);
    const worker = new Worker({ onError: (error) => tell({ error: String(error) }) });
    worker.assign(
      (function* main() {
        const server = yield* serve(
          { port: 0, onError: (error) => tell({ error: String(error) }) },
          handler,
        );
        tell({ port: server.port });
      })(),
    );
    void worker.run();
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

let started;
process.on("message", (message) => {
  if (message === "start") started = process.cpuUsage();
  if (message === "stop") {
    const used = process.cpuUsage(started);
    process.send({ cpuMs: (used.user + used.system) / 1000 });
  }
});

main().catch((error) => {
  const message = { error: String(error?.stack ?? error) };
  if (process.send) process.send(message, () => process.exit(1));
  else process.stdout.write(`${JSON.stringify(message)}\n`, () => process.exit(1));
});
