/**
 * The actors of Vengeance: every one is a routine, and every one on screen
 * is a task of its own.
 *
 * An enemy's behaviour reads as the script it is ("fly to a post, follow
 * the ship for a while, take aim, shoot three times, do that three times,
 * leave") instead of a state machine, because a routine keeps its place
 * between frames: `yield* world.frame` waits for the next frame, `yield
 * sleep(0.5)` for half a second of game time, `yield moveTo(...)` runs a
 * subroutine on the task's own stack. Pausing, slow motion and single steps
 * need nothing from the actors: they only see time pass more slowly, or not
 * at all.
 *
 * The task tree of a round (what the console's `ps` shows):
 *
 *     game
 *       round-1
 *         stars, score             background and scoring
 *         squadron                 spawns each enemy ordered in (by waves or the console)
 *           drone-3                  an enemy: race(its behaviour, its wounds)
 *             drone, wounds
 *         armory                   spawns each bullet fired, so a bullet outlives its shooter
 *           bullet
 *         cutscene, then player and waves
 *
 * Structured concurrency does the bookkeeping: cancelling a round (or
 * killing a task from the console) cancels everything under it, and every
 * actor's `finally` takes its body off the screen.
 */
import {
  all,
  CancelledError,
  type Channel,
  race,
  routine,
  sleep,
  spawn,
  type Task,
  TimeoutError,
  timeout,
} from "clockwork-microthreads";
import {
  type Banner,
  type Blast,
  type Body,
  type Bullet,
  type Enemy,
  type EnemyKind,
  HEIGHT,
  LIVES,
  type Ship,
  WIDTH,
  type World,
} from "./world.ts";

/** A routine of the game. */
type Actor<R = void> = Generator<unknown, R, any>;

/** How an enemy's life ended: shot down, or flew off the screen. */
export type Ending = "killed" | "escaped";

/** The ship's speed, in pixels per second. */
const SHIP_SPEED = 300;
/** Seconds between two shots while fire is held. */
const FIRE_INTERVAL = 0.16;
const SHOT_SPEED = 620;
/** Seconds the ship blinks, unhurtable, after it comes back. */
const SHIELD_SECONDS = 2;
/** A kill within this many seconds of the last one raises the score multiplier. */
export const COMBO_WINDOW = 1.5;
const MAX_COMBO = 5;

// ------------------------------------------------------------------ helpers

/** Waits until fire or Enter is pressed (a press after the call, not a key already held). */
export const waitForPress = routine(function* waitForPress(world: World): Actor {
  const seen = world.input.presses;
  while (world.input.presses === seen) yield* world.frame;
});

/** Moves `body` in a straight line to (x, y) at `speed` pixels per second, a bit each frame. */
export const moveTo = routine(function* moveTo(
  world: World,
  body: Body,
  x: number,
  y: number,
  speed: number,
): Actor {
  for (;;) {
    const dt = yield* world.frame;
    const dx = x - body.x;
    const dy = y - body.y;
    const distance = Math.hypot(dx, dy);
    const stride = speed * dt;
    if (distance <= stride) {
      body.x = x;
      body.y = y;
      return;
    }
    body.x += (dx / distance) * stride;
    body.y += (dy / distance) * stride;
  }
});

/** Shows a banner for `seconds` of game time. */
export const announce = routine(function* announce(
  world: World,
  banner: Banner,
  seconds: number,
): Actor {
  world.banner = banner;
  try {
    yield sleep(seconds);
  } finally {
    if (world.banner === banner) world.banner = null;
  }
});

/** An explosion that grows and fades over `seconds`. */
export const blast = routine(function* blast(
  world: World,
  x: number,
  y: number,
  size: number,
  seconds: number = 0.5,
): Actor {
  const shape: Blast = { x, y, size, progress: 0 };
  world.blasts.add(shape);
  try {
    let age = 0;
    while (age < seconds) {
      age += yield* world.frame;
      shape.progress = Math.min(1, age / seconds);
    }
  } finally {
    world.blasts.delete(shape);
  }
});

/** Waits for a task to end however it ends: one killed from the console just ends early. */
export function* ended(task: Task<unknown>): Actor {
  try {
    yield* task.join();
  } catch (error) {
    if (!(error instanceof CancelledError)) throw error;
  }
}

/** Cancels a task and waits until it has unwound (its `finally` blocks have run). */
export function* stop(task: Task<unknown>): Actor {
  task.cancel();
  yield* ended(task);
}

