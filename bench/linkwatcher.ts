// linkwatcher: the link watcher example against linkinator, the link
// checker users already pick, crawling the same generated site with a few
// slow replies (issue 18). The site is served from this process on
// 127.0.0.1; each checker runs as a child process and the run is timed from
// its start to its exit (Node's start-up included, for both). CPU time
// (user + system) and peak memory (max RSS) are the child's own, written at
// its exit by bench/usage-on-exit.mjs, preloaded with --import.
//
// linkwatcher runs as a built command runs, bundled by
// scripts/build-examples.mjs (examples/linkwatcher/dist/main.js), on this Node. linkinator 8 needs Node 22: it runs on the Node 22 binary of
// the `node` dev dependency (node_modules/node/bin/node), both pinned in
// package-lock.json. Each run must report exactly the broken links the site
// was made with, or it fails instead of posting a time.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Case,
  type Env,
  fail,
  fmtNumber,
  fmtRatio,
  type Lookup,
  type Metric,
  median,
  type Suite,
  type Values,
  type Verdict,
} from "./harness.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const node22 = join(root, "node_modules/node/bin/node");
const linkinatorCli = join(root, "node_modules/linkinator/build/src/cli.js");
const linkwatcherBin = join(root, "examples/linkwatcher/dist/main.js");
const usagePreload = join(root, "bench/usage-on-exit.mjs");

interface Params {
  /** HTML pages, each with `linksPerPage` links: to the next page, to others, and now and then to none. */
  readonly pages: number;
  readonly linksPerPage: number;
  /** Per cent of URLs (pages and files) that answer after `slowMs`. */
  readonly slowPercent: number;
  readonly slowMs: number;
  readonly concurrency: number;
  /** Runs of each checker (alternating); the median is reported. */
  readonly runs: number;
}

function params(env: Env): Params {
  const common = { linksPerPage: 10, slowPercent: 3, slowMs: 500, concurrency: 64 };
  return env.quick ? { ...common, pages: 200, runs: 1 } : { ...common, pages: 2_000, runs: 3 };
}

// ------------------------------------------------------------------ the site

/** FNV-1a of a path: which URLs are slow is fixed by their names, the same for every run. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

interface Site {
  readonly base: string;
  /** The links to pages that are not there (404), as full URLs. */
  readonly broken: ReadonlySet<string>;
  /** How many links away from the home page the farthest page is. */
  readonly depth: number;
  readonly links: number;
  close(): Promise<void>;
}

/** Page i's path: the home page is "/" (linkinator follows only links under the URL it starts from). */
function pagePath(i: number): string {
  return i === 0 ? "/" : `/p/${i}`;
}

/**
 * The links of page i: the next page (so that every page can be reached),
 * then pages picked by a hash, one link in a hundred going to a page that
 * is not there (/missing/..., a 404).
 */
function pageLinks(i: number, p: Params): string[] {
  const links = [pagePath((i + 1) % p.pages)];
  for (let k = 1; k < p.linksPerPage; k++) {
    const name = `${i}-${k}`;
    if (hash(`broken ${name}`) % 100 === 0) links.push(`/missing/${name}`);
    else links.push(pagePath(hash(name) % p.pages));
  }
  return links;
}

