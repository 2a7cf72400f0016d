// The workload of the switch benchmark, for bench/step-instructions.mjs:
// `tasks` tasks each give up control `yields` times, stepped round-robin,
// either by a hand-written loop over bare generators ("bare") or by a
// clockwork Worker's work() ("clockwork", from dist/).
//
//   node bench/step-program.mjs <bare|clockwork> <tasks> <yields>
//
// It runs the workload a few times to warm up and prints "ready"; then each
// "go" line on stdin runs it once more and prints "done", and "exit" ends
// it: the parent counts instructions between each "go" and its "done".
import { answerRounds } from "./callgrind.mjs";

const [mode, tasksArg, yieldsArg] = process.argv.slice(2);
const tasks = Number(tasksArg);
const yields = Number(yieldsArg);

function* bareTask(n) {
  for (let i = 0; i < n; i++) yield;
}

let workload;
if (mode === "bare") {
  workload = () => {
    const live = [];
    for (let i = 0; i < tasks; i++) live.push(bareTask(yields));
    while (live.length > 0) {
      let kept = 0;
      for (let i = 0; i < live.length; i++) if (!live[i].next().done) live[kept++] = live[i];
      live.length = kept;
    }
  };
} else if (mode === "clockwork") {
  const { Worker } = await import("../dist/index.js");
  workload = () => {
    const worker = new Worker();
    for (let i = 0; i < tasks; i++) worker.assign(bareTask(yields));
    worker.work();
  };
} else {
  console.error(`unknown mode ${JSON.stringify(mode)}: expected bare or clockwork`);
  process.exit(2);
}

await answerRounds(workload, 5);
