// Run by `npm ci` and `npm install` (the prepare script). The `node` dev
// dependency brings the Node 22 that the linkwatcher benchmark runs
// linkinator with (it needs Node 22; this project runs on Node 20). npm links
// its binary as node_modules/.bin/node, and npm puts node_modules/.bin first
// on the PATH of every script: `npm test` would then run on Node 22. This
// removes that link, so scripts run on the Node that runs npm; the benchmark
// starts node_modules/node/bin/node by its path.
import { lstatSync, rmSync } from "node:fs";

for (const name of ["node", "node.cmd", "node.ps1"]) {
  const path = `node_modules/.bin/${name}`;
  try {
    lstatSync(path);
  } catch {
    continue; // not there: nothing to do
  }
  rmSync(path, { force: true });
  console.log(`removed ${path} (Node 22 is for the benchmark only: node_modules/node/bin/node)`);
}
