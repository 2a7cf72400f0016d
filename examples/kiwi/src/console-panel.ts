/**
 * The console panel: the element with id "console", hidden until the
 * backtick is pressed. At its top, a line of statistics redrawn each frame
 * (virtual time, live tasks, steps per frame, the scheduler's time, frame
 * time) and the live task table (state and call stack of each) redrawn a
 * few times a second; below, the log of commands and their answers, and
 * the input line. Up and Down walk through earlier commands; Escape closes.
 *
 * All the words come from `commands.ts`; this module only moves text in
 * and out of the page.
 */
import { statsLine, taskTable } from "./commands.ts";
import type { Kiwi } from "./session.ts";

/** Rows of the live task table. */
const LIVE_ROWS = 24;
/** Milliseconds between two redraws of the task table. */
const TABLE_EVERY_MS = 250;
/** Lines of log kept. */
const LOG_LINES = 400;

export class ConsolePanel {
  readonly #kiwi: Kiwi;
  readonly #root: HTMLElement;
  readonly #stats: HTMLElement;
  readonly #tasks: HTMLElement;
  readonly #log: HTMLElement;
  readonly #input: HTMLInputElement;
  /** Commands entered, oldest first, and where Up/Down is in them. */
  readonly #entered: string[] = [];
  #recall = 0;
  /** When the task table was last redrawn (ms, page time). */
  #tableAt = Number.NEGATIVE_INFINITY;

  constructor(root: HTMLElement, kiwi: Kiwi) {
    this.#kiwi = kiwi;
    this.#root = root;
    this.#stats = part(root, "#console-stats");
    this.#tasks = part(root, "#console-tasks");
    this.#log = part(root, "#console-log");
    this.#input = part(root, "#console-input") as HTMLInputElement;
    part(root, "#console-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.run(this.#input.value);
      this.#input.value = "";
    });
    this.#input.addEventListener("keydown", (event) => this.#onKey(event));
    this.#print("kiwi console: type help for the commands");
  }

  get open(): boolean {
    return !this.#root.hidden;
  }

  /** Whether keys go to the console's input now. */
  get typing(): boolean {
    return this.open && document.activeElement === this.#input;
  }

  toggle(): void {
    this.#root.hidden = !this.#root.hidden;
    if (this.open) {
      this.refresh(performance.now(), true);
      this.#input.focus();
    } else {
      this.#input.blur();
    }
  }

  /** Runs a command line and logs it with its answer. */
  run(line: string): string {
    const answer = this.#kiwi.command(line);
    if (line.trim() !== "") {
      this.#entered.push(line);
      this.#recall = this.#entered.length;
    }
    this.#print(`> ${line}${answer === "" ? "" : `\n${answer}`}`);
    this.refresh(performance.now(), true);
    return answer;
  }

  /** Redraws the statistics (each call) and the task table (a few times a second), while open. */
  refresh(now: number, force = false): void {
    if (!this.open) return;
    this.#stats.textContent = statsLine(this.#kiwi);
    if (force || now - this.#tableAt >= TABLE_EVERY_MS) {
      this.#tableAt = now;
      this.#tasks.textContent = taskTable(this.#kiwi, undefined, LIVE_ROWS);
    }
  }

  #print(text: string): void {
    const lines = `${this.#log.textContent ?? ""}${text}\n`.split("\n");
    this.#log.textContent = lines.slice(-LOG_LINES).join("\n");
    this.#log.scrollTop = this.#log.scrollHeight;
  }

  #onKey(event: KeyboardEvent): void {
    if (event.key === "Escape") {
      event.preventDefault();
      this.toggle();
    } else if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      event.preventDefault();
      const n = this.#entered.length;
      this.#recall = Math.max(0, Math.min(n, this.#recall + (event.key === "ArrowUp" ? -1 : 1)));
      this.#input.value = this.#entered[this.#recall] ?? "";
    }
  }
}

function part(root: HTMLElement, selector: string): HTMLElement {
  const element = root.querySelector<HTMLElement>(selector);
  if (element === null) throw new Error(`the console panel has no ${selector}`);
  return element;
}
