// Compile-time check only (never imported at run time): the core as it is in
// src/ must provide everything bench/clockwork.ts declares and the benchmarks
// use. If the core drifts from the contract, `npm run typecheck` says where.

import type * as Core from "../src/index.ts";
import type { ClockworkApi } from "./clockwork.ts";

export function asClockworkApi(core: typeof Core): ClockworkApi {
  return core;
}
