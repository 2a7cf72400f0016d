/**
 * linkwatcher: watches web pages and reports when they go down or come
 * back, built on clockwork microthreads.
 *
 * How the tasks are laid out (as `worker.dump()` shows them), when watching:
 *
 *     linkwatcher > watch      the program; its race ends when untilStopped does
 *       untilStopped           waits for SIGINT/SIGTERM (or io.stop)
 *       watchAll
 *         watch <url>          one per URL: repeat(every, () => round(url))
 *           check <url>        the watched URL, a task per round...
 *             request          the HTTP request, a child made by timeout()...
 *             timer            ...which cancels it when the time is up
 *             check <link>     ...and with --crawl, one per link on the page,
 *               check <link>   ...itself the parent of the checks of its links
 *       liveTable              on a terminal: redraws the table
 *
 * With --once, `checkOnce` races `checkAll` (a `round` per URL, under
 * `all`) against `untilStopped` instead.
 *
 * Every check takes a permit of one Semaphore(--concurrency) first, so at
 * most that many requests are in flight however many URLs and links there
 * are. Stopping is cancelling: the race ends the watchers, every task's
 * `finally` runs (the table is drawn a last time and the cursor comes
 * back), requests in flight are aborted through their task's signal.
 *
 * `linkwatcher(argv, io)` is the whole program, a routine that returns
 * the exit status: `main.ts` runs it as the process with `main()` from
 * clockwork-microthreads/process, and tests run it in-process through
 * `main(argv, io)` here, with a fake Io.
 */
import {
  all,
  call,
  park,
  race,
  repeat,
  routine,
  run,
  Semaphore,
  spawn,
  suspend,
} from "clockwork-microthreads";
import { untilSignal } from "clockwork-microthreads/process";
import { bodyType, type CheckOptions, type CheckResult, checkUrl } from "./check.ts";
import { extractCssLinks, extractLinks } from "./links.ts";
import { type Options, parseOptions, USAGE, UsageError } from "./options.ts";
import {
  Board,
  type Change,
  changeLine,
  checkJson,
  depthJson,
  depthLine,
  onceReport,
  summaryJson,
  tableLines,
} from "./report.ts";

/** Where the program reads its surroundings: the process in main.ts, fakes in tests. */
export interface Io {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Whether stdout is a terminal: then watching draws a live table instead of printing lines. */
  readonly isTTY: boolean;
  /** The terminal's width (80 if not given); read at each redraw, so a getter follows resizes. */
  readonly columns?: number;
  /**
   * Aborted to stop; its reason, when a string, is named in the goodbye.
   * Without it, SIGINT or SIGTERM stops the program (and is named).
   */
  readonly stop?: AbortSignal;
}

/** Exit status of a --once run stopped by SIGINT/SIGTERM, as shells report a death by SIGINT. */
export const INTERRUPTED = 130;

