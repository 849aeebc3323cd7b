// `npm ci` refuses a lockfile that leaves out an optional dependency of a locked package ("Missing: … from
// lock file"). The registry this project installs from does not serve some platform packages (chdb's
// darwin and linux-arm64 builds), so `npm install` drops them from the lock; they are listed by hand.
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";

interface LockEntry {
  optionalDependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(new URL("../../package-lock.json", import.meta.url), "utf8")) as {
  packages: Record<string, LockEntry>;
};

/** Where npm would resolve `name` from the package at `path` (its own node_modules, then each parent's). */
function resolvable(path: string, name: string): boolean {
  for (let base = path; ; base = base.slice(0, Math.max(0, base.lastIndexOf("/node_modules/")))) {
    if (`${base ? `${base}/` : ""}node_modules/${name}` in lock.packages) return true;
    if (base === "") return false;
  }
}

it("lists every optional dependency of every locked package, so npm ci accepts the lockfile", () => {
  const missing = Object.entries(lock.packages).flatMap(([path, entry]) =>
    Object.keys(entry.optionalDependencies ?? {})
      .filter((name) => !resolvable(path, name))
      .map((name) => `${path || "(root)"} → ${name}`),
  );
  expect(missing, "add these to package-lock.json (version, os/cpu, optional: true) as for @chdb/lib-darwin-arm64").toEqual([]);
});
