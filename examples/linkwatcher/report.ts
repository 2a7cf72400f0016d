/**
 * What linkwatcher knows and how it says it: the board (the last state of
 * every URL checked) and its three ways of printing: a line per change, a
 * JSON object per change, and the live table for a terminal.
 *
 * The board is plain data updated by the check tasks; printing reads it.
 * Nothing here waits or does I/O, so all of it is tested without a server.
 */
import type { CheckResult } from "./check.ts";

/** A URL's state on the board. */
export interface Entry {
  readonly url: string;
  /** Given on the command line (or in --file), rather than found by the crawl. */
  readonly watched: boolean;
  /** The pages the crawl found it on, in the order found. */
  readonly foundOn: Set<string>;
  /** The last check, once there was one. */
  last: CheckResult | undefined;
  /** When its state (up, or down for a given reason) last changed. */
  changedAt: Date | undefined;
}

/** What one check changed. */
export interface Change {
  readonly entry: Entry;
  /** The state before: "up", "down", or undefined at the first check. */
  readonly previous: "up" | "down" | undefined;
  /** Whether it is news: up/down flipped, or it is down for another reason (404 became a timeout). */
  readonly changed: boolean;
}

export class Board {
  /** By URL; the watched URLs first, in the order given, then links as the crawl finds them. */
  readonly entries = new Map<string, Entry>();

  /** Pages of the crawled sites read for links. */
  readonly readPages = new Set<string>();
  /** Pages of the crawled sites checked at the depth limit and so not read. */
  readonly pastDepth = new Set<string>();
  /** How many unvisited pages the output last spoke of (while watching, it speaks on a change). */
  unvisitedSaid = 0;

  constructor(urls: readonly string[]) {
    for (const url of urls) this.entries.set(url, newEntry(url, true));
  }

  /** Notes that the crawl found a link to `url` on `page`. */
  linkedFrom(url: string, page: string): void {
    let entry = this.entries.get(url);
    if (entry === undefined) {
      entry = newEntry(url, false);
      this.entries.set(url, entry);
    }
    entry.foundOn.add(page);
  }

  /** Records a check; says what changed. */
  record(result: CheckResult, now = new Date()): Change {
    let entry = this.entries.get(result.url);
    if (entry === undefined) {
      entry = newEntry(result.url, false);
      this.entries.set(result.url, entry);
    }
    const before = entry.last;
    const previous = before === undefined ? undefined : before.ok ? "up" : "down";
    const changed =
      before === undefined || before.ok !== result.ok || before.reason !== result.reason;
    entry.last = result;
    if (changed) entry.changedAt = now;
    return { entry, previous, changed };
  }

  /** The URLs given by the user, in order. */
  watched(): Entry[] {
    return [...this.entries.values()].filter((e) => e.watched);
  }

  /** Links found by the crawl whose last check failed. */
  broken(): Entry[] {
    return [...this.entries.values()].filter((e) => !e.watched && e.last?.ok === false);
  }

  /** The pages the depth limit left unvisited: checked but never read for links. */
  unvisited(): string[] {
    return [...this.pastDepth].filter((url) => !this.readPages.has(url));
  }

  /** How many URLs have been checked at least once. */
  checked(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.last !== undefined) n++;
    return n;
  }
}

function newEntry(url: string, watched: boolean): Entry {
  return { url, watched, foundOn: new Set(), last: undefined, changedAt: undefined };
}

// ------------------------------------------------------------------ text

/**
 * A check in words: "200  12 ms", "301 -> https://b/  200  12 ms",
 * "404 Not Found  3 ms", "timeout after 10 s", "connection refused".
 */
export function describeResult(result: CheckResult): string {
  const parts: string[] = [];
  if (result.redirects.length > 0) {
    parts.push(`${result.redirects.map((hop) => hop.code).join(" -> ")} -> ${result.finalUrl}`);
  }
  parts.push(result.ok ? String(result.code) : result.reason);
  // With no answer (refused, timeout, DNS) the time says nothing the reason does not.
  if (result.code !== undefined) parts.push(milliseconds(result.latency));
  return parts.join("  ");
}

/** "on https://a/, https://b/ (and 3 more pages)": where the crawl found a link. */
export function describePages(entry: Entry, most = 3): string {
  const pages = [...entry.foundOn];
  if (pages.length === 0) return "";
  const more = pages.length - most;
  const shown = pages.slice(0, most).join(", ");
  return more > 0
    ? `on ${shown} (and ${more} more ${more === 1 ? "page" : "pages"})`
    : `on ${shown}`;
}

