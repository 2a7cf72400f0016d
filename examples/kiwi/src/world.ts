/**
 * The world of Vengeance: plain data that the actors (routines) move and
 * the renderer draws.
 *
 * Nothing here touches the DOM or the clock's driver, so the game's logic
 * runs in Node under a VirtualClock exactly as it runs in the browser. The
 * world holds what is on screen (the ship, the enemies, the bullets, the
 * blasts), the player's held keys, the score, and the channels through
 * which actors tell each other what happened: an enemy is hit, an enemy is
 * ordered in, a shot is fired, points are scored, the ship is hit.
 *
 * Why channels and not method calls: a bullet that hits an enemy does not
 * reach into the enemy's routine; it sends a hit, and the enemy's own
 * `wounds` routine takes it when it next runs. Each actor stays a script
 * that owns its state, and the one who sends never waits for the one who
 * receives.
 */
import { Channel, type Clock, type Task, Wait } from "clockwork-microthreads";

/** The arena, in canvas pixels. */
export const WIDTH = 800;
export const HEIGHT = 600;
/** One nominal frame, in seconds: what `step` advances. */
export const FRAME = 1 / 60;
/** Lives the ship starts a round with. */
export const LIVES = 3;

/** The kinds of enemy the squadron can field. */
export const ENEMY_KINDS = ["drone", "hunter", "diver"] as const;
export type EnemyKind = (typeof ENEMY_KINDS)[number];

/** Per kind: hit points, size and what a kill is worth. */
export const ENEMY_STATS: Readonly<
  Record<EnemyKind, { hp: number; radius: number; points: number }>
> = {
  drone: { hp: 1, radius: 14, points: 100 },
  hunter: { hp: 3, radius: 18, points: 300 },
  diver: { hp: 1, radius: 12, points: 200 },
};

/** Whether a word names an enemy kind (for the console's `spawn`). */
export function isEnemyKind(word: string): word is EnemyKind {
  return (ENEMY_KINDS as readonly string[]).includes(word);
}

/** The keys the player holds, and a count of presses of fire or Enter (to skip and restart). */
export interface Input {
  left: boolean;
  right: boolean;
  up: boolean;
  down: boolean;
  fire: boolean;
  /** Goes up by one on each press of fire or Enter: routines wait for it to change. */
  presses: number;
}

/** Anything with a position and a size. */
export interface Body {
  x: number;
  y: number;
  readonly radius: number;
}

/** The player's ship. */
export interface Ship extends Body {
  lives: number;
  /** Blinking after a respawn: nothing hurts it. */
  invulnerable: boolean;
  /** Exploding: not drawn, not hittable. */
  down: boolean;
}

/** An enemy on screen. Its routine moves it; bullets send it hits. */
export interface Enemy extends Body {
  readonly kind: EnemyKind;
  /** Its task's name, e.g. "drone-3". */
  readonly name: string;
  hp: number;
  readonly points: number;
  /** Damage sent by bullets and collisions, taken by the enemy's `wounds` routine. */
  readonly hits: Channel<number>;
  /** Virtual time of the last hit, so the renderer can flash it. */
  hitAt: number;
  /** A hunter that is about to shoot: drawn with its sights on. */
  aiming: boolean;
}

/** A bullet: the player's (friendly) go up and hurt enemies, the enemies' go down and hurt the ship. */
export interface Bullet extends Body {
  vx: number;
  vy: number;
  readonly friendly: boolean;
}

/** An explosion being drawn. */
export interface Blast {
  readonly x: number;
  readonly y: number;
  readonly size: number;
  /** 0 when it starts, 1 when it is over. */
  progress: number;
}

/** A background star. */
export interface Star {
  x: number;
  y: number;
  readonly speed: number;
}

/** An order for the squadron: bring in an enemy of this kind under this task name. */
export interface Order {
  readonly kind: EnemyKind;
  readonly name: string;
  readonly x: number;
}

/** Where a round is: the opening cut-scene, play, or the game-over screen. */
export type Phase = "intro" | "play" | "over";

/** Text drawn over the middle of the screen (the cut-scene, wave titles, game over). */
export interface Banner {
  title: string;
  lines: string[];
}

/**
 * The gate every moving actor waits at between frames: `const dt = yield*
 * world.frame` parks the task until the game loop opens the gate, and
 * gives the frame's virtual seconds.
 *
 * Why a gate and not `yield` or `sleep`: `worker.tickFor()` steps runnable
 * tasks until its budget is spent, so an actor that merely yielded would be
 * stepped again and again within one frame; and `sleep(1 / 60)` would make
 * slow motion choppy (a quarter-speed frame is too short to reach the next
 * deadline). Parked at the gate, an actor costs nothing until the next
 * frame, takes exactly one step per frame, and moves by exactly the time
 * that passed: none while paused, a quarter frame at quarter speed.
 */
export class FrameGate extends Wait<number> {
  /** Tasks parked until the next frame, in the order they arrived. */
  #waiting = new Set<Task<unknown>>();

  park(task: Task<unknown>): void {
    this.#waiting.add(task);
  }

  override release(task: Task<unknown>): void {
    this.#waiting.delete(task);
  }

  describe(): string {
    return "the next frame";
  }

  /** How many tasks wait for the next frame. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Opens the gate for a frame of `seconds`: every waiting task wakes with it. Returns how many woke. */
  open(seconds: number): number {
    const woken = this.#waiting;
    this.#waiting = new Set();
    for (const task of woken) this.wake(task, seconds);
    return woken.size;
  }
}

