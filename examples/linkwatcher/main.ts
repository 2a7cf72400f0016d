#!/usr/bin/env node
/**
 * The linkwatcher command: `linkwatcher [options] <url...>` (see README.md).
 *
 * Only the connection to the process lives here (arguments, streams,
 * signals, exit status); the program is `main()` in linkwatcher.ts, where
 * tests run it in-process. The exit status is set, not forced with
 * process.exit(), so pending output reaches a pipe before the process ends.
 */
import { main, processIo } from "./linkwatcher.ts";

process.exitCode = await main(process.argv.slice(2), processIo());
