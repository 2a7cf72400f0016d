/**
 * Deadlock detection for `run()`: the host's "event loop is empty" event.
 *
 * A run() that is idle with no timer pending waits for a callback from
 * outside (a promise, I/O). If the host's event loop then runs out of work,
 * no such callback can ever come: the process would end with the run()
 * promise never settled, saying nothing (Node exits with code 13 under a
 * top-level await, 0 otherwise). Node announces that moment with the
 * process event "beforeExit"; hosts without it (browsers, whose event loop
 * never ends) are simply not watched. The core imports no `node:*`: the
 * host is found on `globalThis.process`.
 *
 * Each run() in progress registers a check here; one host listener serves
 * them all, added with the first and removed with the last, so there is no
 * listener per worker and none left behind. Nothing happens per step or
 * per wake.
 *
 * The verdict takes two "beforeExit" events: at the first, each check
 * notes where its worker stands and asks for one more turn of the event
 * loop, so that another listener of the same event that starts work (a
 * timer, a promise it settles) has its chance to wake the tasks; only a
 * worker that has not moved by the next "beforeExit" is deadlocked.
 */

/** What the host must offer: Node's process, or a look-alike (Bun, Deno). */
interface ExitHost {
  on(event: "beforeExit", listener: () => void): unknown;
  removeListener(event: "beforeExit", listener: () => void): unknown;
}

const host: ExitHost | undefined = (() => {
  const candidate = (globalThis as { process?: Partial<ExitHost> }).process;
  return typeof candidate?.on === "function" && typeof candidate.removeListener === "function"
    ? (candidate as ExitHost)
    : undefined;
})();

/**
 * Asked when the event loop has run out of work. Returns true to ask for
 * one more turn before it decides (it has just seen its worker stuck for
 * the first time); it settles its run() itself when it is sure.
 */
export type ExitCheck = () => boolean;

/** The checks of the runs in progress. */
const checks = new Set<ExitCheck>();

/** Runs `callback` after one more turn of the event loop, which that keeps alive. */
const nextTurn: (callback: () => void) => void = (() => {
  const immediate = (globalThis as { setImmediate?: (cb: () => void) => unknown }).setImmediate;
  return typeof immediate === "function"
    ? (cb) => void immediate(cb)
    : (cb) => void setTimeout(cb, 0);
})();

function onBeforeExit(): void {
  let again = false;
  for (const check of [...checks]) {
    try {
      if (check()) again = true;
    } catch {
      // A check never throws by design; if it did, the others still get their turn.
    }
  }
  if (again) nextTurn(() => {});
}

/** A run() starts: watch its worker until `unwatchExit`. */
export function watchExit(check: ExitCheck): void {
  if (host === undefined || checks.has(check)) return;
  checks.add(check);
  if (checks.size === 1) host.on("beforeExit", onBeforeExit);
}

/** A run() ended. */
export function unwatchExit(check: ExitCheck): void {
  if (host === undefined || !checks.delete(check)) return;
  if (checks.size === 0) host.removeListener("beforeExit", onBeforeExit);
}