/** Takes whatever a channel holds, so stale events are not acted on. */
function drain(channel: Channel<unknown>): void {
  while (channel.tryReceive().ok) {}
}

// -------------------------------------------------------------- the game

/** The whole game: one round after another, each a task of its own (`kill round-1` restarts). */
export const game = routine(function* game(world: World): Actor<never> {
  for (let n = 1; ; n++) yield* ended(spawn(round(world), { name: `round-${n}` }));
});

/**
 * One round: the crew that lives through it, the opening cut-scene, then
 * the ship and the waves until the ship is lost, then the game-over
 * screen until fire is pressed.
 */
export const round = routine(function* round(world: World): Actor {
  world.newRound();
  const crew = [
    spawn(stars(world)),
    spawn(scoreCounter(world)),
    spawn(squadron(world)),
    spawn(armory(world)),
  ];
  world.phase = "intro";
  yield* ended(spawn(cutscene(world)));
  world.phase = "play";
  const attack = spawn(waves(world));
  yield* ended(spawn(player(world)));
  world.phase = "over";
  yield* stop(attack);
  const best = world.score > world.best;
  world.best = Math.max(world.best, world.score);
  world.banner = {
    title: "GAME OVER",
    lines: [
      `score ${world.score}`,
      best ? "a new best!" : `best ${world.best}`,
      "",
      "press space to play again",
    ],
  };
  try {
    yield sleep(1); // so a key still held from play does not restart at once
    yield waitForPress(world);
  } finally {
    world.banner = null;
  }
  // The round ends once its crew has unwound: the enemies still in flight leave the screen.
  for (const task of crew) task.cancel();
});

const STORY = [
  "They came down from the dark side of the moon",
  "and took every kiwi egg on the island.",
  "One ship was left in the hangar.",
  "Yours.",
];

/** The opening cut-scene: the title and the story typed out; fire skips it. */
export const cutscene = routine(function* cutscene(world: World): Actor {
  try {
    yield* race<unknown>([story(world), waitForPress(world)]);
  } finally {
    world.banner = null;
  }
});

/** The cut-scene's script, a letter at a time. */
export const story = routine(function* story(world: World): Actor {
  const banner: Banner = { title: "", lines: [] };
  world.banner = banner;
  for (const letter of "VENGEANCE") {
    banner.title += letter;
    yield sleep(0.12);
  }
  yield sleep(0.8);
  for (const line of STORY) {
    const at = banner.lines.push("") - 1;
    for (let n = 1; n <= line.length; n++) {
      banner.lines[at] = line.slice(0, n);
      yield sleep(0.035);
    }
    yield sleep(0.5);
  }
  banner.lines.push("", "press space");
  yield sleep(2.5);
});

/** The background: stars drifting down at their own speeds. */
export const stars = routine(function* stars(world: World): Actor<never> {
  for (;;) {
    const dt = yield* world.frame;
    for (const star of world.stars) {
      star.y += star.speed * dt;
      if (star.y > HEIGHT) {
        star.y -= HEIGHT;
        star.x = world.random() * WIDTH;
      }
    }
  }
});

/** The next kill's points (a named routine, so `ps` shows what the score counter waits for). */
const nextKill = routine(function* nextKill(world: World): Actor<number> {
  return yield* world.points.receive();
});

/**
 * The score counter: adds the points of each kill. Kills that follow each
 * other within COMBO_WINDOW seconds form a chain, and each link of the
 * chain counts more (up to ×5); the wait for the next link is a `timeout`,
 * and a cancelled receive loses no points.
 */
export const scoreCounter = routine(function* score(world: World): Actor<never> {
  for (;;) {
    world.combo = 1;
    world.score += yield* nextKill(world);
    try {
      for (;;) {
        const points = yield* timeout(COMBO_WINDOW, nextKill(world));
        world.combo = Math.min(world.combo + 1, MAX_COMBO);
        world.score += points * world.combo;
      }
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
    }
  }
});

// ------------------------------------------------------------- the ship

/**
 * The player: flies the ship until it is hit, explodes, comes back
 * blinking, and so on until the lives run out. Each life is a `race`
 * between flying and being hit.
 */
export const player = routine(function* player(world: World): Actor {
  const ship: Ship = {
    x: WIDTH / 2,
    y: HEIGHT - 60,
    radius: 12,
    lives: LIVES,
    invulnerable: false,
    down: false,
  };
  world.player = ship;
  try {
    for (;;) {
      drain(world.shipHits);
      yield* race<unknown>([pilot(world, ship), hit(world)]);
      ship.lives--;
      ship.down = true;
      yield blast(world, ship.x, ship.y, 48, 0.8);
      if (ship.lives === 0) return;
      ship.x = WIDTH / 2;
      ship.y = HEIGHT - 60;
      ship.down = false;
      ship.invulnerable = true;
      yield* race<unknown>([pilot(world, ship), sleep(SHIELD_SECONDS)]);
      ship.invulnerable = false;
    }
  } finally {
    world.player = null;
  }
});

