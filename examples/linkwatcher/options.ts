/**
 * The command line of linkwatcher: parsing, checking and the help text.
 *
 * Everything a user can get wrong is caught here, before any task starts,
 * and reported as a UsageError whose message names the option and the
 * value that came, so `main()` can print it and exit with status 2.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";

/** What the command line asks for, checked and with defaults filled in. */
export interface Options {
  /** The URLs to watch, normalised (`new URL().href`, no fragment), each once, in the order given. */
  readonly urls: readonly string[];
  /** Seconds between the end of one check of a URL and the start of the next. */
  readonly every: number;
  readonly once: boolean;
  /** Checks (HTTP requests with their redirects) in flight at once. */
  readonly concurrency: number;
  /** Seconds each HTTP request may take, body included. */
  readonly timeout: number;
  readonly crawl: boolean;
  /** How many links away from a watched URL the crawl goes. */
  readonly depth: number;
  /** Whether the crawl reads links in CSS: <style>, style="" and stylesheets (--no-css: not). */
  readonly css: boolean;
  readonly json: boolean;
}

/** A mistake on the command line: exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export const USAGE = `Usage: linkwatcher [options] <url...>

Watches web pages: reports when they go down or come back up.

Options:
  -f, --file <path>       read URLs from a file (one per line, # comments)
  --every <seconds>       check interval (default 60)
  --once                  check once, print a report, exit
  --concurrency <n>       checks in flight at once (default 8)
  --timeout <seconds>     per request (default 10)
  --crawl                 also follow links found in HTML pages on the same origin
  --depth <n>             crawl depth (default 2)
  --no-css                do not read links in CSS (style sheets, <style>, style="")
  --json                  one JSON object per line instead of text
  -h, --help              show this help

Without --once it runs until Ctrl-C (SIGINT) or SIGTERM, then exits 0.
With --once the exit status is 0 when all is well, 1 when something is
broken, and 2 for bad usage.
`;

const optionSpec = {
  file: { type: "string", short: "f", multiple: true },
  every: { type: "string" },
  once: { type: "boolean" },
  concurrency: { type: "string" },
  timeout: { type: "string" },
  crawl: { type: "boolean" },
  depth: { type: "string" },
  "no-css": { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Parses and checks the arguments (not including `node` and the script).
 * Gives "help" for --help; throws UsageError for anything wrong, including
 * a --file that cannot be read or holds a bad URL.
 */
export async function parseOptions(argv: readonly string[]): Promise<Options | "help"> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof optionSpec; allowPositionals: true }>>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: optionSpec,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return "help";

  const every = seconds("--every", values.every, 60);
  const timeout = seconds("--timeout", values.timeout, 10);
  const concurrency = wholeNumber("--concurrency", values.concurrency, 8, 1);
  const depth = wholeNumber("--depth", values.depth, 2, 0);

  const urls = new Set<string>();
  for (const arg of positionals) urls.add(checkUrl(arg, "argument"));
  for (const path of values.file ?? []) {
    for (const url of await readUrlFile(path)) urls.add(url);
  }
  if (urls.size === 0) {
    throw new UsageError("no URLs to watch: give at least one URL, or --file <path>");
  }
  return {
    urls: [...urls],
    every,
    once: values.once === true,
    concurrency,
    timeout,
    crawl: values.crawl === true,
    depth,
    css: values["no-css"] !== true,
    json: values.json === true,
  };
}

/**
 * The URLs in a file: one a line; blank lines and `#` comments ignored. A
 * comment starts a line or follows whitespace, so a `#` inside a URL (a
 * fragment) is not taken for one: a URL cannot contain whitespace.
 */
export function parseUrlList(text: string, source: string): string[] {
  const urls: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (line !== "") urls.push(checkUrl(line, `${source}:${index + 1}`));
  });
  return urls;
}

async function readUrlFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why = code === "ENOENT" ? "no such file" : String((error as Error).message ?? error);
    throw new UsageError(`--file cannot read '${path}': ${why}`);
  }
  return parseUrlList(text, path);
}

/**
 * An http(s) URL, normalised, without its fragment (which never reaches
 * the server, so two URLs that differ only there are the same check).
 * `where` says where it came from, for the message.
 */
function checkUrl(text: string, where: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    // "example.com/page" parses as nothing, "localhost:8080" as a scheme: suggest the likely fix.
    const hint = /^[\w.-]+(:\d+)?(\/|$)/.test(text) ? ` (did you mean 'https://${text}'?)` : "";
    throw new UsageError(`expected an http:// or https:// URL, got '${text}' (${where})${hint}`);
  }
  url.hash = "";
  return url.href;
}

/** A positive, finite number of seconds (fractions welcome: --every 0.5). */
function seconds(option: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`${option} expects a positive number of seconds, got '${value}'`);
  }
  return n;
}

function wholeNumber(option: string, value: string | undefined, fallback: number, min: number) {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${option} expects a whole number of ${min} or more, got '${value}'`);
  }
  return n;
}

/** parseArgs' messages, made short: the first line, or "unknown option '--x'". */
function parseArgsMessage(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = String(message ?? error);
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const option = /'([^']+)'/.exec(text)?.[1];
    if (option !== undefined) return `unknown option '${option}'`;
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") return text;
  return (text.split("\n")[0] ?? text).replace(/^Option/, "option");
}
