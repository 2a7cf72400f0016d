/**
 * The page: a Kiwi session driven by requestAnimationFrame, drawn on the
 * canvas, played with the keyboard, inspected with the console, and
 * exposed to tests as `window.kiwi`.
 *
 * Each animation frame hands the session the real time since the previous
 * one; the session turns it into virtual time and runs the scheduler
 * within its budget; then the world is drawn.
 */
import { ConsolePanel } from "./console-panel.ts";
import { attachKeyboard } from "./keyboard.ts";
import { draw } from "./render.ts";
import { Kiwi, type KiwiHook } from "./session.ts";
import { FRAME } from "./world.ts";

declare global {
  interface Window {
    /** The test hook (contract): state() and command(line). */
    kiwi: KiwiHook;
  }
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}`);
  return found as T;
}

const kiwi = new Kiwi({ seed: Date.now() % 2 ** 32 });
const canvas = element<HTMLCanvasElement>("screen");
const context = canvas.getContext("2d");
if (context === null) throw new Error("this browser gives no 2D canvas context");
const screen: CanvasRenderingContext2D = context;
const panel = new ConsolePanel(element("console"), kiwi);
attachKeyboard(window, kiwi.world.input, {
  toggleConsole: () => panel.toggle(),
  typing: () => panel.typing,
});

window.kiwi = {
  state: () => kiwi.state(),
  command: (line) => panel.run(line),
  history: (count) => kiwi.history(count),
};

let previous: number | undefined;
function loop(now: number): void {
  const elapsed = previous === undefined ? FRAME : (now - previous) / 1000;
  previous = now;
  kiwi.frame(elapsed);
  draw(screen, kiwi);
  panel.refresh(now);
  requestAnimationFrame(loop);
}
requestAnimationFrame(loop);