/** Waits for the ship to be hit (by a bullet or a collision). */
const hit = routine(function* hit(world: World): Actor<number> {
  return yield* world.shipHits.receive();
});

/** Flies the ship by the keys held, a bit each frame; fires while fire is held; rams what it touches. */
export const pilot = routine(function* pilot(world: World, ship: Ship): Actor<never> {
  let reload = 0;
  for (;;) {
    const dt = yield* world.frame;
    const { input } = world;
    const dx = (input.right ? 1 : 0) - (input.left ? 1 : 0);
    const dy = (input.down ? 1 : 0) - (input.up ? 1 : 0);
    const stride = (dx !== 0 && dy !== 0 ? Math.SQRT1_2 : 1) * SHIP_SPEED * dt;
    ship.x = clamp(ship.x + dx * stride, ship.radius, WIDTH - ship.radius);
    ship.y = clamp(ship.y + dy * stride, HEIGHT * 0.4, HEIGHT - ship.radius - 4);
    reload = Math.max(0, reload - dt);
    if (input.fire && reload === 0) {
      world.fire(ship.x, ship.y - ship.radius, 0, -SHOT_SPEED, true);
      reload = FIRE_INTERVAL;
    }
    const enemy = world.enemyAt(ship);
    if (enemy !== undefined && world.shipAt(enemy)) {
      enemy.hits.trySend(enemy.hp); // a collision destroys the enemy too
      world.shipHits.trySend(1);
    }
  }
});

// ----------------------------------------------------------- the enemies

/**
 * Brings in each enemy ordered (by the waves or the console's `spawn`) as a
 * child task. A burst of orders (`spawn drone 2000`) is spread over steps,
 * 50 a step, so that no single step holds up the frame: the worker can only
 * keep to its budget between steps.
 */
export const squadron = routine(function* squadron(world: World): Actor<never> {
  for (let n = 1; ; n++) {
    const order = yield* world.orders.receive();
    spawn(enemy(world, order.kind, order.name, order.x), { name: order.name });
    if (n % 50 === 0) yield;
  }
});

/**
 * An enemy: its behaviour races its wounds. Whichever ends first decides
 * how it ends (flown off, or shot down), and the race cancels the other.
 * Its `finally` takes it off the screen however it ends, killed from the
 * console included; a kill scores, and it explodes before its task ends.
 */
export const enemy = routine(function* enemy(
  world: World,
  kind: EnemyKind,
  name: string,
  x: number,
): Actor<Ending> {
  const body = world.addEnemy(kind, name, x);
  let ending: Ending;
  try {
    ending = yield* race<Ending>([behaviours[kind](world, body), wounds(world, body)]);
  } finally {
    world.enemies.delete(body);
  }
  if (ending === "killed") {
    world.points.trySend(body.points);
    yield blast(world, body.x, body.y, body.radius * 2.2);
  }
  return ending;
});

/** Takes the hits sent to an enemy until it has none left. */
export const wounds = routine(function* wounds(world: World, body: Enemy): Actor<Ending> {
  while (body.hp > 0) {
    body.hp -= yield* body.hits.receive();
    body.hitAt = world.now();
  }
  return "killed";
});

/** A drone comes down to a post, then sways from side to side, drifting down and dropping bombs. */
export const drone = routine(function* drone(world: World, body: Enemy): Actor<Ending> {
  yield moveTo(world, body, body.x, 50 + world.random() * 170, 170);
  const centre = body.x;
  const sway = world.random() < 0.5 ? 60 : -60;
  let phase = 0;
  let reload = 1.5 + world.random() * 4;
  for (;;) {
    const dt = yield* world.frame;
    phase += dt * 1.6;
    body.x = centre + Math.sin(phase) * sway;
    body.y += 12 * dt;
    reload -= dt;
    if (reload <= 0) {
      reload = 2.5 + world.random() * 4;
      world.fire(body.x, body.y + body.radius, 0, 200, false);
    }
    if (world.outside(body)) return "escaped";
  }
});

/**
 * A hunter's script: take a post, then three times follow the ship for a
 * while, take aim, and shoot three times at it; then leave.
 */