/** One line for a change, as printed while watching without a terminal. */
export function changeLine(change: Change, now = new Date()): string {
  const { entry } = change;
  const result = entry.last as CheckResult;
  const where = entry.watched ? "" : `  ${describePages(entry)}`;
  return `${isoSeconds(now)} ${result.ok ? "UP  " : "DOWN"} ${entry.url}  ${describeResult(result)}${where}`;
}

/** "1 page left unvisited by --depth 2": what the depth limit left out; "" when nothing. */
export function describeUnvisited(board: Board, depth: number): string {
  const n = board.unvisited().length;
  return n === 0 ? "" : `${plural(n, "page")} left unvisited by --depth ${depth}`;
}

/** The line printed while watching (without a terminal) when the count of unvisited pages changes. */
export function depthLine(board: Board, depth: number, now = new Date()): string {
  const pages = board.unvisited();
  const more = pages.length - 3;
  const shown = pages.slice(0, 3).join(", ") + (more > 0 ? ` (and ${more} more)` : "");
  return `${isoSeconds(now)} DEPTH ${describeUnvisited(board, depth)}: ${shown}`;
}

/** The JSON object printed while watching when the count of unvisited pages changes. */
export function depthJson(board: Board, depth: number, now = new Date()): Record<string, unknown> {
  const pages = board.unvisited();
  return { type: "depth", time: now.toISOString(), depth, unvisited: pages.length, pages };
}

/**
 * The --once report: the watched URLs aligned in a column, then every
 * broken link with the page it was found on, then a summary line.
 * `crawlDepth` is --depth when the run crawled, undefined otherwise.
 */
export function onceReport(board: Board, crawlDepth: number | undefined): string[] {
  const watched = board.watched();
  const broken = board.broken();
  const width = Math.max(...[...watched, ...broken].map((e) => e.url.length));
  const lines: string[] = [];
  for (const entry of watched) {
    const result = entry.last;
    const status = result === undefined ? "?" : result.ok ? "UP" : "DOWN";
    const text = result === undefined ? "not checked" : describeResult(result);
    lines.push(`${status.padEnd(6)} ${entry.url.padEnd(width)}  ${text}`);
  }
  for (const entry of broken) {
    const text = describeResult(entry.last as CheckResult);
    lines.push(`BROKEN ${entry.url.padEnd(width)}  ${text}  ${describePages(entry)}`);
  }
  const up = watched.filter((e) => e.last?.ok === true).length;
  const summary = [`${up} up`, `${watched.length - up} down`];
  let unvisited = "";
  if (crawlDepth !== undefined) {
    summary.push(plural(broken.length, "broken link"), `${board.checked()} URLs checked`);
    unvisited = describeUnvisited(board, crawlDepth);
  }
  lines.push("", summary.join(", ") + (unvisited === "" ? "" : `; ${unvisited}`));
  return lines;
}

// ------------------------------------------------------------------ JSON

/** A check as a JSON-ready object (one line of --json output). */
export function checkJson(
  entry: Entry,
  extra: { time?: Date; previous?: "up" | "down" | undefined } = {},
): Record<string, unknown> {
  const result = entry.last as CheckResult;
  return {
    type: entry.watched ? "check" : "link",
    ...(extra.time === undefined ? {} : { time: extra.time.toISOString() }),
    url: entry.url,
    status: result.ok ? "up" : "down",
    ...("previous" in extra ? { previous: extra.previous ?? null } : {}),
    code: result.code ?? null,
    reason: result.reason === "" ? null : result.reason,
    redirects: result.redirects,
    finalUrl: result.finalUrl,
    method: result.method,
    latencyMs: Math.round(result.latency * 1000),
    ...(entry.watched ? {} : { foundOn: [...entry.foundOn] }),
  };
}

/** The last line of a --once --json report; with --crawl, also --depth and the pages it left unvisited. */
export function summaryJson(board: Board, crawlDepth?: number): Record<string, unknown> {
  const watched = board.watched();
  const up = watched.filter((e) => e.last?.ok === true).length;
  return {
    type: "summary",
    up,
    down: watched.length - up,
    broken: board.broken().length,
    checked: board.checked(),
    ...(crawlDepth === undefined ? {} : { depth: crawlDepth, unvisited: board.unvisited().length }),
  };
}

// ------------------------------------------------------------------ the live table

