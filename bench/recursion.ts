import type { Suite } from "./harness.ts";
export const suite: Suite = { name: "recursion", description: "todo", tables: () => [] };
