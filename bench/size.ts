// size: what the library adds to a bundle, min+gz, as a user's bundler
// makes it: esbuild, minified, ESM, browser platform, from the package's
// built entry (dist/index.js, which `npm run bench` builds first) with the
// package's `"sideEffects": false`; then gzip -9. The peers are bundled the
// same way from their own entries. Rows: everything an entry exports, and
// the smallest useful program (a Worker and sleep: the game-loop case).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { type Case, fmtNumber, type Metric, type Suite, type Values } from "./harness.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

const metrics: readonly Metric[] = [
  { key: "gz", label: "min+gz", unit: "B", better: "lower" },
  { key: "min", label: "min", unit: "B", better: "lower" },
];

/** Bundles `source` (an entry module's text, resolved from the repository root) and measures it. */
async function measure(source: string): Promise<Values> {
  const folder = mkdtempSync(join(tmpdir(), "clockwork-size-"));
  try {
    const entry = join(folder, "entry.mjs");
    writeFileSync(entry, source);
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      minify: true,
      format: "esm",
      platform: "browser",
      write: false,
      nodePaths: [join(root, "node_modules")],
      alias: { "clockwork-microthreads": join(root, "dist/index.js") },
      external: ["node:*"], // Effection imports node:process dynamically, for Node hosts only
      logLevel: "silent",
    });
    const code = result.outputFiles[0]?.contents ?? new Uint8Array();
    return { min: code.length, gz: gzipSync(code, { level: 9 }).length };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** An entry that keeps everything `module` exports. */
const everything = (module: string) => `export * from ${JSON.stringify(module)};\n`;

const cases: readonly Case[] = [
  {
    name: "clockwork, whole core entry",
    kind: "peer",
    how: 'export * from "clockwork-microthreads" (scheduler, time, coordination, lifetimes)',
    run: () => measure(everything("clockwork-microthreads")),
  },
  {
    name: "clockwork, Worker + sleep",
    kind: "peer",
    how: "a Worker stepping a routine that sleeps",
    run: () =>
      measure(
        'import { Worker, sleep } from "clockwork-microthreads";\n' +
          "const worker = new Worker();\n" +
          "worker.assign((function* main() { yield* sleep(1); })());\n" +
          "worker.work();\n",
      ),
  },
  {
    name: "Effection 4",
    kind: "baseline",
    how: 'export * from "effection"',
    run: () => measure(everything("effection")),
  },
  {
    name: "redux-saga",
    kind: "peer",
    how: 'export * from "redux-saga" and "redux-saga/effects"',
    run: () => measure(`${everything("redux-saga")}${everything("redux-saga/effects")}`),
  },
  {
    name: "js-csp",
    kind: "peer",
    how: 'export * from "js-csp"',
    run: () => measure(everything("js-csp")),
  },
];

export const suite: Suite = {
  name: "size",
  description: "bundle size, min+gz",
  tables() {
    return [
      {
        title: "size: what a bundle carries",
        params: "esbuild --bundle --minify, ESM, browser; gzip -9",
        goal: "whole core entry <= 6,000 B and Worker + sleep <= 3,000 B min+gz (issue 13)",
        baseline: "Effection 4",
        metrics,
        cases,
        verdict(get) {
          const whole = get("clockwork, whole core entry", "gz");
          const small = get("clockwork, Worker + sleep", "gz");
          if (whole === undefined || small === undefined)
            return { status: "n/a", detail: "clockwork has no figure (npm run build)" };
          return {
            status: whole <= 6000 && small <= 3000 ? "met" : "not met",
            detail:
              `whole core entry ${fmtNumber(whole)} B (goal <= 6,000), ` +
              `Worker + sleep ${fmtNumber(small)} B (goal <= 3,000), min+gz`,
          };
        },
      },
    ];
  },
};
