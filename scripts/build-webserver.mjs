// Builds the web server example (examples/webserver) into one file,
// examples/webserver/dist/main.js, for `npm start` to run with plain node:
// npm then starts node itself (through `exec`), so a SIGTERM sent to the
// process that `npm start` started reaches the server, and no tsx sits in
// between. The library stays an import of "clockwork-microthreads",
// resolved at run time by the package's own exports (dist/, from
// `npm run build`).
import { build } from "esbuild";

await build({
  entryPoints: ["examples/webserver/main.ts"],
  outfile: "examples/webserver/dist/main.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  keepNames: true, // routine() names tasks after their functions: /api/tasks shows them
  external: ["clockwork-microthreads", "clockwork-microthreads/*"],
  logLevel: "warning",
});
