/**
 * The kiwi game console: Vengeance, a game whose every actor is a routine.
 *
 * The game's logic has no DOM in it, so it runs here in Node exactly as in
 * the browser, on a VirtualClock: a test moves time frame by frame, as
 * requestAnimationFrame would, and no test waits for real time. Moving
 * actors park at the world's frame gate (`yield* world.frame`) and take
 * one step per frame; scripted waits are plain `sleep`s in game time.
 *
 * Two ways in: the routines alone on a worker (`arena()`), to show one
 * actor's script; and a whole `Kiwi` session, the game loop the page runs,
 * with its console commands.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { buildKiwi } from "../examples/kiwi/build.ts";
import {
  armory,
  enemy,
  hunter,
  planWave,
  scoreCounter,
  squadron,
  wave,
} from "../examples/kiwi/src/actors.ts";
import { USAGE } from "../examples/kiwi/src/commands.ts";
import { Kiwi } from "../examples/kiwi/src/session.ts";
import { type Enemy, FRAME, type Ship, World } from "../examples/kiwi/src/world.ts";
import { routine, sleep, VirtualClock, Worker } from "../src/index.ts";

/**
 * A world and a worker on a VirtualClock, and `play(seconds)`, which runs
 * frames of 1/60 s as the game loop does: advance the clock, open the frame
 * gate, step until no task is runnable.
 */
function arena() {
  const clock = new VirtualClock();
  const worker = new Worker({ clock });
  const world = new World(clock, 7);
  const play = (seconds: number) => {
    for (let i = Math.round(seconds / FRAME); i > 0; i--) {
      clock.advance(FRAME);
      world.frame.open(FRAME);
      while (worker.tick()) {}
    }
  };
  return { clock, worker, world, play };
}

/** A session with a scheduler budget no test machine can run out of, so every frame runs every step. */
function session(): Kiwi {
  return new Kiwi({ seed: 7, budget: 10, report: () => {} });
}

/** Runs the session's game loop for `seconds` of 60 Hz frames. */
function play(kiwi: Kiwi, seconds: number): void {
  for (let i = Math.round(seconds / FRAME); i > 0; i--) kiwi.frame(FRAME);
}

/** A session past its cut-scene (skipped with a press), with the ship flying. */
function playing(): Kiwi {
  const kiwi = session();
  play(kiwi, 0.1);
  kiwi.world.input.presses++;
  play(kiwi, 0.1);
  assert.equal(kiwi.state().phase, "play");
  return kiwi;
}

const ship = (): Ship => ({
  x: 400,
  y: 540,
  radius: 12,
  lives: 3,
  invulnerable: false,
  down: false,
});

describe("the frame gate", () => {
  it("parks actors until the game loop opens it, then gives each the frame's virtual seconds", () => {
    const { worker, world } = arena();
    const seen: string[] = [];
    const actor = routine(function* actor(name: string) {
      for (;;) seen.push(`${name} ${yield* world.frame}`);
    });
    worker.assign(actor("a"));
    worker.assign(actor("b"));
    while (worker.tick()) {}
    const steps = worker.counters.steps;
    assert.equal(worker.tick(), false, "parked at the gate, they cost no steps");
    assert.equal(worker.counters.steps, steps);
    assert.equal(world.frame.open(0.25), 2);
    while (worker.tick()) {}
    assert.deepEqual(seen, ["a 0.25", "b 0.25"], "one step each per frame, in order");
    assert.equal(worker.describeState(worker.tasks[0] as never), "waiting on the next frame");
  });
});

describe("a wave", () => {
  it("orders N enemies evenly over M seconds: the first at once, the last at the end", () => {
    const { worker, world, play } = arena();
    worker.assign(squadron(world));
    worker.assign(wave(world, "drone", 5, 4));
    const counts: number[] = [];
    for (let t = 0; t < 6; t++) {
      play(t === 0 ? 0.5 : 1); // look at 0.5 s, 1.5 s, ... between two orders
      counts.push(world.enemies.size);
    }
    assert.deepEqual(counts, [1, 2, 3, 4, 5, 5]);
    const names = worker.tasks.map((t) => t.name).filter((n) => n.startsWith("drone-"));
    assert.deepEqual(names, ["drone-1", "drone-2", "drone-3", "drone-4", "drone-5"]);
  });

  it("grows: drones at first, hunters from the second wave, divers from the third", () => {
    assert.deepEqual(planWave(1), [{ kind: "drone", count: 6, seconds: 4 }]);
    assert.deepEqual(
      planWave(3).map((g) => g.kind),
      ["drone", "hunter", "diver"],
    );
    assert.ok(planWave(4).every((g, i) => g.count >= (planWave(3)[i]?.count ?? 0)));
  });
});

