/**
 * `npm run kiwi`: serves the built page (examples/kiwi/dist) on
 * http://127.0.0.1:8081, with clockwork's own HTTP server and static files.
 *
 *   PORT, HOST    where to listen (default 8081, 127.0.0.1)
 *
 * Ctrl-C (SIGINT) or SIGTERM closes the server gracefully and exits 0.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { park, routine, run } from "clockwork-microthreads";
import { serve, serveStatic } from "clockwork-microthreads/http";
import { KIWI_DIST } from "./build.ts";

function fail(message: string): never {
  console.error(`kiwi: ${message}`);
  process.exit(2);
}

const { HOST, PORT } = process.env;
const host = HOST || "127.0.0.1";
const port = PORT === undefined || PORT === "" ? 8081 : Number(PORT);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail(`PORT expects a port number from 0 to 65535, got "${PORT}"`);
}
if (!existsSync(path.join(KIWI_DIST, "index.html"))) {
  fail("no page in examples/kiwi/dist: run npm run build:kiwi first (npm run kiwi does both)");
}

/** Waits for SIGINT or SIGTERM; gives its name. */
function signalled() {
  return park<string>(({ wake }) => {
    process.once("SIGINT", wake);
    process.once("SIGTERM", wake);
    return () => {
      process.off("SIGINT", wake);
      process.off("SIGTERM", wake);
    };
  }, "SIGINT or SIGTERM");
}

const main = routine(function* kiwi() {
  const server = yield* serve({ host, port }, serveStatic(KIWI_DIST));
  console.log(`kiwi: Vengeance on ${server.url}/ (Ctrl-C stops it)`);
  const signal = yield* signalled();
  console.log(`\n${signal}: closing`);
  yield* server.close();
});

try {
  await run(main());
  process.exit(0); // the browser's keep-alive sockets are gone; exit without waiting for them
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
