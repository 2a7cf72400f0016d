/**
 * The keyboard: keys held become the world's `input`, which the `pilot`
 * routine reads each frame; the backtick opens and closes the console.
 *
 * Keys are matched by `event.code` (the key's place on the keyboard), so
 * WASD and the backtick work on any layout. While the console's input has
 * the focus, keys are typing, not flying.
 */
import type { Input } from "./world.ts";

const MOVES: Record<string, "left" | "right" | "up" | "down"> = {
  ArrowLeft: "left",
  KeyA: "left",
  ArrowRight: "right",
  KeyD: "right",
  ArrowUp: "up",
  KeyW: "up",
  ArrowDown: "down",
  KeyS: "down",
};

export interface KeyboardOptions {
  /** Called when the backtick is pressed. */
  toggleConsole: () => void;
  /** Whether keys are being typed into the console now. */
  typing: () => boolean;
}

/** Listens on `target` for the game's keys; gives a function that stops listening. */
export function attachKeyboard(target: Window, input: Input, options: KeyboardOptions): () => void {
  const release = () => {
    input.left = input.right = input.up = input.down = input.fire = false;
  };
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.code === "Backquote") {
      event.preventDefault(); // no backtick typed into the console's input
      if (!event.repeat) {
        release();
        options.toggleConsole();
      }
      return;
    }
    if (options.typing()) return;
    const move = MOVES[event.code];
    if (move !== undefined) input[move] = true;
    else if (event.code === "Space") input.fire = true;
    else if (event.code !== "Enter") return;
    event.preventDefault(); // no page scrolling
    if ((event.code === "Space" || event.code === "Enter") && !event.repeat) input.presses++;
  };
  const onKeyUp = (event: KeyboardEvent) => {
    const move = MOVES[event.code];
    if (move !== undefined) input[move] = false;
    else if (event.code === "Space") input.fire = false;
  };
  target.addEventListener("keydown", onKeyDown);
  target.addEventListener("keyup", onKeyUp);
  target.addEventListener("blur", release);
  return () => {
    target.removeEventListener("keydown", onKeyDown);
    target.removeEventListener("keyup", onKeyUp);
    target.removeEventListener("blur", release);
  };
}
