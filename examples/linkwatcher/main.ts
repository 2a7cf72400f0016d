#!/usr/bin/env node
/**
 * The linkwatcher command: `linkwatcher [options] <url...>` (see README.md).
 *
 * Only the connection to the process lives here: the program is the
 * routine `linkwatcher()` in linkwatcher.ts, which returns the exit status,
 * and `main()` runs it as this process. SIGINT and SIGTERM stop it (the
 * program waits for them itself, says goodbye and picks its status); a
 * second one exits at once; stdout and stderr are flushed before the exit,
 * so pending output reaches a pipe.
 */
import { main } from "clockwork-microthreads/process";
import { linkwatcher, processIo } from "./linkwatcher.ts";

main(linkwatcher(process.argv.slice(2), processIo()));
