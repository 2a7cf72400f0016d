/**
 * HTTP under clients that misbehave at random: a property over many runs.
 *
 * Each run starts clients together against one server, each with a plan
 * drawn by fast-check: what it asks (a body echoed back, a slow answer, a
 * long streamed answer, two requests pipelined), and what it does to the
 * connection and when (a request held for long only ever leaves):
 * nothing, a reset, a hang-up, or a half-close (it
 * sends its end and goes on reading), at a stage of the exchange (just
 * connected, halfway through its headers, halfway through its body, after
 * its request, after the first bytes of the answer).
 *
 * What must hold after every run, whatever the mix:
 * - a client that behaves gets exactly its answer (one that half-closes
 *   counts as gone, as node:http and Go's net/http treat it);
 * - every handler that started has run its `finally` (the request tasks of
 *   clients that left were cancelled and unwound), and the server has no
 *   request in flight within a second;
 * - nothing was reported: no onError, no line on stderr (a client that
 *   leaves is nobody's error);
 * - the server goes on: a last, well-behaved request is answered, and
 *   close() ends the server without waiting out its grace period.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { describe, it } from "node:test";
import fc from "fast-check";
import { call, sleep, Worker } from "../src/index.ts";
import { type HttpServer, serve } from "../src/node/http.ts";
import { until } from "./support.ts";

type Ask = "echo" | "slow" | "stream" | "pipelined" | "hold";
type Fault = "none" | "reset" | "hangUp" | "halfClose";
type Stage = "connected" | "midHeaders" | "midBody" | "sent" | "midAnswer";

interface Plan {
  ask: Ask;
  fault: Fault;
  stage: Stage;
  /** Bytes of the body an echo sends. */
  size: number;
}

/** What the server did, counted by its handlers. */
interface Ledger {
  started: number;
  finished: number;
}

const STREAM_CHUNKS = 64;
/** How long /hold answers after: longer than a run waits for the server to have nothing in flight. */
const HOLD_SECONDS = 5;
const CHUNK = "x".repeat(4096);

/** The server's routes: an echo of the body, a slow answer, a long stream, a short answer. */
function handlerFor(ledger: Ledger) {
  return function* route(
    req: Parameters<Parameters<typeof serve>[1]>[0],
    res: Parameters<Parameters<typeof serve>[1]>[1],
  ) {
    ledger.started++;
    try {
      if (req.path === "/echo") res.text(yield* req.text());
      else if (req.path === "/slow") {
        yield sleep(0.02);
        res.text("slow");
      } else if (req.path === "/hold") {
        yield sleep(HOLD_SECONDS); // only a cancel ends it in time: its clients always leave
        res.text("held");
      } else if (req.path === "/stream") {
        for (let i = 0; i < STREAM_CHUNKS; i++) yield* res.write(CHUNK);
        res.end();
      } else res.text(`hello ${req.path}`);
    } finally {
      ledger.finished++;
    }
  };
}

/** The request bytes of a plan, cut where a fault at `midHeaders` or `midBody` strikes. */
function requestOf(plan: Plan): { head: string; body: string } {
  switch (plan.ask) {
    case "echo": {
      const body = "b".repeat(plan.size);
      return {
        head: `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`,
        body,
      };
    }
    case "slow":
      return { head: "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", body: "" };
    case "stream":
      return { head: "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", body: "" };
    case "hold":
      return { head: "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n", body: "" };
    case "pipelined":
      return {
        head: "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n",
        body: "",
      };
  }
}

/** The bodies a well-behaved client of a plan expects, in order. */
function expectedBodies(plan: Plan): string[] {
  switch (plan.ask) {
    case "echo":
      return ["b".repeat(plan.size)];
    case "slow":
      return ["slow"];
    case "hold":
      return ["held"];
    case "stream":
      return [CHUNK.repeat(STREAM_CHUNKS)];
    case "pipelined":
      return ["hello /one", "hello /two"];
  }
}

/** Reads HTTP/1.1 answers (content-length or chunked) off `bytes`; gives the bodies complete so far. */
function parseAnswers(bytes: string): string[] {
  const bodies: string[] = [];
  let at = 0;
  for (;;) {
    const end = bytes.indexOf("\r\n\r\n", at);
    if (end < 0) return bodies;
    const head = bytes.slice(at, end);
    const length = /content-length: *(\d+)/i.exec(head);
    let body = "";
    let next = end + 4;
    if (length) {
      const n = Number(length[1]);
      if (bytes.length < next + n) return bodies;
      body = bytes.slice(next, next + n);
      next += n;
    } else if (/transfer-encoding: *chunked/i.test(head)) {
      for (;;) {
        const line = bytes.indexOf("\r\n", next);
        if (line < 0) return bodies;
        const size = Number.parseInt(bytes.slice(next, line), 16);
        if (bytes.length < line + 2 + size + 2) return bodies;
        body += bytes.slice(line + 2, line + 2 + size);
        next = line + 2 + size + 2;
        if (size === 0) break;
      }
    }
    bodies.push(body);
    at = next;
  }
}

/**
 * Plays one plan against the server; gives the bodies of the answers it
 * read whole. Every socket event has a listener; the whole play is bounded
 * by 3 s (a client left hanging fails the run).
 */
