import type { Suite } from "./harness.ts";
export const suite: Suite = { name: "sleepers", description: "todo", tables: () => [] };
