/**
 * A consumer of the packed package (see test/package.test.ts): this file is
 * copied into a fresh project that installs the tarball, and type-checked
 * there with `strict` and `skipLibCheck: false` on TypeScript 5 and 7, then
 * compiled and run. It imports only the package's public entry points, has
 * no type annotations on its routines (so a `yield` whose value TypeScript
 * cannot type would be error TS7057), and each `@ts-expect-error` line is a
 * call the shipped types must refuse.
 */
import {
  all,
  Channel,
  call,
  type Routine,
  race,
  routine,
  run,
  type SpawnOptions,
  select,
  sleep,
  spawn,
  type Task,
  timeout,
  VirtualClock,
} from "clockwork-microthreads";
import { serve } from "clockwork-microthreads/http";
import { connect } from "clockwork-microthreads/net";
import { exec } from "clockwork-microthreads/process";

const num = routine(function* num() {
  yield sleep(1);
  return 42;
});

const str = routine(function* str() {
  yield sleep(2);
  return "forty-two";
});

const twice = routine(function* twice(x: number) {
  yield sleep(0);
  return x * 2;
});

const main = routine(function* main() {
  // yield* child(): what the child returns.
  const n: number = yield* num();
  // yield* task.join(): the task's result.
  const options: SpawnOptions = { name: "str" };
  const task: Task<string> = spawn(str(), options);
  const s: string = yield* task.join();
  // yield* call(promise): the promise's value.
  const p: boolean = yield* call(Promise.resolve(true));
  // race() gives the union of its routines' results, all() a tuple.
  const first: number | string = yield* race([num(), str()]);
  const both: [number, string] = yield* all([num(), str()]);
  const late: string = yield* timeout(5, str());

  const channel = new Channel<number>(1);
  yield* channel.send(7);
  const picked = yield* select({ value: channel.receive(), idle: sleep(1) });
  const seven: number | undefined = picked.key === "value" ? picked.value : undefined;

  return { n, s, p, first, both, late, seven };
});

// Calls the shipped types refuse (not run: each would throw at run time too).
export function* refused() {
  // @ts-expect-error: spawn()'s options are an object
  spawn(num(), 42);
  // @ts-expect-error: "nmae" is not one of spawn()'s options
  spawn(num(), { nmae: "num" });
  // @ts-expect-error: race<number> of a routine that returns a string
  yield* race<number>([num(), str()]);
  // @ts-expect-error: routine() keeps its parameter types
  yield* twice("two");
}

// The Node entry points are typed too (not run here).
export function* nodeEntryPoints(): Routine<void> {
  const { stdout } = yield* exec(["git", "--version"]);
  const server = yield* serve({ port: 0 }, function* hello(req, res) {
    res.text(`hello from ${req.path}: ${stdout}`);
  });
  const connection = yield* connect({ port: 80 });
  connection.close();
  yield* server.close();
}

console.log(JSON.stringify(await run(main(), { clock: new VirtualClock() })));
