/**
 * Builds the kiwi page into a folder of static files: `index.html` and
 * `kiwi.js` (one esbuild bundle of the game and the clockwork core, with
 * its source map), and the bundle precompressed beside it, `kiwi.js.br`
 * (brotli at its best) and `kiwi.js.gz`, which serveStatic sends to
 * browsers that take them. Nothing else is needed to serve it.
 *
 *   npm run build:kiwi                 into examples/kiwi/dist/
 *   tsx examples/kiwi/build.ts <dir>   into <dir>
 *
 * The bundle is built for the browser platform, so a Node built-in
 * imported anywhere on the way (the game or the core) fails the build:
 * the page is the proof that the core runs in browsers. The project's
 * tsconfig maps `clockwork-microthreads` to `src/index.ts` and sets
 * `useDefineForClassFields: false`, which the core's hot classes rely on;
 * esbuild honours both.
 */
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));

/** Where `npm run build:kiwi` puts the page (gitignored with the rest of dist/). */
export const KIWI_DIST = path.join(here, "dist");

/** Bundles the page into `outdir` (created if missing; files there are overwritten); gives `outdir`. */
export async function buildKiwi(outdir: string = KIWI_DIST): Promise<string> {
  await mkdir(outdir, { recursive: true });
  await build({
    entryPoints: [path.join(here, "src", "main.ts")],
    outfile: path.join(outdir, "kiwi.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    sourcemap: true,
    keepNames: true, // routine() names tasks after their functions: no renaming by the bundler
    tsconfig: path.join(here, "..", "..", "tsconfig.json"),
    logLevel: "warning",
  });
  await copyFile(path.join(here, "index.html"), path.join(outdir, "index.html"));
  // Written after the bundle, so never older than it (serveStatic ignores an older sibling).
  const bundle = await readFile(path.join(outdir, "kiwi.js"));
  const [br, gz] = await Promise.all([
    promisify(brotliCompress)(bundle, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: bundle.length,
      },
    }),
    promisify(gzip)(bundle, { level: constants.Z_BEST_COMPRESSION }),
  ]);
  await writeFile(path.join(outdir, "kiwi.js.br"), br);
  await writeFile(path.join(outdir, "kiwi.js.gz"), gz);
  return outdir;
}

if (
  process.argv[1] !== undefined &&
  path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  const outdir = await buildKiwi(
    process.argv[2] === undefined ? KIWI_DIST : path.resolve(process.argv[2]),
  );
  console.log(
    `kiwi: built ${path.relative(process.cwd(), outdir) || "."}/ (index.html, kiwi.js, kiwi.js.br, kiwi.js.gz)`,
  );
}
