/**
 * Schedules as a fast-check arbitrary: a property draws a choice list
 * beside its other inputs, runs the program under it with runChoices(),
 * and fast-check shrinks a failing list toward round-robin, the empty
 * list. fast-check is passed in; clockwork never imports it.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import * as core from "../src/index.ts";
import { type Outcome, sim } from "../src/sim.ts";
import { playChoices, runChoices, schedules } from "../src/sim-fast-check.ts";
import { corpus } from "./sim-corpus.ts";

const root = join(import.meta.dirname, "..");
const entries = corpus({ ...core, sim });

/** The delays of a choice list as played: the sum of the choices a run of `program` actually made. */
function delaysPlayed(program: () => Generator<unknown, unknown, any>, choices: number[]): number {
  const played = playChoices(choices);
  let delays = 0;
  const counting: core.Schedule = {
    pick: (runnable) => {
      const c = played.pick(runnable);
      delays += c;
      return c;
    },
    choose: (options, label) => {
      const c = played.choose(options, label);
      delays += c;
      return c;
    },
  };
  const worker = new core.Worker({
    clock: new core.VirtualClock(),
    schedule: counting,
    onError: () => {},
  });
  worker.assign(program());
  try {
    worker.work();
  } catch {
    // a deadlock: its delays are counted all the same
  }
  return delays;
}

describe("schedules(fc)", () => {
  for (const name of ["lost update", "check-then-act through a channel"]) {
    it(`finds the corpus's ${name} with fc.check, and shrinks it to within one delay of its fewest`, () => {
      const entry = entries.find((e) => e.name === name) as (typeof entries)[number];
      const check = entry.options.check as (outcome: Outcome<unknown>) => string | null;
      const result = fc.check(
        fc.property(schedules(fc), (choices) => check(runChoices(entry.bug, choices)) === null),
        { seed: 7, numRuns: 1000 },
      );
      assert.equal(result.failed, true, `${name}: not found in 1,000 runs`);
      const [choices] = result.counterexample as [number[]];
      const delays = delaysPlayed(entry.bug, choices);
      assert.ok(
        delays >= entry.delays && delays <= entry.delays + 1,
        `${name}: shrunk to ${JSON.stringify(choices)}, ${delays} delays; the fewest are ${entry.delays}`,
      );
      // The counterexample is a schedule: it fails again, twice out of twice.
      for (let i = 0; i < 2; i++) assert.notEqual(check(runChoices(entry.bug, choices)), null);
    });
  }

  it("shrinks toward round-robin: a property that always fails ends at the empty list", () => {
    const result = fc.check(
      fc.property(schedules(fc), () => false),
      { seed: 1 },
    );
    assert.deepEqual(result.counterexample, [[]]);
  });

  it("plays a choice list capped at the options there, then 0: [] is the plain worker's run", () => {
    const entry = entries.find((e) => e.name === "timer ties") as (typeof entries)[number];
    assert.deepEqual(runChoices(entry.bug, []), { ok: true, value: "early,late" });
    assert.deepEqual(runChoices(entry.bug, [9, 9, 9]), runChoices(entry.bug, [1, 1, 1]));
  });

  it("refuses what is not the fast-check module, and bad choice lists, saying what was expected", () => {
    assert.throws(
      () => schedules({} as never),
      /schedules\(\) expects the fast-check module \(import fc from "fast-check"\), got/,
    );
    assert.throws(
      () => schedules(fc, { maxChoice: 0 }),
      /option "maxChoice" expects a whole number of at least 1, got number 0/,
    );
    assert.throws(
      () => playChoices([1, -1]),
      /playChoices\(\) expects an array of whole numbers of at least 0, got/,
    );
  });

  it("keeps fast-check out of the library's dependencies: src imports only its types", () => {
    const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    assert.equal(manifest.dependencies?.["fast-check"], undefined);
    const imports: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (path.endsWith(".ts")) {
          for (const line of readFileSync(path, "utf8").split("\n")) {
            // A static import, or a dynamic one (in a type, `typeof import("fast-check")`).
            if (/^import .*from "fast-check"|import\("fast-check"\)/.test(line)) {
              imports.push(`${entry.name}: ${line.trim()}`);
            }
          }
        }
      }
    };
    walk(join(root, "src"));
    assert.ok(imports.length > 0, "sim-fast-check.ts uses fast-check's types");
    for (const line of imports) {
      assert.match(line, /: import type |typeof import\("fast-check"\)/, line);
    }
  });
});