/**
 * A small seeded random number generator (mulberry32), so a round with the
 * same seed plays the same in a test.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Everything on screen, and the channels actors talk through. */
export class World {
  readonly width = WIDTH;
  readonly height = HEIGHT;
  /** Where virtual time is read (the game's VirtualClock). */
  readonly clock: Clock;
  /** A number in [0, 1); seeded. */
  readonly random: () => number;
  /** The keys the player holds; written by the keyboard module (or a test). */
  readonly input: Input = {
    left: false,
    right: false,
    up: false,
    down: false,
    fire: false,
    presses: 0,
  };
  /** Where moving actors wait between frames. */
  readonly frame = new FrameGate();
  /** Background stars, moved by the `stars` routine. */
  readonly stars: Star[] = [];

  phase: Phase = "intro";
  /** The ship, while the `player` routine flies it. */
  player: Ship | null = null;
  readonly enemies = new Set<Enemy>();
  readonly bullets = new Set<Bullet>();
  readonly blasts = new Set<Blast>();
  banner: Banner | null = null;
  score = 0;
  /** The best score since the page loaded. */
  best = 0;
  /** The score multiplier of the current chain of kills. */
  combo = 1;
  /** The wave in play (0 before the first). */
  wave = 0;
  /** Set by the console's `god`: nothing hurts the ship. */
  god = false;

  /** Enemies ordered in, taken by the `squadron` routine. */
  orders: Channel<Order>;
  /** Bullets fired, taken by the `armory` routine. */
  shots: Channel<Bullet>;
  /** Points for each kill, taken by the `score` routine. */
  points: Channel<number>;
  /** Hits on the ship, taken by the `player` routine. */
  shipHits: Channel<number>;
  /** The number in the next enemy's name. */
  #serial = 0;

  constructor(clock: Clock, seed = 1) {
    this.clock = clock;
    this.random = seededRandom(seed);
    for (let i = 0; i < 90; i++) {
      this.stars.push({
        x: this.random() * WIDTH,
        y: this.random() * HEIGHT,
        speed: 15 + this.random() * 60,
      });
    }
    this.orders = events();
    this.shots = events();
    this.points = events();
    this.shipHits = events();
  }

  /** Virtual seconds since the game began. */
  now(): number {
    return this.clock.now();
  }

  /**
   * Clears the arena for a new round: fresh channels (whatever the last
   * round left in them is dropped), no score, no wave. The best score stays.
   */
  newRound(): void {
    this.player = null;
    this.enemies.clear();
    this.bullets.clear();
    this.blasts.clear();
    this.banner = null;
    this.score = 0;
    this.combo = 1;
    this.wave = 0;
    this.orders = events();
    this.shots = events();
    this.points = events();
    this.shipHits = events();
  }

  /** Orders an enemy in (at `x`, else at random); gives the name its task will have. */
  order(kind: EnemyKind, x?: number): string {
    const name = `${kind}-${++this.#serial}`;
    const at = x ?? 70 + this.random() * (WIDTH - 140);
    this.orders.trySend({ kind, name, x: at });
    return name;
  }

  /** Puts a new enemy on screen, just above the top edge. */
  addEnemy(kind: EnemyKind, name: string, x: number): Enemy {
    const stats = ENEMY_STATS[kind];
    const enemy: Enemy = {
      kind,
      name,
      x,
      y: -stats.radius * 2,
      radius: stats.radius,
      hp: stats.hp,
      points: stats.points,
      hits: new Channel<number>(64),
      hitAt: Number.NEGATIVE_INFINITY,
      aiming: false,
    };
    this.enemies.add(enemy);
    return enemy;
  }

  /** Fires a bullet: the armory gives it a routine of its own. */
  fire(x: number, y: number, vx: number, vy: number, friendly: boolean): void {
    this.shots.trySend({ x, y, vx, vy, radius: friendly ? 3 : 4, friendly });
  }

  /** Fires an enemy bullet from `from` at the ship (or straight down if there is none). */
  fireAt(from: Body, speed: number): void {
    const target = this.player ?? { x: from.x, y: HEIGHT };
    const dx = target.x - from.x;
    const dy = target.y - from.y;
    const d = Math.hypot(dx, dy) || 1;
    this.fire(from.x, from.y + from.radius, (dx / d) * speed, (dy / d) * speed, false);
  }

  /** The first live enemy that overlaps `body`, if any. */
  enemyAt(body: Body): Enemy | undefined {
    for (const enemy of this.enemies) {
      if (enemy.hp > 0 && overlaps(enemy, body)) return enemy;
    }
    return undefined;
  }

  /** Whether the ship can be hurt now and overlaps `body`. */
  shipAt(body: Body): boolean {
    const ship = this.player;
    return ship !== null && !ship.down && !ship.invulnerable && !this.god && overlaps(ship, body);
  }

  /** Whether `body` has left the arena (with a margin, so things leave smoothly). */
  outside(body: Body): boolean {
    const m = body.radius * 2 + 40;
    return body.x < -m || body.x > WIDTH + m || body.y < -m * 2 || body.y > HEIGHT + m;
  }
}

/** Whether two bodies touch. */
export function overlaps(a: Body, b: Body): boolean {
  const r = a.radius + b.radius;
  const dx = a.x - b.x;
  const dy = a.y - b.y;
  return dx * dx + dy * dy < r * r;
}

/**
 * A channel for events, sent with `trySend`: the sender never waits. Its
 * buffer is far larger than a frame's events (a `spawn` orders at most 5,000
 * enemies); past it, an event would be dropped rather than stall the sender.
 */
function events<T>(): Channel<T> {
  return new Channel<T>(10_000);
}
