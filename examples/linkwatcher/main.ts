#!/usr/bin/env node
/**
 * The linkwatcher command: `linkwatcher [options] <url...>` (see README.md).
 *
 * Only the connection to the process lives here: the program is the
 * routine `linkwatcher()` in linkwatcher.ts, which returns the exit status,
 * and `main()` runs it as this process. SIGINT and SIGTERM stop it (the
 * program waits for them itself, says goodbye and picks its status); a
 * second one exits at once; stdout and stderr are flushed before the exit,
 * so pending output reaches a pipe, and a pipe nobody reads any more ends
 * the program quietly.
 */
import { main } from "clockwork-microthreads/process";
import { linkwatcher, processIo } from "./linkwatcher.ts";

// A reader that went away (`linkwatcher --json | head -1`) ends the program quietly, as a Unix
// tool killed by SIGPIPE (status 141, as a shell reports it): no stack trace. Node ignores
// SIGPIPE, so the failed write comes as an EPIPE error on the stream instead.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(128 + 13);
    throw error;
  });
}

main(linkwatcher(process.argv.slice(2), processIo()));
