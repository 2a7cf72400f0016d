import * as cw from "../dist/index.js";
import * as sim from "../dist/sim.js";
const { Semaphore, spawn, routine } = cw;
// Transfers between three accounts under one lock, written as a test would: routines made in the program.
function* bank() {
  const accounts = [100, 100, 100];
  const lock = new Semaphore(1);
  const teller = routine(function* teller(from, to) {
    for (let i = 0; i < 3; i++) {
      yield* lock.acquire();
      try {
        const a = accounts[from];
        yield;
        accounts[from] = a - 10;
        accounts[to] += 10;
      } finally {
        lock.release();
      }
      yield;
    }
  });
  const tellers = [spawn(teller(0, 1)), spawn(teller(1, 2)), spawn(teller(2, 0))];
  for (const t of tellers) yield t;
  return accounts.reduce((a, b) => a + b, 0);
}
{
  const w = new cw.Worker({ clock: new cw.VirtualClock() }); const t = w.assign(bank()); w.work(); console.log("steps", w.counters.steps, "sum", t.result);
}
for (let r = 0; r < 6; r++) {
  const runs = 20000; const t0 = performance.now();
  const res = sim.explore(bank, { runs, seed: r + 1, check: (o) => (o.ok && o.value === 300 ? null : "money lost") });
  if (!res.ok) throw new Error(res.failure.why);
  console.log("explore", (runs / (performance.now() - t0) * 1000).toFixed(0), "schedules/s");
}
for (let r = 0; r < 3; r++) {
  const runs = 20000; const t0 = performance.now();
  for (let i = 0; i < runs; i++) { const w = new cw.Worker({ clock: new cw.VirtualClock() }); w.assign(bank()); w.work(); }
  console.log("plain", (runs / (performance.now() - t0) * 1000).toFixed(0), "runs/s");
}