describe("the squadron", () => {
  it("spreads a burst of orders over steps, 50 a step, so that no step holds up a frame", () => {
    const { worker, world, play } = arena();
    const task = worker.assign(squadron(world));
    for (let i = 0; i < 120; i++) world.order("drone");
    worker.tick();
    assert.equal(task.children.length, 50, "its first step brought in 50, then gave up control");
    play(FRAME);
    assert.equal(world.enemies.size, 120, "the rest came in later steps of the same frame");
  });
});

describe("an enemy", () => {
  it("killed from outside, runs its finally: it takes itself off the screen and scores nothing", () => {
    const { worker, world, play } = arena();
    const task = worker.assign(enemy(world, "drone", "drone-1", 300), { name: "drone-1" });
    play(1);
    assert.equal(world.enemies.size, 1);
    assert.deepEqual(task.stack, ["enemy"]);
    task.cancel();
    while (worker.tick()) {}
    assert.equal(task.state, "cancelled");
    assert.equal(world.enemies.size, 0, "its finally removed it");
    assert.equal(worker.tasks.length, 0, "its behaviour and wounds routines ended with it");
    assert.equal(world.points.size, 0);
  });

  it("takes bullets' hits through its channel; at 0 hp it scores, explodes, and its task ends", () => {
    const { worker, world, play } = arena();
    worker.assign(armory(world));
    const task = worker.assign(enemy(world, "hunter", "hunter-1", 400));
    play(1.5); // it has reached its post and stays over x = 400 (there is no ship to follow)
    const body = [...world.enemies][0] as Enemy;
    assert.equal(body.hp, 3);
    for (let i = 0; i < 3; i++) world.fire(400, body.y + 150, 0, -600, true);
    play(0.4);
    assert.equal(world.enemies.size, 0, "three hits: shot down");
    assert.equal(world.points.tryReceive().ok, true, "its points are on their way to the score");
    assert.equal(world.blasts.size, 1, "it explodes");
    assert.equal(task.isDone(), false, "the explosion is still part of its routine");
    play(0.6);
    assert.equal(world.blasts.size, 0);
    assert.equal(task.result, "killed");
    assert.equal(world.bullets.size, 0, "each bullet ended at its hit");
  });

  it("a hunter runs its script: take a post, then three times follow the ship, aim, shoot three", () => {
    const { worker, world, play } = arena();
    world.player = ship();
    const body = world.addEnemy("hunter", "hunter-1", 100);
    const task = worker.assign(hunter(world, body));
    const shots: number[] = [];
    let aimed = 0;
    while (!task.isDone()) {
      play(FRAME);
      if (body.aiming) aimed++;
      for (let s = world.shots.tryReceive(); s.ok; s = world.shots.tryReceive()) {
        shots.push(world.now());
        assert.ok(s.value.vy > 0 && !s.value.friendly, "downwards, at the ship");
      }
    }
    assert.equal(task.result, "escaped", "it left the screen at the end");
    assert.equal(shots.length, 9);
    assert.ok(aimed >= 3 * 25, "it takes aim (half a second) before each volley");
    // 0.18 s apart: a sleep ends on the first frame at or after its deadline, the 11th.
    const frames = shots.slice(1).map((t, i) => Math.round((t - (shots[i] as number)) / FRAME));
    assert.deepEqual(
      [frames[0], frames[1], frames[3], frames[4], frames[6], frames[7]],
      [11, 11, 11, 11, 11, 11],
    );
    assert.ok((frames[2] as number) > 60, "a second and more between volleys");
    assert.ok(body.x > 300, "it followed the ship from x = 100 towards x = 400");
  });
});

describe("the score", () => {
  it("adds each kill; kills in a chain (within 1.5 s) count more; a pause ends the chain", () => {
    const { worker, world, play } = arena();
    worker.assign(scoreCounter(world));
    const kill = (points: number) => {
      world.points.trySend(points);
      while (worker.tick()) {}
    };
    kill(100);
    assert.deepEqual([world.score, world.combo], [100, 1]);
    play(1);
    kill(100);
    assert.deepEqual([world.score, world.combo], [300, 2], "second in the chain: ×2");
    play(1);
    kill(100);
    assert.deepEqual([world.score, world.combo], [600, 3]);
    play(2);
    assert.equal(world.combo, 1, "the chain timed out");
    kill(100);
    assert.deepEqual([world.score, world.combo], [700, 1]);
  });
});

