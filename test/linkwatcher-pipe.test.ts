/**
 * The link watcher as a Unix tool in a pipeline: `linkwatcher --json ... |
 * head -1`. When the reader of its stdout goes away, its next write fails
 * with EPIPE; a Unix tool then ends quietly (killed by SIGPIPE, which a
 * shell reports as status 141), and so does the link watcher: no stack
 * trace, status 141, at once.
 *
 * The real command runs as a child process, watching pages of a server on
 * 127.0.0.1 that go up and down at every request, so each round prints
 * lines; the test reads the first one and closes the pipe, as `head -1`.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as http from "node:http";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("linkwatcher in a pipeline", () => {
  it("ends quietly with status 141 when the reader of its stdout goes away (linkwatcher --json | head -1)", async () => {
    let flips = 0;
    const server = http.createServer((_req, res) => {
      res.writeHead(flips++ % 2 === 0 ? 200 : 500);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const urls = Array.from({ length: 5 }, (_, i) => `http://127.0.0.1:${port}/page${i}`);
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "examples/linkwatcher/main.ts", "--json", "--every", "0.1", ...urls],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    try {
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk;
      });
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      const first = await new Promise<string>((resolve) => {
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk;
          const end = out.indexOf("\n");
          if (end >= 0) resolve(out.slice(0, end));
        });
      });
      child.stdout.destroy(); // what head -1 does once it has its line
      assert.match(first, /^\{"type":"check"/);
      const code = await exited;
      assert.equal(code, 141, stderr);
      assert.doesNotMatch(stderr, /EPIPE|Error|\n {4}at /, "no stack trace");
    } finally {
      clearTimeout(killer);
      server.closeAllConnections();
      server.close();
    }
  });
});