/**
 * Runs linkwatcher with these arguments (without `node` and the script)
 * in-process, and gives the exit status: 0 all good (or a watch stopped),
 * 1 something broken (--once), 2 bad usage, 130 a --once run interrupted.
 */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  try {
    return await run(linkwatcher(argv, io));
  } catch (error) {
    // A bug, not a broken link: every network failure is a result, never an error.
    io.stderr.write(`linkwatcher: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    return 1;
  }
}

/** The program: reads the arguments, checks or watches, and returns the exit status. */
export const linkwatcher = routine(function* linkwatcher(
  argv: readonly string[],
  io: Io,
): Generator<unknown, number, any> {
  let options: Options | "help";
  try {
    options = yield* call(parseOptions(argv));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`linkwatcher: ${error.message}\nTry 'linkwatcher --help' for the options.\n`);
    return 2;
  }
  if (options === "help") {
    io.stdout.write(USAGE);
    return 0;
  }
  // Called with yield (a frame of its own), so the dump's stacks read "linkwatcher > watch".
  return (yield options.once ? checkOnce(options, io) : watch(options, io)) as number;
});

/**
 * The Io of the real process. It has no `stop`: SIGINT and SIGTERM stop
 * the program (untilSignal), and main() exits at once on a second one.
 */
export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: process.stdout.isTTY === true,
    get columns() {
      // 0 or undefined when the terminal does not say (a pty without a size).
      const columns = process.stdout.columns;
      return columns > 0 ? columns : 80;
    },
  };
}

/** What the checks of a run share. */
interface Context {
  readonly options: Options;
  /** At most --concurrency checks at once, across all URLs and rounds. */
  readonly pool: Semaphore;
  readonly board: Board;
  /** Told of each check as soon as it ends (to print a change, or to mark the table for a redraw). */
  readonly onCheck: (change: Change) => void;
  /** Told when a round has ended (to say what the depth limit left unvisited). */
  readonly onRound: () => void;
}

function context(
  options: Options,
  onCheck: (change: Change) => void,
  onRound: () => void = () => {},
): Context {
  return {
    options,
    pool: new Semaphore(options.concurrency),
    board: new Board(options.urls),
    onCheck,
    onRound,
  };
}

/** --depth when the run crawls, undefined when it does not. */
function crawlDepth(options: Options): number | undefined {
  return options.crawl ? options.depth : undefined;
}

// ------------------------------------------------------------------ --once

/** Checks each URL (and with --crawl its links) once, prints the report, gives the exit status. */
const checkOnce = routine(function* checkOnce(
  options: Options,
  io: Io,
): Generator<unknown, number, any> {
  const ctx = context(options, () => {});
  const ending = yield* race<true | string>([
    checkAll(ctx),
    untilStopped(io.stop), // on SIGINT, race cancels the checks and waits until they have unwound
  ]);
  if (ending !== true) {
    io.stderr.write(`linkwatcher: interrupted (${ending})\n`);
    return INTERRUPTED;
  }
  const { board } = ctx;
  if (options.json) {
    const entries = [...board.watched(), ...board.broken()];
    for (const entry of entries) io.stdout.write(`${JSON.stringify(checkJson(entry))}\n`);
    io.stdout.write(`${JSON.stringify(summaryJson(board, crawlDepth(options)))}\n`);
  } else {
    io.stdout.write(`${onceReport(board, crawlDepth(options)).join("\n")}\n`);
  }
  const allGood = board.watched().every((e) => e.last?.ok === true) && board.broken().length === 0;
  return allGood ? 0 : 1;
});

/** One round for each URL, all at once (the semaphore keeps the requests in check). */
const checkAll = routine(function* checkAll(ctx: Context): Generator<unknown, true, any> {
  yield* all(ctx.options.urls.map((url) => round(url, ctx)));
  return true;
});

// ------------------------------------------------------------------ watching

/** Watches until stopped; prints changes as lines (or JSON), or keeps a live table on a terminal. */
const watch = routine(function* watch(options: Options, io: Io): Generator<unknown, number, any> {
  const live = io.isTTY && !options.json;
  const redraw = { needed: true };
  const markForRedraw = () => {
    redraw.needed = true;
  };
  const ctx = live
    ? context(options, markForRedraw, markForRedraw)
    : context(options, printChange(options, io), () => printDepth(ctx, io));
  if (!live) {
    const urls = options.urls.length === 1 ? "1 URL" : `${options.urls.length} URLs`;
    io.stderr.write(`linkwatcher: watching ${urls} every ${options.every} s (Ctrl-C to stop)\n`);
  }
  // Whichever ends first ends the others: only untilStopped ever does.
  const reason = yield* race<string>([
    untilStopped(io.stop),
    watchAll(ctx),
    ...(live ? [liveTable(ctx, io, redraw)] : []),
  ]);
  io.stderr.write(`linkwatcher: stopped (${reason})\n`);
  return 0;
});

/** A task per URL, each checking it with `repeat`: --every seconds after the last round ended. */
const watchAll = routine(function* watchAll(ctx: Context): Generator<unknown, never, any> {
  for (const url of ctx.options.urls) {
    spawn(
      repeat(ctx.options.every, () => round(url, ctx)),
      { name: `watch ${url}` },
    );
  }
  // The watchers are its children: it stays until cancelled, and then so are they.
  for (;;) yield suspend();
});

/** Prints a change as a line or a JSON object; a crawled link that works is news only when it was broken. */
function printChange(options: Options, io: Io): (change: Change) => void {
  return (change) => {
    const { entry, previous, changed } = change;
    if (!changed) return;
    if (!entry.watched && previous === undefined && entry.last?.ok === true) return;
    const now = new Date();
    const line = options.json
      ? JSON.stringify(checkJson(entry, { time: now, previous }))
      : changeLine(change, now);
    io.stdout.write(`${line}\n`);
  };
}

/**
 * Prints what the depth limit left unvisited, as a line or a JSON object,
 * after a round that changed how many pages that is.
 */
function printDepth(ctx: Context, io: Io): void {
  const depth = crawlDepth(ctx.options);
  const count = ctx.board.unvisited().length;
  if (depth === undefined || count === ctx.board.unvisitedSaid) return;
  ctx.board.unvisitedSaid = count;
  if (count === 0) return;
  const line = ctx.options.json
    ? JSON.stringify(depthJson(ctx.board, depth))
    : depthLine(ctx.board, depth);
  io.stdout.write(`${line}\n`);
}

const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";
/** Cursor up `n` lines, to the start of the line, then clear to the end of the screen. */
const back = (n: number) => (n > 0 ? `\r\x1b[${n}A\x1b[J` : "\x1b[J");

/**
 * The live table: redrawn in place after checks (at most ten times a
 * second) and every second for the "ago" column. Its `finally` draws it a
 * last time and brings the cursor back, also when it is cancelled.
 */
const liveTable = routine(function* liveTable(
  ctx: Context,
  io: Io,
  redraw: { needed: boolean },
): Generator<unknown, never, any> {
  let height = 0;
  let drawnAt = 0;
  const draw = () => {
    const lines = tableLines(ctx.board, {
      every: ctx.options.every,
      timeout: ctx.options.timeout,
      columns: io.columns ?? 80,
      ...(ctx.options.crawl ? { crawlDepth: ctx.options.depth } : {}),
    });
    io.stdout.write(`${back(height)}${lines.join("\n")}\n`);
    height = lines.length;
    drawnAt = performance.now();
    redraw.needed = false;
  };
  io.stdout.write(HIDE_CURSOR);
  try {
    return yield* repeat(0.1, () => {
      if (redraw.needed || performance.now() - drawnAt >= 1000) draw();
    });
  } finally {
    draw();
    io.stdout.write(SHOW_CURSOR);
  }
});

// ------------------------------------------------------------------ a round

/**
 * One round for one watched URL: check it and, with --crawl, the links of
 * its site down to --depth links away. The checks flow: each page that is
 * read spawns the checks of the links it holds as children of its own
 * task, so a slow reply holds up only what lies beyond it, never a whole
 * level, and the pool's permits (--concurrency) are the only bound. The
 * round ends when the tree of checks has: a task is done only once its
 * children are. Each URL is checked once a round (a link loop ends at the
 * map of URLs seen); only pages on the watched URL's origin are read for
 * links, other links are checked but not followed.
 */
const round = routine(function* round(root: string, ctx: Context): Generator<unknown, void, any> {
  const crawl: Crawl = {
    origin: new URL(root).origin,
    depth: ctx.options.crawl ? ctx.options.depth : 0,
    hops: new Map([[root, 0]]),
    linksOf: new Map(),
    unread: new Set(),
  };
  yield* spawn(visit(root, crawl, ctx), { name: `check ${root}` }).join();
  ctx.onRound();
});

/**
 * What the checks of one round share.
 *
 * Why `hops` can go down: with checks flowing, the first way the crawl
 * finds a page need not be the shortest (a fast chain of pages can get
 * there before the one slow page that links to it directly), and --depth
 * counts the shortest. So when a page turns out nearer than it was thought,
 * what is known about it is passed on: a page already read hands its links
 * the smaller count; a page checked without being read because it was at
 * the limit is checked again and read. Counts only go down, so this ends.
 */
interface Crawl {
  /** The watched URL's origin: only its pages are read for links. */
  readonly origin: string;
  /** How many links away from the watched URL pages are still read (0 without --crawl). */
  readonly depth: number;
  /** Every URL seen in this round (checked or on its way), with the fewest links to it found so far. */
  readonly hops: Map<string, number>;
  /** The links of each page read, by the URL it was asked for. */
  readonly linksOf: Map<string, readonly string[]>;
  /** Pages of the site checked at the depth limit, not read. */
  readonly unread: Set<string>;
}

/**
 * Checks `url` (`crawl.hops` says how far it is from the watched URL); when
 * it is a page of the site within --depth, reads it and spawns a check for
 * each link not seen yet. The page's text is dropped once read.
 */
const visit = routine(function* visit(
  url: string,
  crawl: Crawl,
  ctx: Context,
): Generator<unknown, void, any> {
  const { options, board } = ctx;
  const readable = options.css ? "html+css" : "html";
  // A page is read for links while the links it holds are within --depth.
  const read = hopsTo(url, crawl) < crawl.depth && sameOrigin(url, crawl.origin);
  const result = yield* checkAndRecord(url, ctx, {
    timeout: options.timeout,
    read: read ? readable : false,
  });
  const { body } = result;
  if (!sameOrigin(result.finalUrl, crawl.origin)) return;
  if (body === undefined) {
    const page = result.ok && bodyType(result.contentType, readable) !== undefined;
    if (!options.crawl || read || !page) return;
    // A page of the site the depth limit kept from being read...
    if (hopsTo(url, crawl) < crawl.depth) {
      // ...unless a nearer way to it was found while it was being checked.
      spawn(visit(url, crawl, ctx), { name: `check ${url}` });
    } else {
      crawl.unread.add(url);
      board.pastDepth.add(result.finalUrl); // the report says how many
    }
    return;
  }
  board.readPages.add(result.finalUrl);
  if (!crawl.hops.has(result.finalUrl)) crawl.hops.set(result.finalUrl, hopsTo(url, crawl));
  const found =
    body.type === "css"
      ? extractCssLinks(body.text, result.finalUrl)
      : extractLinks(body.text, result.finalUrl, { css: options.css });
  for (const value of found.invalid) recordInvalid(value, result.finalUrl, ctx);
  for (const link of found.links) board.linkedFrom(link, result.finalUrl);
  crawl.linksOf.set(url, found.links);
  crawl.linksOf.set(result.finalUrl, found.links);
  follow(found.links, hopsTo(url, crawl) + 1, crawl, ctx);
});

/** The fewest links to `url` found so far. */
function hopsTo(url: string, crawl: Crawl): number {
  return crawl.hops.get(url) ?? 0;
}

/**
 * Goes on to `links`, found `hops` links from the watched URL: a check for
 * each one not seen yet; and for one seen farther away, the smaller count
 * is passed on (see Crawl).
 */
function follow(links: readonly string[], hops: number, crawl: Crawl, ctx: Context): void {
  for (const link of links) {
    const known = crawl.hops.get(link);
    if (known !== undefined && known <= hops) continue;
    crawl.hops.set(link, hops);
    if (known === undefined) {
      spawn(visit(link, crawl, ctx), { name: `check ${link}` });
      continue;
    }
    const read = crawl.linksOf.get(link);
    if (read !== undefined) {
      follow(read, hops + 1, crawl, ctx);
    } else if (crawl.unread.has(link) && hops < crawl.depth) {
      crawl.unread.delete(link);
      spawn(visit(link, crawl, ctx), { name: `check ${link}` });
    }
    // Otherwise its check is on its way, and reads the smaller count when it ends.
  }
}

/** A check with a permit of the pool, recorded on the board as soon as it ends. */
const checkAndRecord = routine(function* checkAndRecord(
  url: string,
  ctx: Context,
  options: CheckOptions,
): Generator<unknown, CheckResult, any> {
  const result = yield* ctx.pool.withPermit(checkUrl(url, options));
  // The board keeps the check, not the page's text: a big site's pages would stay in memory.
  const { body: _, ...kept } = result;
  ctx.onCheck(ctx.board.record(kept));
  return result;
});

/** A link no URL parser takes (`//////`): broken, on the page it was found, with no request. */
function recordInvalid(value: string, page: string, ctx: Context): void {
  ctx.board.linkedFrom(value, page);
  const result: CheckResult = {
    url: value,
    ok: false,
    code: undefined,
    reason: "not a valid URL",
    redirects: [],
    finalUrl: value,
    contentType: "",
    method: "GET",
    latency: 0,
  };
  ctx.onCheck(ctx.board.record(result));
}

function sameOrigin(url: string, origin: string): boolean {
  return new URL(url).origin === origin;
}

/**
 * Waits for `stop` to abort and gives its reason ("SIGINT"); without it,
 * waits for SIGINT or SIGTERM and gives its name. Under main() a signal a
 * task waits for is the program's to handle: it is not cancelled, and it
 * says goodbye and chooses its exit status itself. The listener goes when
 * the wait ends, either way.
 */
const untilStopped = routine(function* untilStopped(
  stop: AbortSignal | undefined,
): Generator<unknown, string, any> {
  if (stop === undefined) return yield* untilSignal();
  if (!stop.aborted) {
    yield* park<void>(({ wake }) => {
      const onAbort = () => wake();
      stop.addEventListener("abort", onAbort);
      return () => stop.removeEventListener("abort", onAbort);
    }, "SIGINT or SIGTERM");
  }
  return typeof stop.reason === "string" ? stop.reason : "stopped";
});
