// Lints the package as it would be published: packs it (npm pack, whose
// prepack builds dist/) into a temporary folder and runs publint and
// arethetypeswrong on that tarball. Both read only the tarball: no network.
//
// attw runs with the esm-only profile: the package is ESM only (see
// DESIGN.md), so it skips the two resolutions that cannot apply, node10
// (no "exports" support) and require() from CommonJS (which works on the
// Node versions we support, >= 20.19, but attw still counts as a problem).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const bin = (name) => join(import.meta.dirname, "..", "node_modules", ".bin", name);
const dir = mkdtempSync(join(tmpdir(), "clockwork-pack-"));
try {
  execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { stdio: "inherit" });
  const [tarball, ...more] = readdirSync(dir).filter((name) => name.endsWith(".tgz"));
  if (tarball === undefined || more.length > 0)
    throw new Error(`npm pack made ${readdirSync(dir)}`);
  const file = join(dir, tarball);
  execFileSync(bin("publint"), ["run", file, "--strict"], { stdio: "inherit" });
  execFileSync(bin("attw"), [file, "--profile", "esm-only", "--format", "ascii"], {
    stdio: "inherit",
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
