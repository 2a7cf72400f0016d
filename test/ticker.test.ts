/**
 * Ticker: ticks at a fixed rate, as Go's `time.Ticker` does.
 *
 * The first tick comes one period after the ticker starts, then one every
 * period at fixed times, so a slow reader does not make them drift. A
 * reader that falls behind gets the earliest tick it missed at once, then
 * the next on schedule; the ones in between are dropped, never bunched.
 * Ticks are only times: nothing runs while nobody reads. A ticker made in
 * a task stops when that task ends (Go's `defer ticker.Stop()`, done for
 * you). `ticker.receive()` is an operation, so it goes in a `select`
 * beside channels.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Channel,
  select,
  sleep,
  Ticker,
  VirtualClock,
  Worker,
  WouldBlockError,
  wrap,
} from "../src/index.ts";
import { collectingWorker } from "./support.ts";

describe("Ticker", () => {
  it("ticks first after one period, then every period, giving each tick's time", () => {
    const clock = new VirtualClock();
    const seen = wrap(
      (function* main() {
        const ticker = new Ticker(0.5);
        const ticks: string[] = [];
        for (let i = 0; i < 3; i++) {
          const at = yield* ticker.receive();
          ticks.push(`${at} at ${clock.now()}`);
        }
        return ticks;
      })(),
      { clock },
    );
    assert.deepEqual(seen, ["0.5 at 0.5", "1 at 1", "1.5 at 1.5"]);
  });

  it("keeps a fixed rate under a slow reader: the earliest missed tick at once, the others dropped", () => {
    const clock = new VirtualClock();
    const seen = wrap(
      (function* main() {
        const ticker = new Ticker(1);
        const ticks: string[] = [];
        for (let i = 0; i < 3; i++) {
          const at = yield* ticker.receive();
          ticks.push(`tick ${at} read at ${clock.now()}`);
          yield sleep(2.5); // slow work
        }
        return ticks;
      })(),
      { clock },
    );
    assert.deepEqual(seen, [
      "tick 1 read at 1",
      "tick 2 read at 3.5", // the earliest missed; 3 is dropped, the next is 4
      "tick 4 read at 6", // 5 and 6 are dropped, the next is 7
    ]);
  });

  it("goes in a select beside channels: a heartbeat unless a message comes", () => {
    const { clock, worker } = collectingWorker();
    const inbox = new Channel<string>();
    const log: string[] = [];
    function* agent() {
      const ticker = new Ticker(1);
      for (let i = 0; i < 4; i++) {
        const got = yield* select({ tick: ticker.receive(), message: inbox.receive() });
        log.push(
          got.key === "tick" ? `heartbeat ${got.value}` : `message ${got.value} at ${clock.now()}`,
        );
      }
    }
    function* sender() {
      yield sleep(1.5);
      yield* inbox.send("hello");
    }
    worker.assign(agent());
    worker.assign(sender());
    worker.work();
    assert.deepEqual(log, ["heartbeat 1", "message hello at 1.5", "heartbeat 2", "heartbeat 3"]);
  });

  it("stops: a reader then waits (work() reports it), and reset() starts it again", () => {
    const { worker } = collectingWorker();
    const ticker = new Ticker(1, { clock: worker.clock });
    const reader = worker.assign(
      (function* reader() {
        return yield* ticker.receive();
      })(),
    );
    worker.tick();
    ticker.stop();
    assert.throws(
      () => worker.work(),
      (error: unknown) =>
        error instanceof WouldBlockError &&
        /a tick of a ticker \(every 1 s, stopped\)/.test(error.message),
    );
    ticker.reset(2);
    worker.work();
    assert.equal(reader.result, 2, "the first tick one new period after the reset");
  });

  it("costs nothing while nobody reads: a routine that made one and returned ends at once", () => {
    const clock = new VirtualClock();
    const worker = new Worker({ clock });
    const task = worker.assign(
      (function* owner() {
        const ticker = new Ticker(0.1);
        yield* ticker.receive();
        return ticker.describe();
      })(),
    );
    worker.work();
    assert.equal(task.result, "a ticker (every 0.1 s, next at 0.200)");
    assert.equal(worker.tasks.length, 0);
    assert.equal(clock.now(), 0.1, "no tick kept the worker going after its owner ended");
  });

  it("stops when the task that made it ends: a reader elsewhere gets no more ticks", () => {
    const { worker } = collectingWorker();
    const shared: Ticker[] = [];
    const ticks: number[] = [];
    worker.assign(
      (function* owner() {
        const ticker = new Ticker(1);
        shared.push(ticker);
        yield sleep(2.5); // ticks at 1 and 2 may be read meanwhile
      })(),
    );
    const reader = worker.assign(
      (function* reader() {
        yield; // the owner has made the ticker
        for (;;) ticks.push(yield* (shared[0] as Ticker).receive());
      })(),
    );
    assert.throws(() => worker.work(), WouldBlockError);
    assert.deepEqual(ticks, [1, 2]);
    assert.equal(reader.state, "waiting");
    assert.equal((shared[0] as Ticker).stopped, true);
    assert.throws(() => (shared[0] as Ticker).reset(), /task#1, which made the ticker, has ended/);
  });

  it("leaves no timer when a reader is cancelled while it waits", () => {
    const { clock, worker } = collectingWorker();
    const ticker = new Ticker(10, { clock });
    const reader = worker.assign(
      (function* reader() {
        yield* ticker.receive();
      })(),
    );
    worker.tick();
    reader.cancel();
    worker.work();
    assert.equal(clock.now(), 0, "nothing waited for the tick");
  });

  it("refuses a period that is not above 0 seconds", () => {
    assert.throws(() => new Ticker(0), /above 0 seconds, got 0/);
    assert.throws(() => new Ticker(-1), RangeError);
    assert.throws(() => new Ticker(Number.NaN), RangeError);
    assert.throws(() => new Ticker(1).reset(0), /Ticker.reset\(\) expects a period above 0/);
  });
});
