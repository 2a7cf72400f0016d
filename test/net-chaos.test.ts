/**
 * TCP under clients that misbehave at random: a property over many runs.
 *
 * Each run starts clients together against the echo server of the docs
 * (each line read is written back), each with a plan drawn by fast-check:
 * lines of random lengths, sent in chunks cut at random places, and what
 * it does to the connection and when: nothing, a reset, a hang-up, or a
 * half-close (it sends its end and goes on reading), just connected,
 * after some of its chunks, after all of them, or after the first bytes
 * of the echo.
 *
 * What must hold after every run, whatever the mix:
 * - a client that behaves, and one that half-closes, gets back exactly
 *   what it sent: TCP is half-open, and a handler that has read the end
 *   still delivers what it writes (a last line without its newline comes
 *   back as a line: readLine gives it at the end);
 * - every handler that started has ended (its connection closed), and
 *   nothing was reported: a reset is the connection's own failure;
 * - the server goes on: a last client is echoed, and close() ends it.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { describe, it } from "node:test";
import fc from "fast-check";
import { call, routine, Worker } from "../src/index.ts";
import { type Connection, listen } from "../src/node/net.ts";

type Fault = "none" | "reset" | "hangUp" | "halfClose";
type Stage = "connected" | "midSend" | "sent" | "midEcho";

interface Plan {
  /** The bytes it sends, all lines. */
  text: string;
  /** Where the text is cut into chunks (sorted offsets inside it). */
  cuts: number[];
  fault: Fault;
  stage: Stage;
}

/** What the server's handlers did. */
interface Ledger {
  started: number;
  ended: number;
}

function echoFor(ledger: Ledger) {
  return routine(function* echo(conn: Connection) {
    ledger.started++;
    try {
      for (let line = yield* conn.readLine(); line !== null; line = yield* conn.readLine()) {
        yield* conn.write(`${line}\n`);
      }
    } finally {
      ledger.ended++;
    }
  });
}

/** The chunks of a plan's text. */
function chunksOf(plan: Plan): string[] {
  const chunks: string[] = [];
  let at = 0;
  for (const cut of [...plan.cuts, plan.text.length]) {
    if (cut > at) chunks.push(plan.text.slice(at, cut));
    at = Math.max(at, cut);
  }
  return chunks;
}

/** What an echo of `sent` gives back: its lines, a last one without newline getting one. */
function echoOf(sent: string): string {
  return sent === "" || sent.endsWith("\n") ? sent : `${sent}\n`;
}

/**
 * Plays a plan; gives what it sent (before any fault) and what came back.
 * Every socket event has a listener; bounded by 3 s.
 */
function play(port: number, plan: Plan): Promise<{ sent: string; received: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    let sent = "";
    let received = "";
    let settled = false;
    const timer = setTimeout(
      () => finish(new Error(`a client hung: ${JSON.stringify(plan).slice(0, 200)}`)),
      3000,
    );
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve({ sent, received });
    };
    /** Strikes the plan's fault; true when the client is done. */
    const strike = (): boolean => {
      if (plan.fault === "reset") socket.resetAndDestroy();
      else if (plan.fault === "hangUp") socket.destroy();
      else {
        socket.end(); // half-close, or (no fault) the end of what it sends: reads on until the echo ends
        return false;
      }
      finish();
      return true;
    };
    socket.setEncoding("utf8");
    socket.on("error", () => finish());
    socket.on("end", () => finish()); // the server's end: the echo is over
    socket.on("close", () => finish());
    socket.on("data", (chunk: string) => {
      const first = received === "";
      received += chunk;
      if (first && plan.stage === "midEcho" && plan.fault !== "none") strike();
    });
    socket.once("connect", () => {
      if (plan.stage === "connected" && plan.fault !== "none") {
        strike(); // gone, or ended before a byte: it sends nothing
        return;
      }
      let struck = false;
      const chunks = chunksOf(plan);
      const half = chunks.length >> 1;
      for (const [i, chunk] of chunks.entries()) {
        if (i === half && plan.stage === "midSend" && plan.fault !== "none" && !struck) {
          struck = true;
          if (strike() || plan.fault === "halfClose") return; // gone, or ended: it sends no more
        }
        socket.write(chunk);
        sent += chunk;
      }
      // The end of what it sends (no fault), the fault after it, or one that had no place to strike
      // (no chunk to cut at; no whole line sent, so no echo comes before an end).
      if (!struck && (plan.fault === "none" || plan.stage !== "midEcho" || !sent.includes("\n"))) {
        strike();
      }
    });
  });
}

const lineArbitrary = fc.string({ maxLength: 3000, unit: fc.constantFrom("a", "b", "é", " ") });

const planArbitrary: fc.Arbitrary<Plan> = fc
  .record({
    lines: fc.array(lineArbitrary, { maxLength: 12 }),
    lastWithoutNewline: fc.boolean(),
    cutsAt: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
    fault: fc.constantFrom<Fault>("none", "reset", "hangUp", "halfClose"),
    stage: fc.constantFrom<Stage>("connected", "midSend", "sent", "midEcho"),
  })
  .map(({ lines, lastWithoutNewline, cutsAt, fault, stage }) => {
    let text = lines.map((line) => `${line}\n`).join("");
    if (lastWithoutNewline && text.length > 0) text = text.slice(0, -1);
    // Cuts between characters (é is two bytes: a cut may split it, which TCP may do too).
    const cuts = cutsAt.map((c) => Math.floor(c * text.length)).sort((a, b) => a - b);
    return { text, cuts, fault, stage };
  });

/** Whether a client must get back exactly what it sent: it behaved, or only half-closed. */
function echoedWhole(plan: Plan): boolean {
  return plan.fault === "none" || plan.fault === "halfClose";
}

describe("net under clients that misbehave at random", () => {
  it("echoes back what those that behave or half-close sent, ends every handler, reports nothing, and goes on", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(planArbitrary, { minLength: 1, maxLength: 8 }), async (plans) => {
        const ledger: Ledger = { started: 0, ended: 0 };
        const reported: unknown[] = [];
        const worker = new Worker();
        let outcome: { plays: { sent: string; received: string }[]; last: string } | undefined;
        worker.assign(
          (function* main() {
            const server = yield* listen(
              { port: 0, onError: (error) => reported.push(error) },
              echoFor(ledger),
            );
            try {
              const plays = yield* call(Promise.all(plans.map((plan) => play(server.port, plan))));
              const last = yield* call(
                play(server.port, { text: "still here\n", cuts: [], fault: "none", stage: "sent" }),
              );
              outcome = { plays, last: last.received };
            } finally {
              server.close();
            }
          })(),
        );
        await worker.run();
        assert.ok(outcome, "the run ended without its plays");
        plans.forEach((plan, i) => {
          const play = outcome?.plays[i];
          if (echoedWhole(plan) && play !== undefined) {
            assert.equal(play.received, echoOf(play.sent), JSON.stringify(plan).slice(0, 300));
          }
        });
        assert.equal(outcome.last, "still here\n", "the server stopped echoing");
        assert.equal(ledger.ended, ledger.started, "a handler never ended");
        assert.deepEqual(reported, []);
      }),
      { numRuns: 150 },
    );
  });
});
