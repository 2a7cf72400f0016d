/**
 * The console's commands: text in, text out, no DOM.
 *
 * Each command checks its words and, when they are wrong, answers with
 * what was wrong and its usage line; `runCommand` never throws (a console
 * that throws on a typo is no help while debugging). The panel, the page's
 * test hook and the unit tests all go through `runCommand`.
 */
import type { Task } from "clockwork-microthreads";
import type { Kiwi } from "./session.ts";
import { ENEMY_KINDS, isEnemyKind } from "./world.ts";

/** The most rows `ps` lists before it sums up the rest. */
const PS_ROWS = 50;
/** The most enemies one `spawn` orders. */
const MAX_SPAWN = 5000;
/** The most frames one `step` advances. */
const MAX_STEP = 600;
/** The slow-motion factor's range: (0, MAX_SLOW]. */
const MAX_SLOW = 8;

/** Bad input: the message is shown with the command's usage line. */
class UsageError extends Error {}

interface Command {
  /** Its usage line, e.g. "slow <factor>". */
  usage: string;
  /** What it does, in a few words, for `help`. */
  summary: string;
  run(kiwi: Kiwi, args: string[]): string;
}

const commands: Map<string, Command> = new Map([
  [
    "help",
    {
      usage: "help",
      summary: "this list",
      run: (_kiwi, args) => {
        noArguments(args);
        const width = Math.max(...[...commands.values()].map((c) => c.usage.length));
        return [
          "commands:",
          ...[...commands.values()].map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
          "keys: arrows or WASD move, space fires, ` opens and closes this console",
        ].join("\n");
      },
    },
  ],
  [
    "ps",
    {
      usage: "ps [name]",
      summary: "live tasks: id, name, state, call stack (those whose name contains name)",
      run: (kiwi, args) => {
        if (args.length > 1) throw new UsageError("ps takes at most one name to look for");
        return ps(kiwi, args[0]);
      },
    },
  ],
  [
    "pause",
    {
      usage: "pause",
      summary: "stop virtual time (the page still draws)",
      run: (kiwi, args) => {
        noArguments(args);
        if (kiwi.paused) return `already paused at ${time(kiwi)}`;
        kiwi.paused = true;
        return `paused at ${time(kiwi)}; step advances one frame, resume goes on`;
      },
    },
  ],
  [
    "resume",
    {
      usage: "resume",
      summary: "let virtual time run again",
      run: (kiwi, args) => {
        noArguments(args);
        if (!kiwi.paused) return `not paused (${time(kiwi)})`;
        kiwi.paused = false;
        return `resumed at ${time(kiwi)}`;
      },
    },
  ],
  [
    "step",
    {
      usage: "step [frames]",
      summary: "pause, then advance exactly one frame (or frames)",
      run: (kiwi, args) => {
        if (args.length > 1) throw new UsageError("step takes at most one number of frames");
        const frames = args[0] === undefined ? 1 : whole(args[0], "frames", 1, MAX_STEP);
        const steps = kiwi.step(frames);
        return `paused; stepped ${frames} ${frames === 1 ? "frame" : "frames"} to ${time(kiwi)} (${steps} steps)`;
      },
    },
  ],
  [
    "slow",
    {
      usage: "slow <factor>",
      summary: `virtual seconds per real second: 0.25 is quarter speed, 1 normal (up to ${MAX_SLOW})`,
      run: (kiwi, args) => {
        if (args.length !== 1) throw new UsageError("slow needs one factor");
        const factor = Number(args[0]);
        if (!Number.isFinite(factor) || factor <= 0 || factor > MAX_SLOW) {
          throw new UsageError(
            `the factor must be a number above 0 and at most ${MAX_SLOW}, got "${args[0]}"`,
          );
        }
        kiwi.slow = factor;
        return `time runs at ×${factor}${kiwi.paused ? " (paused: resume to see it)" : ""}`;
      },
    },
  ],
  [
    "kill",
    {
      usage: "kill <task>",
      summary: "cancel a task by id or name; its finally blocks run (ps lists them)",
      run: (kiwi, args) => {
        if (args.length !== 1) throw new UsageError("kill needs one task: its id or its name");
        const task = findTask(kiwi, args[0] as string);
        task.cancel();
        return `killed ${task.id} ${task.name}: it unwinds on the next frame`;
      },
    },
  ],
  [
    "spawn",
    {
      usage: `spawn <enemy> [count]`,
      summary: `order enemies in: ${ENEMY_KINDS.join(", ")}`,
      run: (kiwi, args) => {
        if (args.length < 1 || args.length > 2) {
          throw new UsageError("spawn needs an enemy kind, and may take a count");
        }
        const kind = args[0] as string;
        if (!isEnemyKind(kind)) {
          throw new UsageError(`no enemy kind "${kind}"; the kinds are ${ENEMY_KINDS.join(", ")}`);
        }
        const count = args[1] === undefined ? 1 : whole(args[1], "count", 1, MAX_SPAWN);
        if (kiwi.game.isDone()) return "spawn: no game is running; press space to start one";
        const names: string[] = [];
        for (let i = 0; i < count; i++) names.push(kiwi.world.order(kind));
        return count === 1
          ? `ordered ${names[0]}`
          : `ordered ${count} ${kind}s: ${names[0]} … ${names[count - 1]}`;
      },
    },
  ],
  [
    "god",
    {
      usage: "god",
      summary: "toggle: nothing hurts the ship",
      run: (kiwi, args) => {
        noArguments(args);
        kiwi.world.god = !kiwi.world.god;
        return `god mode ${kiwi.world.god ? "on: nothing hurts the ship" : "off"}`;
      },
    },
  ],
]);

