/**
 * Drawing: the world on a 2D canvas, once per animation frame.
 *
 * The renderer only reads the world; it never changes it, so what is drawn
 * is exactly what the actors left after the frame's steps.
 */
import type { Kiwi } from "./session.ts";
import { ENEMY_STATS, type Enemy, type EnemyKind, HEIGHT, type Ship, WIDTH } from "./world.ts";

const FONT = '"DejaVu Sans Mono", "Menlo", "Consolas", monospace';

/** Draws one frame of the game. */
export function draw(g: CanvasRenderingContext2D, kiwi: Kiwi): void {
  const { world } = kiwi;
  const now = world.now();

  g.fillStyle = "#05060f";
  g.fillRect(0, 0, WIDTH, HEIGHT);

  // Stars: the faster, the brighter.
  for (const star of world.stars) {
    const light = Math.round(90 + star.speed * 2);
    g.fillStyle = `rgb(${light},${light},${Math.min(255, light + 30)})`;
    g.fillRect(star.x, star.y, 2, 2);
  }

  drawEnemies(g, world.enemies, now);

  // Bullets: the ship's are yellow bolts, the enemies' orange drops.
  g.fillStyle = "#ffe066";
  for (const b of world.bullets) if (b.friendly) g.fillRect(b.x - 1.5, b.y - 8, 3, 14);
  g.fillStyle = "#ff8c42";
  for (const b of world.bullets) {
    if (!b.friendly) g.fillRect(b.x - b.radius, b.y - b.radius, b.radius * 2, b.radius * 2);
  }

  if (world.player !== null) drawShip(g, world.player, now);

  for (const blast of world.blasts) {
    const r = blast.size * (0.3 + blast.progress);
    g.globalAlpha = 1 - blast.progress;
    g.fillStyle = "#ffb347";
    g.beginPath();
    g.arc(blast.x, blast.y, r, 0, Math.PI * 2);
    g.fill();
    g.fillStyle = "#fff3c4";
    g.beginPath();
    g.arc(blast.x, blast.y, r * 0.5, 0, Math.PI * 2);
    g.fill();
    g.globalAlpha = 1;
  }

  drawHud(g, kiwi);
  if (world.banner !== null) drawBanner(g, world.banner.title, world.banner.lines);
}

/**
 * Enemies are drawn from small pre-drawn sprites, one per kind (and a white
 * one for the moment after a hit): copying a sprite is several times
 * cheaper than tracing the shape again, which matters with a crowd on a
 * canvas without a GPU.
 */
function drawEnemies(g: CanvasRenderingContext2D, enemies: Set<Enemy>, now: number): void {
  for (const e of enemies) {
    const image = sprite(e.kind, now - e.hitAt < 0.08);
    g.drawImage(image, Math.round(e.x - image.width / 2), Math.round(e.y - image.height / 2));
    if (e.aiming) {
      g.strokeStyle = "rgba(255,60,60,0.7)";
      g.lineWidth = 1;
      g.beginPath();
      g.arc(e.x, e.y, e.radius * 1.6, 0, Math.PI * 2);
      g.stroke();
    }
  }
}

const sprites = new Map<string, HTMLCanvasElement>();