async function serveSite(p: Params): Promise<Site> {
  const pages = new Map<string, string>();
  for (let i = 0; i < p.pages; i++) {
    const anchors = pageLinks(i, p).map((href) => `<a href="${href}">${href}</a>`);
    pages.set(pagePath(i), `<!doctype html><title>page ${i}</title><p>${anchors.join(" ")}</p>`);
  }
  const server = http.createServer((req, res) => {
    const path = req.url ?? "/";
    const answer = () => {
      const html = pages.get(path);
      if (html !== undefined) {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(html);
      } else {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("not found");
      }
    };
    if (hash(path) % 100 < p.slowPercent) setTimeout(answer, p.slowMs);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  // The farthest page from the home page, breadth first.
  const depths = new Map<number, number>([[0, 0]]);
  for (let queue = [0]; queue.length > 0; ) {
    const next: number[] = [];
    for (const i of queue) {
      for (const href of pageLinks(i, p)) {
        const j = href === "/" ? 0 : Number(href.slice(3));
        if (href.startsWith("/missing/")) continue;
        if (depths.has(j)) continue;
        depths.set(j, (depths.get(i) ?? 0) + 1);
        next.push(j);
      }
    }
    queue = next;
  }
  const broken = new Set<string>();
  for (let i = 0; i < p.pages; i++) {
    for (const href of pageLinks(i, p)) if (href.startsWith("/missing/")) broken.add(base + href);
  }
  return {
    base,
    broken,
    depth: Math.max(...depths.values()),
    links: p.pages * p.linksPerPage,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ------------------------------------------------------------------ a run

interface RunResult {
  readonly ms: number;
  readonly cpuMs: number;
  readonly rssMb: number;
  readonly stdout: string;
}

/** Runs `node [--import usage] args` to its exit; gives its time, CPU, memory and output. */
async function runChild(nodePath: string, args: string[]): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), "linkbench-"));
  const usageFile = join(dir, "usage.json");
  try {
    const started = performance.now();
    // BENCH_CHILD_FLAGS: Node flags for both checkers, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    const { BENCH_CHILD_FLAGS: childFlags = "" } = process.env;
    const flags = childFlags.split(" ").filter((f) => f !== "");
    const child: ChildProcess = spawn(nodePath, [...flags, "--import", usagePreload, ...args], {
      cwd: root,
      env: { ...process.env, BENCH_USAGE_FILE: usageFile },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let err = "";
    child.stdout?.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    const ms = performance.now() - started;
    if (!existsSync(usageFile)) {
      throw new Error(`exited ${code} without its usage figures: ${err.slice(0, 500)}`);
    }
    const usage = JSON.parse(readFileSync(usageFile, "utf8")) as {
      cpuMs: number;
      maxRssKb: number;
    };
    return {
      ms,
      cpuMs: usage.cpuMs,
      rssMb: usage.maxRssKb / 1024,
      stdout: Buffer.concat(out).toString(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Fails unless `found` holds exactly the site's broken links. */
function checkBroken(who: string, found: Set<string>, site: Site): void {
  const missed = [...site.broken].filter((url) => !found.has(url));
  const extra = [...found].filter((url) => !site.broken.has(url));
  if (missed.length > 0 || extra.length > 0) {
    throw new Error(
      `${who} found ${found.size} broken links, the site has ${site.broken.size} ` +
        `(missed: ${missed.slice(0, 3).join(", ") || "none"}; not broken: ${extra.slice(0, 3).join(", ") || "none"})`,
    );
  }
}

async function runLinkwatcher(site: Site, p: Params): Promise<RunResult> {
  const result = await runChild(process.execPath, [
    linkwatcherBin,
    "--once",
    "--crawl",
    "--json",
    "--depth",
    String(site.depth + 1),
    "--concurrency",
    String(p.concurrency),
    `${site.base}/`,
  ]);
  const objects = result.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { type: string; url: string; unvisited?: number });
  const summary = objects.at(-1);
  if (summary?.type !== "summary" || summary.unvisited !== 0) {
    throw new Error(`the crawl did not read the whole site: ${JSON.stringify(summary)}`);
  }
  checkBroken(
    "linkwatcher",
    new Set(objects.filter((o) => o.type === "link").map((o) => o.url)),
    site,
  );
  return result;
}

async function runLinkinator(site: Site, p: Params): Promise<RunResult> {
  const result = await runChild(node22, [
    linkinatorCli,
    `${site.base}/`,
    "--recurse",
    "--concurrency",
    String(p.concurrency),
    "--format",
    "json",
  ]);
  const report = JSON.parse(result.stdout) as { links: { url: string; state: string }[] };
  const broken = new Set(report.links.filter((l) => l.state === "BROKEN").map((l) => l.url));
  checkBroken("linkinator", broken, site);
  return result;
}

// ------------------------------------------------------------------ the table

const metrics: readonly Metric[] = [
  { key: "ms", label: "wall time", unit: "ms", better: "lower" },
  { key: "cpuMs", label: "CPU", unit: "ms", better: "lower" },
  { key: "rssMb", label: "peak memory", unit: "MB", better: "lower" },
];

/**
 * Both checkers run against one site, alternating, so that a busy moment of
 * the machine falls on both; the first case runs them all and keeps the
 * figures of both, the second gives its share.
 */
interface Runs {
  readonly linkinator: RunResult[];
  readonly linkwatcher: RunResult[];
}

let shared: Promise<Runs> | undefined;

function measureBoth(env: Env): Promise<Runs> {
  shared ??= (async () => {
    const p = params(env);
    const site = await serveSite(p);
    try {
      const runs: Runs = { linkinator: [], linkwatcher: [] };
      for (let r = 0; r < p.runs; r++) {
        runs.linkinator.push(await runLinkinator(site, p));
        runs.linkwatcher.push(await runLinkwatcher(site, p));
      }
      return runs;
    } finally {
      await site.close();
    }
  })();
  return shared;
}

function medians(runs: readonly RunResult[]): Values {
  return {
    ms: median(runs.map((r) => r.ms)),
    cpuMs: median(runs.map((r) => r.cpuMs)),
    rssMb: median(runs.map((r) => r.rssMb)),
  };
}

function missing(): string | undefined {
  if (!existsSync(node22) || !existsSync(linkinatorCli)) {
    return "linkinator or its Node 22 is not installed (npm ci installs both)";
  }
  if (!existsSync(linkwatcherBin)) {
    return "examples/linkwatcher/dist/main.js is missing (npm run build:examples)";
  }
  return undefined;
}

/** The medians of one checker's runs, or why there are none. */
async function figures(env: Env, checker: keyof Runs): Promise<Values> {
  const why = missing();
  if (why !== undefined) return { ms: fail(why), cpuMs: fail(why), rssMb: fail(why) };
  return medians((await measureBoth(env))[checker]);
}

const cases: readonly Case[] = [
  {
    name: "linkinator 8.1.0",
    kind: "baseline",
    how: "node22 linkinator <home> --recurse --concurrency 64 --format json",
    run: (env) => figures(env, "linkinator"),
  },
  {
    name: "linkwatcher",
    kind: "peer",
    how: "node examples/linkwatcher/dist/main.js --once --crawl --json --depth <whole site> --concurrency 64 <home>",
    run: (env) => figures(env, "linkwatcher"),
  },
];

function verdict(get: Lookup): Verdict {
  const figures = metrics.map((m) => {
    const ours = get("linkwatcher", m.key);
    const theirs = get("linkinator 8.1.0", m.key);
    return { m, ratio: ours === undefined || theirs === undefined ? undefined : ours / theirs };
  });
  if (figures.some((f) => f.ratio === undefined))
    return { status: "n/a", detail: "a figure is missing" };
  const [wall, cpu, rss] = figures.map((f) => f.ratio as number) as [number, number, number];
  const met = wall <= 0.8 && cpu < 1 && rss < 1;
  const detail = figures.map((f) => `${f.m.label} ${fmtRatio(f.ratio as number)}`).join(", ");
  return {
    status: met ? "met" : "not met",
    detail: `linkwatcher against linkinator: ${detail} (goal: wall time <= 0.8x, CPU and memory < 1x; ${fmtNumber(get("linkwatcher", "ms") ?? 0)} ms against ${fmtNumber(get("linkinator 8.1.0", "ms") ?? 0)} ms)`,
  };
}

export const suite: Suite = {
  name: "linkwatcher",
  description: "the link watcher example against linkinator on a generated site with slow replies",
  tables(env) {
    shared = undefined;
    const p = params(env);
    const links = p.pages * p.linksPerPage;
    return [
      {
        title: "linkwatcher: crawl a site with slow replies",
        params:
          `${p.pages.toLocaleString("en-US")} pages, ${links.toLocaleString("en-US")} links ` +
          `(${p.linksPerPage} a page, 1% to pages that are not there), ` +
          `${p.slowPercent}% of URLs answering after ${p.slowMs / 1000} s, concurrency ${p.concurrency}; ` +
          `median of ${p.runs} run${p.runs === 1 ? "" : "s"} each, alternating`,
        goal: "wall time <= 0.8x linkinator's, CPU and peak memory below it",
        baseline: "linkinator 8.1.0",
        metrics,
        cases,
        verdict,
      },
    ];
  },
};
