/**
 * The package as users get it: `npm pack`, installed into a fresh project.
 *
 * Everything else in test/ imports the sources; this file checks what is
 * shipped. The tarball is packed as `npm publish` would pack it (its
 * `prepack` builds dist/), installed offline into a temporary project, and
 * test/consumer/main.ts is type-checked there with `strict` and
 * `skipLibCheck: false` (so the declarations themselves are checked: a type
 * they name but do not ship is an error) on TypeScript 5 and on the
 * project's TypeScript 7, then compiled and run. The files shipped are
 * the library's: no example programs, no command installed, and source
 * maps that name files that ship.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const typescript5 = join(root, "node_modules/typescript5/bin/tsc");
const typescript7 = join(root, "node_modules/typescript/bin/tsc");

/** Runs a command to its end (at most two minutes); its status and output. */
function sh(command: string, args: string[], cwd: string) {
  const out = spawnSync(command, args, { cwd, encoding: "utf8", timeout: 120_000 });
  return {
    status: out.status,
    output: `${out.stdout ?? ""}${out.stderr ?? ""}${out.error ? String(out.error) : ""}`,
  };
}

/** Like sh(), but a failure is an error that shows what the command said. */
function must(command: string, args: string[], cwd: string): string {
  const { status, output } = sh(command, args, cwd);
  assert.equal(status, 0, `${command} ${args.join(" ")} failed:\n${output}`);
  return output;
}

let work: string;
let tarball: string;
let consumer: string;
/** Where the tarball was installed: node_modules/clockwork-microthreads. */
let installed: string;
/** The files in the tarball, relative to its root ("dist/index.js"). */
let shipped: string[];

before(() => {
  work = mkdtempSync(join(tmpdir(), "clockwork-package-"));
  must("npm", ["pack", "--silent", "--pack-destination", work], root);
  const packed = readdirSync(work).filter((name) => name.endsWith(".tgz"));
  assert.equal(packed.length, 1, `npm pack made ${packed.join(", ") || "no tarball"}`);
  tarball = join(work, packed[0] as string);

  consumer = join(work, "consumer");
  must("mkdir", [consumer], work);
  writeFileSync(
    join(consumer, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  must(
    "npm",
    ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball],
    consumer,
  );
  installed = join(consumer, "node_modules/clockwork-microthreads");
  shipped = must("tar", ["-tzf", tarball], work)
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.replace(/^package\//, ""));
  copyFileSync(join(root, "test/consumer/main.ts"), join(consumer, "main.ts"));
  writeFileSync(
    join(consumer, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "es2022",
        module: "nodenext",
        moduleResolution: "nodenext",
        strict: true,
        skipLibCheck: false,
        outDir: "out",
        // The Node entry points name node:http and node:net types.
        types: ["node"],
        typeRoots: [join(root, "node_modules/@types")],
      },
      files: ["main.ts"],
    }),
  );
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the packed package, installed in a strict TypeScript project", () => {
  for (const [version, tsc] of [
    ["5", typescript5],
    ["7", typescript7],
  ] as const) {
    it(`type-checks with skipLibCheck off on TypeScript ${version}, and refuses the bad calls`, () => {
      const { status, output } = sh("node", [tsc, "-p", ".", "--noEmit"], consumer);
      assert.equal(output.trim(), "", "no error, and every @ts-expect-error line is an error");
      assert.equal(status, 0);
    });
  }

  it("runs: the consumer's program gives what its types say", () => {
    must("node", [typescript5, "-p", "."], consumer);
    const printed = must("node", ["out/main.js"], consumer);
    assert.deepEqual(JSON.parse(printed), {
      n: 42,
      s: "forty-two",
      p: true,
      first: 42,
      both: [42, "forty-two"],
      late: "forty-two",
      seven: 7,
    });
  });
});

describe("what the package ships", () => {
  it("is the library only: no example programs, no command installed", () => {
    const strays = shipped.filter((file) =>
      /^(examples|test|bench|scripts|dist\/bin)\//.test(file),
    );
    assert.deepEqual(strays, []);
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    assert.equal(
      manifest.bin,
      undefined,
      "a bin would give every project that installs it a command",
    );
    assert.equal(existsSync(join(consumer, "node_modules/.bin/linkwatcher")), false);
  });

  it("has source maps whose sources all ship", () => {
    const maps = shipped.filter((file) => file.endsWith(".map"));
    assert.ok(maps.length > 0, "the build makes source maps");
    const missing: string[] = [];
    for (const map of maps) {
      const { sources, sourceRoot = "" } = JSON.parse(readFileSync(join(installed, map), "utf8"));
      for (const source of sources as string[]) {
        const file = join(dirname(join(installed, map)), sourceRoot, source);
        if (!existsSync(file)) missing.push(`${map} names ${source}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it("gives stack traces (node --enable-source-maps) that name files that exist", () => {
    // spawn() outside a step throws from inside the library.
    writeFileSync(
      join(consumer, "stack.mjs"),
      `import { spawn } from "clockwork-microthreads";
      try { spawn((function* lonely() {})()); } catch (error) { console.log(error.stack); }`,
    );
    const stack = must("node", ["--enable-source-maps", "stack.mjs"], consumer);
    const frames = [...stack.matchAll(/\((file:\/\/[^):]+|\/[^):]+):\d+:\d+\)/g)].map(
      (match) => match[1] as string,
    );
    const library = frames.filter((frame) => frame.includes("clockwork-microthreads"));
    assert.ok(library.length > 0, `the stack goes through the library:\n${stack}`);
    for (const frame of library) {
      const file = frame.startsWith("file:") ? fileURLToPath(frame) : frame;
      assert.ok(existsSync(file), `the stack names ${file}, which does not exist:\n${stack}`);
      assert.match(file, /\.ts$/, "with source maps, frames name the TypeScript sources");
    }
  });

  it("says where the project lives, so the README's links work on the package page", () => {
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    assert.match(
      manifest.repository?.url ?? "",
      /^git\+https:\/\/github\.com\/[\w-]+\/[\w-]+\.git$/,
    );
    assert.match(manifest.homepage ?? "", /^https:\/\/github\.com\//);
    assert.match(manifest.bugs?.url ?? "", /^https:\/\/github\.com\/.+\/issues$/);
  });
});