describe("the ship", () => {
  it("flies by the keys held, 300 pixels a second, and stays in the arena", () => {
    const kiwi = playing();
    const { input } = kiwi.world;
    const start = kiwi.state().player as { x: number; y: number };
    input.left = true;
    play(kiwi, 0.5);
    input.left = false;
    assert.ok(Math.abs((kiwi.state().player?.x ?? 0) - (start.x - 150)) < 0.01);
    input.right = true;
    play(kiwi, 5);
    assert.equal(kiwi.state().player?.x, 800 - 12, "it stops at the right edge");
  });

  it("fires while fire is held: each bullet a task of its own under the armory", () => {
    const kiwi = playing();
    kiwi.world.input.fire = true;
    play(kiwi, 0.5);
    kiwi.world.input.fire = false;
    assert.ok(kiwi.world.bullets.size >= 3);
    assert.match(kiwi.command("ps bullet"), /\d+ +bullet +waiting on the next frame +bullet/);
    play(kiwi, 2);
    assert.equal(kiwi.world.bullets.size, 0, "they left the top of the screen and ended");
  });

  it("loses a life to each hit; after the last, the round is over, and a press starts a new one", () => {
    const kiwi = playing();
    for (let lives = 3; lives > 0; lives--) {
      assert.equal(kiwi.state().lives, lives);
      kiwi.world.shipHits.trySend(1);
      play(kiwi, 3); // explodes, comes back blinking, and the shield wears off
    }
    assert.equal(kiwi.state().phase, "over");
    assert.equal(kiwi.state().player, null);
    assert.equal(kiwi.world.banner?.title, "GAME OVER");
    kiwi.world.input.presses++;
    play(kiwi, 0.1);
    assert.equal(kiwi.state().phase, "intro", "a new round opens with the cut-scene");
    assert.match(kiwi.command("ps round"), /round-2/);
    assert.doesNotMatch(kiwi.command("ps"), /round-1/, "the old round and its actors are gone");
    assert.equal(kiwi.errors.length, 0);
  });
});

describe("the game loop (a Kiwi session)", () => {
  it("advances virtual time by each frame's time, and counts frames", () => {
    const kiwi = session();
    play(kiwi, 1);
    const state = kiwi.state();
    assert.equal(state.frame, 60);
    assert.ok(Math.abs(state.time - 1) < 1e-9);
    assert.equal(state.paused, false);
    assert.equal(state.score, 0);
    assert.equal(state.tasks, kiwi.worker.tasks.length, "tasks counts the live tasks");
  });

  it("pause stops virtual time (frames are still drawn); step advances exactly one frame", () => {
    const kiwi = session();
    play(kiwi, 1);
    assert.match(kiwi.command("pause"), /^paused at t=1\.000 s/);
    const before = kiwi.state();
    play(kiwi, 2);
    assert.equal(kiwi.state().time, before.time, "no virtual time passed");
    assert.equal(kiwi.state().frame, before.frame + 120, "but 120 frames were drawn");
    assert.match(kiwi.command("step"), /^paused; stepped 1 frame to t=1\.017 s/);
    assert.ok(Math.abs(kiwi.state().time - (before.time + FRAME)) < 1e-12);
    kiwi.command("step 59");
    assert.ok(Math.abs(kiwi.state().time - (before.time + 1)) < 1e-9);
    assert.match(kiwi.command("resume"), /^resumed/);
    play(kiwi, 1);
    assert.ok(Math.abs(kiwi.state().time - (before.time + 2)) < 1e-9);
  });

  it("slow motion scales time: at ×0.25 a second of frames is a quarter second of game", () => {
    const kiwi = session();
    assert.equal(kiwi.command("slow 0.25"), "time runs at ×0.25");
    play(kiwi, 1);
    assert.ok(Math.abs(kiwi.state().time - 0.25) < 1e-9);
  });

  it("a long frame (a hidden tab) counts as at most 0.1 s of game time", () => {
    const kiwi = session();
    kiwi.frame(60);
    assert.equal(kiwi.state().time, 0.1);
  });

  it("keeps each frame's steps and scheduler time for the console and benchmarks", () => {
    const kiwi = session();
    play(kiwi, 0.5);
    const history = kiwi.history(10);
    assert.equal(history.length, 10);
    assert.ok(history.every((h) => h.steps >= 1 && h.tickMs >= 0 && h.frameMs > 16));
    assert.equal(kiwi.history(1000).length, 30);
  });
});

