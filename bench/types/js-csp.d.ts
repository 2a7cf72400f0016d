// Minimal declarations for the parts of js-csp 1.0.1 the benchmarks use
// (the package ships no types). js-csp is CommonJS: its module.exports is the
// default import.

declare module "js-csp" {
  /** A channel; `yield ch` inside a go block takes from it. */
  export interface Channel {
    close(): void;
    readonly closed: boolean;
  }

  /** What a go block may yield (besides null, a plain "reschedule me"). */
  export interface Instruction {
    readonly __cspInstruction: true;
  }

  interface Csp {
    /** Starts a go block; returns a channel that receives its return value. */
    go<A extends unknown[]>(
      f: (...args: A) => Generator<unknown, unknown, unknown>,
      args?: A,
    ): Channel;
    /** An unbuffered channel, or a fixed buffer of `size`. */
    chan(size?: number): Channel;
    take(ch: Channel): Instruction;
    put(ch: Channel, value: unknown): Instruction;
    /**
     * Takes from whichever channel is ready first (a `[ch, value]` pair
     * puts instead), trying them in a random order; `yield` it to get an
     * AltResult.
     */
    alts(operations: readonly (Channel | readonly [Channel, unknown])[]): Instruction;
    /** Puts without waiting: false if the put would have to wait (or the channel is closed). */
    offer(ch: Channel, value: unknown): boolean;
    /** Parks the go block for `ms` milliseconds (setTimeout). */
    sleep(ms: number): Instruction;
    /** A channel that closes after `ms` milliseconds (setTimeout). */
    timeout(ms: number): Channel;
    takeAsync(ch: Channel, callback: (value: unknown) => void): void;
    readonly CLOSED: unknown;
  }

  /** What `yield alts(...)` gives: the value and the channel it came from. */
  export interface AltResult {
    readonly value: unknown;
    readonly channel: Channel;
  }

  const csp: Csp;
  export default csp;
}
