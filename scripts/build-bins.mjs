// Builds the command-line programs shipped in the package (package.json
// "bin") into dist/bin/: each is bundled from its TypeScript source with
// esbuild, except the library itself, which stays an import of
// "clockwork-microthreads" (resolved at run time by the package's own
// exports, so the programs use the same build as everyone else).
import { chmodSync } from "node:fs";
import { build } from "esbuild";

const programs = { linkwatcher: "examples/linkwatcher/main.ts" };

for (const [name, entry] of Object.entries(programs)) {
  const outfile = `dist/bin/${name}.js`;
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["clockwork-microthreads", "clockwork-microthreads/*"],
    logLevel: "warning",
  });
  chmodSync(outfile, 0o755);
}