export const hunter = routine(function* hunter(world: World, body: Enemy): Actor<Ending> {
  yield moveTo(world, body, body.x, 70 + world.random() * 110, 150);
  for (let volley = 0; volley < 3; volley++) {
    yield* race<unknown>([stalk(world, body, 180), sleep(1.2)]);
    body.aiming = true;
    yield sleep(0.5);
    body.aiming = false;
    for (let shot = 0; shot < 3; shot++) {
      world.fireAt(body, 280);
      yield sleep(0.18);
    }
  }
  yield moveTo(world, body, body.x, -body.radius * 3, 160);
  return "escaped";
});

/** Follows the ship from side to side, forever (a hunter races it against a sleep). */
export const stalk = routine(function* stalk(
  world: World,
  body: Enemy,
  speed: number,
): Actor<never> {
  for (;;) {
    const dt = yield* world.frame;
    const gap = (world.player?.x ?? body.x) - body.x;
    body.x += Math.sign(gap) * Math.min(Math.abs(gap), speed * dt);
  }
});

/** A diver hovers a moment, then dives at where the ship is, and on off the screen. */
export const diver = routine(function* diver(world: World, body: Enemy): Actor<Ending> {
  yield moveTo(world, body, body.x, 60 + world.random() * 80, 220);
  yield sleep(0.6 + world.random() * 1.4);
  const target = world.player ?? { x: body.x, y: HEIGHT };
  const dx = target.x - body.x;
  const dy = Math.max(target.y - body.y, 1);
  const d = Math.hypot(dx, dy);
  for (;;) {
    const dt = yield* world.frame;
    body.x += (dx / d) * 380 * dt;
    body.y += (dy / d) * 380 * dt;
    if (world.outside(body)) return "escaped";
  }
});

const behaviours: Record<EnemyKind, (world: World, body: Enemy) => Actor<Ending>> = {
  drone,
  hunter,
  diver,
};

// ---------------------------------------------------------- the bullets

/** Gives each bullet fired a task of its own, a child of the armory, so it flies on when its shooter dies. */
export const armory = routine(function* armory(world: World): Actor<never> {
  for (;;) spawn(bullet(world, yield* world.shots.receive()));
});

/** A bullet flies straight until it leaves the arena or hits: an enemy (if friendly) or the ship. */
export const bullet = routine(function* bullet(world: World, shot: Bullet): Actor {
  world.bullets.add(shot);
  try {
    for (;;) {
      const dt = yield* world.frame;
      shot.x += shot.vx * dt;
      shot.y += shot.vy * dt;
      if (world.outside(shot)) return;
      if (shot.friendly) {
        const target = world.enemyAt(shot);
        if (target !== undefined) {
          target.hits.trySend(1);
          return;
        }
      } else if (world.shipAt(shot)) {
        world.shipHits.trySend(1);
        return;
      }
    }
  } finally {
    world.bullets.delete(shot);
  }
});

// ------------------------------------------------------------- the waves

/** One group of a wave: `count` enemies of a kind, ordered in evenly over `seconds`. */
export interface Group {
  kind: EnemyKind;
  count: number;
  seconds: number;
}

/** What wave `n` brings: more drones each wave, hunters from the second, divers from the third. */
export function planWave(n: number): Group[] {
  const groups: Group[] = [{ kind: "drone", count: 4 + 2 * n, seconds: 3 + n }];
  if (n >= 2) groups.push({ kind: "hunter", count: Math.min(Math.floor(n / 2), 4), seconds: 4 });
  if (n >= 3) groups.push({ kind: "diver", count: n, seconds: 2 + n });
  return groups;
}

/** Wave after wave: a title, the wave's groups at once, then a wait until the sky is clear. */
export const waves = routine(function* waves(world: World): Actor<never> {
  for (let n = 1; ; n++) {
    world.wave = n;
    yield announce(world, { title: `WAVE ${n}`, lines: [] }, 2);
    yield* all(planWave(n).map((g) => wave(world, g.kind, g.count, g.seconds)));
    while (world.enemies.size > 0 || world.orders.size > 0) yield sleep(0.25);
    yield sleep(1);
  }
});

/** Orders `count` enemies of a kind evenly over `seconds`: the first at once, the last at the end. */
export const wave = routine(function* wave(
  world: World,
  kind: EnemyKind,
  count: number,
  seconds: number,
): Actor {
  for (let i = 0; i < count; i++) {
    if (i > 0) yield sleep(seconds / (count - 1));
    world.order(kind);
  }
});

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
