/**
 * The content-type table of serveStatic and sendFile
 * (src/node/content-types.ts) is generated from mime-db, a pinned dev
 * dependency, by scripts/content-types.mjs: the package carries no runtime
 * dependency for it. This checks that the table checked in is what the
 * installed mime-db gives, so an update of mime-db without the table
 * regenerated fails here.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

describe("content types", () => {
  it("the table checked in is the one scripts/content-types.mjs generates from mime-db", () => {
    const script = fileURLToPath(new URL("../scripts/content-types.mjs", import.meta.url));
    const check = spawnSync(process.execPath, [script, "--check"], { encoding: "utf8" });
    assert.equal(check.status, 0, check.stderr);
  });
});
