/**
 * Keeps alive the hidden classes of the objects clockwork makes on its hot
 * paths, by parking a few of them here for as long as the module lives.
 *
 * Why: V8 keeps an object's hidden class (its "map") only while some
 * object uses it. When every task of a program has ended (a server between
 * bursts, a simulation between runs) and a full GC follows, the maps of
 * tasks, sleeps and channel operations are freed, and every function
 * optimised for them is thrown away and must warm up again. Measured here:
 * after such a GC, 10,000 sleepers woke up to 20 ms late and took 60%
 * longer, round after round; with these few parked objects, not at all.
 */

import { all } from "./all.ts";
import { call } from "./call.ts";
import { Channel } from "./channel.ts";
import { VirtualClock } from "./clock.ts";
import { Future } from "./future.ts";
import { Semaphore } from "./semaphore.ts";
import { sleep } from "./sleep.ts";
import { spawn } from "./spawn.ts";
import { park, suspend } from "./wait.ts";
import { Worker } from "./worker.ts";

const keeper = new Worker({ clock: new VirtualClock(0.25) });
const channel = new Channel<number>();
const semaphore = new Semaphore(0);
const future = new Future<number>();
const never = new Promise<never>(() => {});

function* parked() {
  const child = spawn(
    (function* keep() {
      yield* channel.receive();
    })(),
  );
  yield* child.join();
}

keeper.assign(
  (function* keep() {
    yield sleep(1.5);
  })(),
);
keeper.assign(parked());
keeper.assign(semaphore.acquire());
keeper.assign(future.wait());
keeper.assign(call(never));
keeper.assign(park(() => {}));
keeper.assign(
  (function* keep() {
    yield* all([suspend()[Symbol.iterator](), sleep(2.5)]);
  })(),
);
while (keeper.tick()) {
  // park them all; they are never woken
}
