// Builds the example programs into one file each, for plain node to run:
// examples/webserver/dist/main.js (what `npm start` runs: npm then starts
// node itself, through `exec`, so a SIGTERM sent to the process that
// `npm start` started reaches the server, with no tsx in between) and
// examples/linkwatcher/dist/main.js (what the linkwatcher benchmark runs,
// as a user would run a built command). The library stays an import of
// "clockwork-microthreads", resolved at run time by the package's own
// exports (dist/, from `npm run build`).
import { build } from "esbuild";

for (const example of ["webserver", "linkwatcher"]) {
  await build({
    entryPoints: [`examples/${example}/main.ts`],
    outfile: `examples/${example}/dist/main.js`,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    keepNames: true, // routine() names tasks after their functions: dumps and /api/tasks show them
    external: ["clockwork-microthreads", "clockwork-microthreads/*"],
    logLevel: "warning",
  });
}