/** The sprite of an enemy kind, drawn on first use; `white` for the flash of a hit. */
function sprite(kind: EnemyKind, white: boolean): HTMLCanvasElement {
  const key = `${kind}${white ? " white" : ""}`;
  const cached = sprites.get(key);
  if (cached !== undefined) return cached;
  const r = ENEMY_STATS[kind].radius;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = Math.ceil(r * 3.6) + 4;
  const g = canvas.getContext("2d");
  if (g === null) throw new Error("this browser gives no 2D canvas context");
  g.translate(canvas.width / 2, canvas.height / 2);
  const colour = (c: string) => (white ? "#ffffff" : c);
  if (kind === "drone") {
    // A round kiwi bird with a long beak.
    g.fillStyle = colour("#8a6d3b");
    g.beginPath();
    g.arc(0, 0, r, 0, Math.PI * 2);
    g.fill();
    g.strokeStyle = colour("#e8d8a0");
    g.lineWidth = 2;
    g.beginPath();
    g.moveTo(r * 0.4, r * 0.6);
    g.lineTo(r * 0.9, r * 1.6);
    g.stroke();
    g.fillStyle = "#111";
    g.fillRect(r * 0.2, -r * 0.2, 3, 3);
  } else if (kind === "hunter") {
    // Dark red wings.
    g.fillStyle = colour("#b3263a");
    g.beginPath();
    g.moveTo(-r * 1.4, -r * 0.4);
    g.lineTo(0, r);
    g.lineTo(r * 1.4, -r * 0.4);
    g.lineTo(0, -r * 0.6);
    g.closePath();
    g.fill();
    g.fillStyle = "#ffd1dc";
    g.fillRect(-2, -2, 4, 4);
  } else {
    // A violet dart pointing down.
    g.fillStyle = colour("#9b5de5");
    g.beginPath();
    g.moveTo(0, r * 1.3);
    g.lineTo(-r, -r);
    g.lineTo(r, -r);
    g.closePath();
    g.fill();
  }
  sprites.set(key, canvas);
  return canvas;
}

function drawShip(g: CanvasRenderingContext2D, ship: Ship, now: number): void {
  if (ship.down) return;
  if (ship.invulnerable && Math.floor(now * 10) % 2 === 0) return; // blinks
  const r = ship.radius;
  g.fillStyle = "#4cc9f0";
  g.beginPath();
  g.moveTo(ship.x, ship.y - r * 1.4);
  g.lineTo(ship.x - r, ship.y + r);
  g.lineTo(ship.x, ship.y + r * 0.5);
  g.lineTo(ship.x + r, ship.y + r);
  g.closePath();
  g.fill();
  g.fillStyle = "#f72585";
  g.fillRect(ship.x - 2, ship.y + r * 0.5, 4, 4 + Math.random() * 5);
}

function drawHud(g: CanvasRenderingContext2D, kiwi: Kiwi): void {
  const { world } = kiwi;
  g.font = `16px ${FONT}`;
  g.textBaseline = "top";
  g.fillStyle = "#e0e0e0";
  g.textAlign = "left";
  g.fillText(`SCORE ${world.score}${world.combo > 1 ? `  ×${world.combo}` : ""}`, 12, 10);
  g.textAlign = "right";
  g.fillText(`BEST ${Math.max(world.best, world.score)}`, WIDTH - 12, 10);
  if (world.wave > 0) {
    g.textAlign = "center";
    g.fillText(`WAVE ${world.wave}`, WIDTH / 2, 10);
  }
  // Lives: small ships in the corner.
  g.fillStyle = "#4cc9f0";
  for (let i = 0; i < (world.player?.lives ?? 0); i++) {
    const x = 20 + i * 22;
    g.beginPath();
    g.moveTo(x, HEIGHT - 26);
    g.lineTo(x - 7, HEIGHT - 12);
    g.lineTo(x + 7, HEIGHT - 12);
    g.closePath();
    g.fill();
  }
  g.font = `13px ${FONT}`;
  g.textAlign = "right";
  g.textBaseline = "bottom";
  g.fillStyle = "#7a7f9a";
  const mode = world.god ? "god mode · " : "";
  g.fillText(`${mode}\` console`, WIDTH - 10, HEIGHT - 8);
  if (kiwi.paused || kiwi.slow !== 1) {
    g.font = `bold 18px ${FONT}`;
    g.textAlign = "center";
    g.textBaseline = "top";
    g.fillStyle = "#ffd166";
    g.fillText(kiwi.paused ? "PAUSED" : `SLOW ×${kiwi.slow}`, WIDTH / 2, 34);
  }
}

function drawBanner(g: CanvasRenderingContext2D, title: string, lines: string[]): void {
  g.textAlign = "center";
  g.textBaseline = "middle";
  g.fillStyle = "#f72585";
  g.font = `bold 56px ${FONT}`;
  const top = HEIGHT / 2 - 40 - lines.length * 12;
  g.fillText(title, WIDTH / 2, top);
  g.fillStyle = "#e0e0e0";
  g.font = `18px ${FONT}`;
  for (const [i, line] of lines.entries()) g.fillText(line, WIDTH / 2, top + 60 + i * 26);
}
