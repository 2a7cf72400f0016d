/**
 * The examples in the README and the guides (docs/guide-*.md) are code,
 * checked like code.
 *
 * Every ```ts block is extracted, type-checked with the project's strict
 * settings and `noUnusedLocals` (each block is a module of its own that
 * imports the package by its published name, and uses all it imports and
 * defines), and run in a node process of its own, which must
 * exit 0 within its time limit. A line ending in `// prints: text` says what
 * the block prints: those lines must appear in its output, in that order. A
 * block that cannot run on its own (browser code, a piece of a larger
 * program) is marked ```ts fragment: it is still type-checked, with the
 * names it leaves to the reader declared in it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The documents whose examples are checked: the README and every guide. */
const documents = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((name) => name.startsWith("guide-") && name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`),
];

interface Block {
  /** Where it is: "README.md:12" (the line of its opening fence). */
  where: string;
  document: string;
  /** The line of its opening fence. */
  line: number;
  /** Its file name in the work folder. */
  file: string;
  code: string;
  fragment: boolean;
}

/** The ```ts blocks of a Markdown document (indented ones too, as in lists). */
export function extractBlocks(document: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)```ts\b(.*)$/.exec(lines[i] as string);
    if (open === null) continue;
    const indent = (open[1] as string).length;
    const info = (open[2] as string).trim();
    if (info !== "" && info !== "fragment") {
      throw new Error(
        `${document}:${i + 1}: unknown marker "${info}" (expected none or "fragment")`,
      );
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^ *```\s*$/.test(lines[i] as string); i++) {
      body.push((lines[i] as string).slice(indent));
    }
    if (i === lines.length) throw new Error(`${document}:${start + 1}: the block is never closed`);
    const slug = document.replace(/[^A-Za-z0-9]+/g, "-");
    blocks.push({
      where: `${document}:${start + 1}`,
      document,
      line: start + 1,
      file: `${slug}-${start + 1}.ts`,
      code: `${body.join("\n")}\n`,
      fragment: info === "fragment",
    });
  }
  return blocks;
}

/** What a block says it prints, in order. */
function expectedOutput(code: string): string[] {
  return [...code.matchAll(/\/\/ prints: (.*)$/gm)].map((match) => (match[1] as string).trim());
}

const blocks = documents.flatMap((document) =>
  extractBlocks(document, readFileSync(join(root, document), "utf8")),
);

let work: string;

before(() => {
  work = mkdtempSync(join(tmpdir(), "clockwork-docs-"));
  writeFileSync(join(work, "package.json"), JSON.stringify({ type: "module", private: true }));
  // Blocks may import the project's dev dependencies too (fast-check, for sim-fast-check).
  symlinkSync(join(root, "node_modules"), join(work, "node_modules"), "dir");
  writeFileSync(
    join(work, "tsconfig.json"),
    JSON.stringify({
      // The project's settings, and its paths: "clockwork-microthreads" is src/index.ts.
      extends: join(root, "tsconfig.json"),
      compilerOptions: {
        moduleDetection: "force",
        // An example uses what it imports and calls what it defines.
        noUnusedLocals: true,
        typeRoots: [join(root, "node_modules/@types")],
      },
      files: blocks.map((block) => block.file),
    }),
  );
  for (const block of blocks) writeFileSync(join(work, block.file), block.code);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

describe("the links of the README and the docs", () => {
  it("lead to files that exist, and to headings that exist", () => {
    const pages = [
      "README.md",
      ...readdirSync(join(root, "docs"))
        .filter((n) => n.endsWith(".md"))
        .map((n) => `docs/${n}`),
    ];
    const broken: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(root, page), "utf8");
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target as string)) continue; // https:, mailto:
        const [path, anchor] = (target as string).split("#") as [string, string | undefined];
        const file = path === "" ? join(root, page) : join(root, dirname(page), path);
        if (!existsSync(file)) {
          broken.push(`${page}: ${target} (no such file)`);
          continue;
        }
        if (anchor !== undefined && file.endsWith(".md")) {
          const headings = [...readFileSync(file, "utf8").matchAll(/^#+ (.*)$/gm)].map((m) =>
            anchorOf(m[1] as string),
          );
          if (!headings.includes(anchor)) broken.push(`${page}: ${target} (no such heading)`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });
});

describe("the examples in the README and the guides", () => {
  it("are found: every document has some", () => {
    for (const document of documents) {
      assert.ok(
        blocks.some((block) => block.where.startsWith(`${document}:`)),
        `${document} has no ts block`,
      );
    }
  });

  it("type-check with the project's strict settings", () => {
    const tsc = join(root, "node_modules/typescript/bin/tsc");
    const out = spawnSync("node", [tsc, "-p", work, "--noEmit"], {
      encoding: "utf8",
      timeout: 120_000,
    });
    // Name the document and line, not the temporary file.
    const report = `${out.stdout}${out.stderr}`.replace(
      /\S*?([\w-]+\.ts)\((\d+),\d+\)/g,
      (whole, file: string, at: string) => {
        const block = blocks.find((b) => b.file === file);
        return block === undefined ? whole : `${block.document}:${block.line + Number(at)}`;
      },
    );
    assert.equal(report.trim(), "");
    assert.equal(out.status, 0);
  });

  for (const block of blocks.filter((b) => !b.fragment)) {
    it(`${block.where} runs and prints what it says`, () => {
      const out = spawnSync(
        "node",
        ["--import", import.meta.resolve("tsx"), "--enable-source-maps", block.file],
        {
          cwd: work,
          encoding: "utf8",
          timeout: 30_000,
          env: { ...process.env, TSX_TSCONFIG_PATH: join(work, "tsconfig.json") },
        },
      );
      assert.equal(out.status, 0, `${block.where} failed:\n${out.stdout}${out.stderr}`);
      const printed = out.stdout.split("\n").map((line) => line.trim());
      let from = 0;
      for (const line of expectedOutput(block.code)) {
        const at = printed.indexOf(line, from);
        assert.ok(at >= 0, `${block.where} should print "${line}"; it printed:\n${out.stdout}`);
        from = at + 1;
      }
    });
  }
});