/** One line that names every command, for unknown commands. */
export const USAGE = `usage: ${[...commands.values()].map((c) => c.usage).join(" | ")}`;

/** Runs one console line; gives its output. Bad input gives a message and a usage line, never an exception. */
export function runCommand(kiwi: Kiwi, line: string): string {
  const words = String(line).trim().split(/\s+/).filter(Boolean);
  const [name, ...args] = words;
  if (name === undefined) return "";
  const command = commands.get(name.toLowerCase());
  if (command === undefined) return `unknown command "${name}"\n${USAGE}`;
  try {
    return command.run(kiwi, args);
  } catch (error) {
    if (error instanceof UsageError) return `${name}: ${error.message}\nusage: ${command.usage}`;
    return `${name} failed: ${error instanceof Error ? error.message : String(error)}\nusage: ${command.usage}`;
  }
}

/** The one-line summary at the top of `ps` and the console panel. */
export function statsLine(kiwi: Kiwi): string {
  const { last } = kiwi;
  const speed = kiwi.paused ? "paused" : `×${kiwi.slow}`;
  return (
    `frame ${kiwi.frames} · ${time(kiwi)} · ${speed} · ${kiwi.liveTasks} tasks · ` +
    `${last.steps} steps/frame · tick ${last.tickMs.toFixed(2)} ms · frame ${last.frameMs.toFixed(1)} ms`
  );
}

/** `ps`: the summary line, then the task table. */
export function ps(kiwi: Kiwi, filter?: string, limit = PS_ROWS): string {
  return `${statsLine(kiwi)}\n${taskTable(kiwi, filter, limit)}`;
}

/**
 * The live tasks as a tree (children under their parents), each with its
 * id, name, state (what it waits on) and call stack, outermost first; at
 * most `limit` rows, then a count of the rest.
 */
export function taskTable(kiwi: Kiwi, filter?: string, limit = PS_ROWS): string {
  const { worker } = kiwi;
  const rows: string[] = [];
  let matched = 0;
  const visit = (task: Task<unknown>, depth: number): void => {
    if (filter === undefined || task.name.includes(filter)) {
      matched++;
      if (rows.length < limit) {
        const name = `${"  ".repeat(depth)}${task.name}`;
        const state = worker.describeState(task);
        rows.push(
          `${String(task.id).padStart(6)}  ${name.padEnd(18)} ${state.padEnd(30)} ${task.stack.join(" > ")}`,
        );
      }
    }
    for (const child of task.children) visit(child, depth + 1);
  };
  for (const task of worker.tasks) if (task.parent === undefined) visit(task, 0);
  const lines = [`${"id".padStart(6)}  ${"task".padEnd(18)} ${"state".padEnd(30)} stack`, ...rows];
  if (matched > rows.length) {
    lines.push(
      `… and ${matched - rows.length} more (ps <name> lists those whose name contains it)`,
    );
  }
  if (matched === 0)
    lines.push(filter === undefined ? "no live tasks" : `no live task named *${filter}*`);
  return lines.join("\n");
}

/** The live task with this id (all digits) or this exact name. */
function findTask(kiwi: Kiwi, word: string): Task<unknown> {
  const byId = /^\d+$/.test(word);
  const found = kiwi.worker.tasks.filter((t) => (byId ? t.id === Number(word) : t.name === word));
  if (found.length === 0) {
    throw new UsageError(`no live task ${byId ? "with id" : "named"} ${word} (ps lists them)`);
  }
  if (found.length > 1) {
    throw new UsageError(
      `${found.length} tasks are named ${word}; give an id (ps ${word} lists them)`,
    );
  }
  return found[0] as Task<unknown>;
}

function noArguments(args: string[]): void {
  if (args.length > 0) throw new UsageError(`unexpected "${args.join(" ")}"`);
}

/** A whole number in [low, high], or a UsageError naming `what`. */
function whole(word: string, what: string, low: number, high: number): number {
  const n = Number(word);
  if (!/^\d+$/.test(word) || n < low || n > high) {
    throw new UsageError(`${what} must be a whole number from ${low} to ${high}, got "${word}"`);
  }
  return n;
}

function time(kiwi: Kiwi): string {
  return `t=${kiwi.clock.now().toFixed(3)} s`;
}