export interface TableSettings {
  readonly every: number;
  readonly timeout: number;
  /** Terminal width; lines are cut to it so that none wraps (which would spoil the redraw). */
  readonly columns: number;
  /** Broken links listed under the table at most (a big site could have hundreds). */
  readonly maxBroken?: number;
  /** --depth, when crawling: the table then says how many pages it left unvisited. */
  readonly crawlDepth?: number;
}

/**
 * The live table, as lines: a title, the watched URLs (URL, STATUS, CODE,
 * LATENCY, LAST CHANGE, and what went wrong or where a redirect led), then
 * the broken links the crawl found.
 */
export function tableLines(board: Board, settings: TableSettings, now = new Date()): string[] {
  const watched = board.watched();
  const rows = watched.map((entry) => {
    const r = entry.last;
    return [
      entry.url,
      r === undefined ? "..." : r.ok ? "UP" : "DOWN",
      r === undefined ? "" : codeColumn(r),
      r === undefined || r.code === undefined ? "" : milliseconds(r.latency),
      entry.changedAt === undefined ? "" : ago(entry.changedAt, now),
      r === undefined ? "" : r.ok ? (r.redirects.length > 0 ? `-> ${r.finalUrl}` : "") : r.reason,
    ];
  });
  const header = ["URL", "STATUS", "CODE", "LATENCY", "LAST CHANGE", ""];
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)),
  );
  // A terminal that does not say its size (0) gets the classic 80 columns.
  const columns = settings.columns > 0 ? settings.columns : 80;
  // When the terminal is narrow the URL column gives way first (what went wrong matters more
  // than the middle of a URL), but never below 24 characters.
  const fixed = widths.slice(1, 5).reduce((sum, w) => sum + w + 2, 2);
  const detail = Math.min(widths[5] ?? 0, 24);
  widths[0] = Math.max(24, Math.min(widths[0] ?? 0, columns - fixed - detail));
  const format = (row: string[]) =>
    row
      .map((cell, i) => {
        const width = widths[i] ?? 0;
        if (i === 0) return shorten(cell, width).padEnd(width);
        if (i === 3) return cell.padStart(width); // numbers right-aligned
        return i === row.length - 1 ? cell : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  const up = watched.filter((e) => e.last?.ok === true).length;
  const down = watched.filter((e) => e.last?.ok === false).length;
  const lines = [
    `linkwatcher: ${up} up, ${down} down; checks every ${settings.every} s (timeout ${settings.timeout} s); Ctrl-C to stop`,
    "",
    format(header),
    ...rows.map(format),
  ];
  const unvisited =
    settings.crawlDepth === undefined ? "" : describeUnvisited(board, settings.crawlDepth);
  if (unvisited !== "") {
    const them = board.unvisited().length === 1 ? "it" : "them";
    lines.push("", `${unvisited} (raise --depth to read ${them})`);
  }
  const broken = board.broken();
  if (broken.length > 0) {
    const most = settings.maxBroken ?? 10;
    lines.push("", `${plural(broken.length, "broken link")}:`);
    for (const entry of broken.slice(0, most)) {
      const r = entry.last as CheckResult;
      lines.push(`  ${entry.url}  ${r.reason}  ${describePages(entry, 1)}`);
    }
    if (broken.length > most) lines.push(`  ... and ${broken.length - most} more`);
  }
  // Cut at the right edge: a line that wrapped would take two rows and spoil the redraw.
  return lines.map((line) => (line.length < columns ? line : line.slice(0, columns - 1)));
}

/** "200", "301>200", or "-" when no answer came. */
function codeColumn(result: CheckResult): string {
  const codes = result.redirects.map((hop) => hop.code);
  if (result.code !== undefined) codes.push(result.code);
  return codes.length === 0 ? "-" : codes.join(">");
}

/** "5 s ago", "3 min ago", "2 h ago", "4 d ago": short enough for a column, and it moves. */
function ago(at: Date, now: Date): string {
  const seconds = Math.max(0, Math.round((now.getTime() - at.getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** Cuts the middle out of a long URL, keeping more of its start (the host) than of its end. */
function shorten(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 3) return text.slice(0, width);
  const head = Math.ceil((width - 3) * 0.6);
  return `${text.slice(0, head)}...${text.slice(text.length - (width - 3 - head))}`;
}

function milliseconds(seconds: number): string {
  return `${Math.round(seconds * 1000)} ms`;
}

function isoSeconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
