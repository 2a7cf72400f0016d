// Preloaded into a program the linkwatcher benchmark runs as a child
// (`node --import ./bench/usage-on-exit.mjs program.js ...`): when the
// program exits, however it exits, its CPU time and peak memory go to the
// file named by BENCH_USAGE_FILE. Node gives a process its own figures
// (getrusage), not a child's, so the child reports them itself.
import { writeFileSync } from "node:fs";

const file = process.env.BENCH_USAGE_FILE;
if (file) {
  process.on("exit", () => {
    const usage = process.resourceUsage();
    const cpuMs = (usage.userCPUTime + usage.systemCPUTime) / 1000;
    writeFileSync(file, JSON.stringify({ cpuMs, maxRssKb: usage.maxRSS }));
  });
}
