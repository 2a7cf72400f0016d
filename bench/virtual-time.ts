import type { Suite } from "./harness.ts";
export const suite: Suite = { name: "virtual-time", description: "todo", tables: () => [] };