describe("console commands", () => {
  it("help lists every command", () => {
    const help = session().command("help");
    for (const name of ["ps", "pause", "resume", "step", "slow", "kill", "spawn", "help"]) {
      assert.match(help, new RegExp(`^  ${name}`, "m"));
    }
  });

  it("ps lists live tasks as a tree: id, name, state, call stack", () => {
    const kiwi = playing();
    const lines = kiwi.command("ps").split("\n");
    assert.match(
      lines[0] as string,
      /^frame \d+ · t=\d+\.\d{3} s · ×1 · \d+ tasks · \d+ steps\/frame/,
    );
    assert.match(lines[1] as string, /id +task +state +stack/);
    const rows = lines.slice(2).join("\n");
    assert.match(rows, /\d+ {2}game +waiting on task "round-1" +game\n/);
    assert.match(rows, /\d+ {4}round-1 +waiting on task "player" +round\n/);
    assert.match(rows, /\d+ {6}player +waiting on 2 of 2 routines +player\n/);
    assert.match(rows, /\d+ {8}pilot +waiting on the next frame +pilot$/m);
    assert.match(rows, /\d+ {6}waves +waiting on sleep until [\d.]+ +waves > announce/);
  });

  it("ps <name> lists the tasks whose name contains it; long lists end with a count", () => {
    const kiwi = playing();
    kiwi.command("spawn drone 60");
    play(kiwi, FRAME);
    const drones = kiwi.command("ps drone-");
    assert.equal(drones.match(/drone-\d+/g)?.length, 50);
    assert.match(drones, /… and 10 more/);
    assert.match(kiwi.command("ps nothing-like-this"), /no live task named \*nothing-like-this\*/);
  });

  it("spawn orders enemies in; kill cancels one by name or id, and its finally runs", () => {
    const kiwi = playing();
    assert.equal(kiwi.command("spawn hunter"), "ordered hunter-1");
    assert.equal(kiwi.command("spawn diver 3"), "ordered 3 divers: diver-2 … diver-4");
    play(kiwi, FRAME);
    assert.equal(kiwi.state().enemies, 4);
    const tasks = kiwi.state().tasks;
    assert.match(
      kiwi.command("kill hunter-1"),
      /^killed \d+ hunter-1: it unwinds on the next frame$/,
    );
    play(kiwi, FRAME);
    assert.equal(kiwi.state().enemies, 3, "its finally took it off the screen");
    assert.equal(kiwi.state().tasks, tasks - 3, "the enemy and its two racing routines");
    const id = /(\d+) +diver-2 /.exec(kiwi.command("ps diver-2"))?.[1];
    assert.match(kiwi.command(`kill ${id}`), /^killed \d+ diver-2/);
    play(kiwi, FRAME);
    assert.equal(kiwi.state().enemies, 2);
  });

  it("kill player ends the round; kill game ends everything, and a press starts a new game", () => {
    const kiwi = playing();
    kiwi.command("kill player");
    play(kiwi, FRAME);
    assert.equal(kiwi.state().phase, "over");
    kiwi.command("kill game");
    play(kiwi, FRAME);
    assert.equal(kiwi.state().tasks, 0);
    assert.equal(kiwi.world.banner?.title, "NO GAME");
    assert.match(kiwi.command("spawn drone"), /no game is running/);
    kiwi.world.input.presses++;
    play(kiwi, FRAME);
    assert.equal(kiwi.state().phase, "intro");
    assert.ok(kiwi.state().tasks > 0);
  });

  it("answers bad input with what was wrong and a usage line, never an exception", () => {
    const kiwi = playing();
    const cases: [string, RegExp][] = [
      ["slow", /^slow: slow needs one factor\nusage: slow <factor>$/],
      ["slow fast", /the factor must be a number above 0 and at most 8, got "fast"\nusage: slow/],
      ["slow 0", /got "0"\nusage: slow <factor>$/],
      ["slow -2", /got "-2"\nusage: slow <factor>$/],
      ["slow 100", /got "100"\nusage: slow <factor>$/],
      ["slow NaN", /got "NaN"\nusage: slow <factor>$/],
      ["kill", /^kill: kill needs one task: its id or its name\nusage: kill <task>$/],
      ["kill nobody", /no live task named nobody \(ps lists them\)\nusage: kill <task>$/],
      ["kill 99999", /no live task with id 99999/],
      ["kill 1 2", /usage: kill <task>$/],
      ["kill bullet", /usage: kill <task>$/],
      [
        "spawn",
        /^spawn: spawn needs an enemy kind, and may take a count\nusage: spawn <enemy> \[count\]$/,
      ],
      ["spawn dragon", /no enemy kind "dragon"; the kinds are drone, hunter, diver\nusage: spawn/],
      ["spawn drone many", /count must be a whole number from 1 to 5000, got "many"\nusage: spawn/],
      ["spawn drone 0", /got "0"/],
      ["spawn drone 2.5", /got "2.5"/],
      ["spawn drone 1 2", /usage: spawn <enemy> \[count\]$/],
      ["step x", /frames must be a whole number from 1 to 600, got "x"\nusage: step \[frames\]$/],
      ["step 0", /usage: step \[frames\]$/],
      ["pause now", /^pause: unexpected "now"\nusage: pause$/],
      ["ps a b", /usage: ps \[name\]$/],
      [
        "frobnicate",
        /^unknown command "frobnicate"\nusage: help \| ps \[name\] \| pause \| resume/,
      ],
    ];
    kiwi.world.input.fire = true;
    play(kiwi, 0.3); // a few bullets, all named "bullet": `kill bullet` is ambiguous
    for (const [line, expected] of cases) {
      assert.match(kiwi.command(line), expected, line);
    }
    assert.equal(kiwi.command("   "), "", "an empty line answers nothing");
    assert.equal(kiwi.state().paused, false, "and nothing bad input did changed the game");
    assert.equal(kiwi.slow, 1);
    assert.ok(USAGE.startsWith("usage: help"));
  });

  it("pause and resume say so when there is nothing to do", () => {
    const kiwi = session();
    assert.match(kiwi.command("resume"), /^not paused/);
    kiwi.command("pause");
    assert.match(kiwi.command("PAUSE"), /^already paused/, "commands are not case-sensitive");
  });

  it("god mode: nothing hurts the ship", () => {
    const kiwi = playing();
    assert.equal(kiwi.command("god"), "god mode on: nothing hurts the ship");
    kiwi.world.fire(kiwi.world.player?.x ?? 0, 300, 0, 400, false);
    play(kiwi, 1);
    assert.equal(kiwi.state().lives, 3);
    assert.equal(kiwi.command("god"), "god mode off");
  });
});

