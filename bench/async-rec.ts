// The async/await recursion of bench/recursion.ts, in a module of its own.
// When it overflows the stack, Node's rejection tracking overflows too and V8
// prints "Exception in PromiseRejectCallback" with the source line where that
// happened; tsx compiles a module to a single line, so the smaller this
// module, the shorter that message.

/** rec(n) awaits rec(n - 1); rec(0) does `await null` b.k times, sets b.ms to their time, returns b.k. */
export function asyncRec(b: { k: number; ms: number }): (n: number) => Promise<number> {
  async function rec(n: number): Promise<number> {
    if (n > 0) return await rec(n - 1);
    const t0 = performance.now();
    for (let i = 0; i < b.k; i++) await null;
    b.ms = performance.now() - t0;
    return b.k;
  }
  return rec;
}