function play(port: number, plan: Plan): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    let received = "";
    let settled = false;
    const timer = setTimeout(
      () => finish(new Error(`a client hung: ${JSON.stringify(plan)}`)),
      3000,
    );
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(parseAnswers(received));
    };
    const strike = (): boolean => {
      if (plan.fault === "reset") {
        socket.resetAndDestroy();
        finish();
      } else if (plan.fault === "hangUp") {
        socket.destroy();
        finish();
      } else if (plan.fault === "halfClose") socket.end();
      else return false;
      return true;
    };
    const expected = expectedBodies(plan).length;
    socket.setEncoding("latin1");
    socket.on("error", () => finish()); // a reset from the server side ends the play too
    socket.on("end", () => finish());
    socket.on("close", () => finish());
    socket.on("data", (chunk: string) => {
      const first = received === "";
      received += chunk;
      if (first && plan.stage === "midAnswer" && strike()) return;
      if (parseAnswers(received).length >= expected) finish();
    });
    socket.once("connect", () => {
      const { head, body } = requestOf(plan);
      if (plan.stage === "connected" && strike()) return;
      if (plan.stage === "midHeaders") {
        socket.write(head.slice(0, head.length >> 1));
        if (strike()) return;
        socket.write(head.slice(head.length >> 1));
      } else socket.write(head);
      if (plan.stage === "midBody" && body.length > 0) {
        socket.write(body.slice(0, body.length >> 1));
        if (strike()) return;
        socket.write(body.slice(body.length >> 1));
      } else socket.write(body);
      if (plan.stage === "sent") strike();
    });
  });
}

const planArbitrary: fc.Arbitrary<Plan> = fc
  .record({
    ask: fc.constantFrom<Ask>("echo", "slow", "stream", "pipelined", "hold"),
    fault: fc.constantFrom<Fault>("none", "reset", "hangUp", "halfClose"),
    stage: fc.constantFrom<Stage>("connected", "midHeaders", "midBody", "sent", "midAnswer"),
    size: fc.integer({ min: 0, max: 100_000 }),
  })
  .map((plan) =>
    // A client of /hold leaves, before the answer (which comes after the run): once it has sent
    // its request, so that only a cancel can end its handler in time.
    plan.ask === "hold"
      ? { ...plan, fault: plan.fault === "none" ? "reset" : plan.fault, stage: "sent" }
      : plan,
  );

/**
 * Whether a client of `plan` must get all its answers: it did nothing (a
 * fault "halfway through the body" of a request without one never
 * strikes). A client that half-closes, even after its whole request, has
 * gone as far as the server can tell: node:http closes the connection
 * then (and Go's net/http cancels the request), so its answer may never
 * come; its handler must still unwind.
 */
function mustBeAnswered(plan: Plan): boolean {
  return plan.fault === "none" || (plan.stage === "midBody" && requestOf(plan).body.length === 0);
}

describe("http under clients that misbehave at random", () => {
  it("answers those that behave, unwinds every handler of those that leave, reports nothing, and goes on", async (t) => {
    const printed: string[] = [];
    t.mock.method(console, "error", (...parts: unknown[]) => {
      printed.push(parts.map(String).join(" "));
    });
    await fc.assert(
      fc.asyncProperty(fc.array(planArbitrary, { minLength: 1, maxLength: 8 }), async (plans) => {
        const ledger: Ledger = { started: 0, finished: 0 };
        const reported: unknown[] = [];
        const worker = new Worker();
        let outcome: { answers: string[][]; server: HttpServer; last: string } | undefined;
        let closedIn = Number.POSITIVE_INFINITY;
        let idle = false;
        worker.assign(
          (function* main() {
            const server = yield* serve(
              { port: 0, closeGrace: 2, onError: (error) => reported.push(error) },
              handlerFor(ledger),
            );
            try {
              const answers = yield* call(
                Promise.all(plans.map((plan) => play(server.port, plan))),
              );
              idle = yield* call(until(() => server._inFlight === 0, 1000));
              const last = yield* call(
                play(server.port, { ask: "slow", fault: "none", stage: "sent", size: 0 }),
              );
              outcome = { answers, server, last: last.join() };
            } finally {
              const started = Date.now();
              yield* server.close();
              closedIn = Date.now() - started;
            }
          })(),
        );
        await worker.run();
        assert.ok(outcome, "the run ended without its answers");
        plans.forEach((plan, i) => {
          if (mustBeAnswered(plan)) {
            assert.deepEqual(outcome?.answers[i], expectedBodies(plan), JSON.stringify(plan));
          }
        });
        assert.ok(idle, `requests still in flight: ${outcome.server._inFlight}\n${worker.dump()}`);
        assert.equal(
          ledger.finished,
          ledger.started,
          "a handler that started never ran its finally",
        );
        assert.equal(outcome.last, "slow", "the server stopped answering");
        assert.ok(closedIn < 1000, `close() took ${closedIn} ms with nothing in flight`);
        assert.deepEqual(reported, []);
        assert.deepEqual(printed, []);
      }),
      { numRuns: 60 },
    );
  });
});