describe("time in the game is the game's", () => {
  it("a sleeping actor wakes by virtual time: paused, it never wakes; at ×0.5 it wakes twice as late", () => {
    const kiwi = session();
    let woke = -1;
    kiwi.worker.assign(
      routine(function* alarm() {
        yield sleep(1);
        woke = kiwi.frames;
      })(),
    );
    kiwi.command("pause");
    play(kiwi, 3);
    assert.equal(woke, -1);
    kiwi.command("resume");
    kiwi.command("slow 0.5");
    const start = kiwi.frames;
    play(kiwi, 3);
    assert.equal(woke - start, 120, "one game second is 120 frames at half speed");
  });
});

describe("the build (npm run build:kiwi)", () => {
  it("writes the bundle precompressed beside it, kiwi.js.br and kiwi.js.gz, no older than it, for serveStatic to send", async () => {
    const dir = await buildKiwi(mkdtempSync(join(tmpdir(), "clockwork-kiwi-build-")));
    const bundle = readFileSync(join(dir, "kiwi.js"));
    const br = readFileSync(join(dir, "kiwi.js.br"));
    const gz = readFileSync(join(dir, "kiwi.js.gz"));
    assert.deepEqual(brotliDecompressSync(br), bundle);
    assert.deepEqual(gunzipSync(gz), bundle);
    assert.ok(br.length < bundle.length / 3, `brotli: ${br.length} of ${bundle.length} bytes`);
    for (const sibling of ["kiwi.js.br", "kiwi.js.gz"]) {
      assert.ok(statSync(join(dir, sibling)).mtimeMs >= statSync(join(dir, "kiwi.js")).mtimeMs);
    }
  });
});
