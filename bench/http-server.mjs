// The server side of the http benchmark, in a process of its own (forked by
// bench/http.ts), so that the load generator does not share its thread.
//
//   node bench/http-server.mjs <mode> [folder]
//
// Modes: node, node-same-headers, clockwork (hello world); node-json,
// clockwork-json, fastify-json, express-json (a small JSON answer at any
// path); sirv, express-static, fastify-static, clockwork-static (the files
// of folder; express 5 with serve-static, fastify 5 with @fastify/static,
// sirv on node:http, each with its defaults).
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
/** The JSON endpoint's answer: a small object made per request, as a handler would. */
const jsonAnswer = () => ({ ok: true, time: 1_700_000_000_000, tasks: 12, names: ["a", "b"] });

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
  } else if (mode === "node-json") {
    listenNode((_req, res) => {
      const body = JSON.stringify(jsonAnswer());
      res.writeHead(200, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(body),
      });
      res.end(body);
    });
  } else if (mode === "express-json" || mode === "express-static") {
    const { default: express } = await import("express");
    const app = express();
    if (mode === "express-json") app.use((_req, res) => res.json(jsonAnswer()));
    else {
      const { default: serveStatic } = await import("serve-static");
      app.use(serveStatic(folder));
    }
    const server = app.listen(0, "127.0.0.1", () => tell({ port: server.address().port }));
  } else if (mode === "fastify-json" || mode === "fastify-static") {
    const { default: fastify } = await import("fastify");
    const app = fastify({ logger: false });
    if (mode === "fastify-json") app.get("/*", async () => jsonAnswer());
    else await app.register((await import("@fastify/static")).default, { root: folder });
    await app.listen({ port: 0, host: "127.0.0.1" });
    tell({ port: app.server.address().port });
  } else if (mode === "sirv") {
    const { default: sirv } = await import("sirv");
    const files = sirv(folder);
    listenNode((req, res) => files(req, res));
  } else if (mode === "clockwork" || mode === "clockwork-static" || mode === "clockwork-json") {
    const { Worker } = await import("../dist/index.js");
    const { serve, serveStatic } = await import("../dist/node/http.js");
    const handler =
      mode === "clockwork"
        ? function* hello_(_req, res) {
            res.text(hello);
          }
        : mode === "clockwork-json"
          ? function* json(_req, res) {
              res.json(jsonAnswer());
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
