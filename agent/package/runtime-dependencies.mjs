// The runtime packages a compiled folder imports, with the root package.json's version of each.
// Shared by the installable agent's build and the function app's deploy package: a package gets
// exactly what its code loads, and a devDependency reaching the code fails the build.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** Bare specifiers imported by the compiled files ("ldapts", "@azure/service-bus", …). */
export function importedPackages(dir, found = new Set()) {
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) importedPackages(full, found);
    else if (entry.endsWith(".js")) {
      const text = readFileSync(full, "utf8");
      for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["']([^"'./][^"']*)["']/g)) {
        const spec = m[1];
        if (spec.startsWith("node:")) continue;
        const parts = spec.split("/");
        found.add(spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]);
      }
    }
  }
  return found;
}

/** name → version range for every package `dir` imports; throws naming one that is not a runtime dependency. */
export function runtimeDependencies(dir, rootPackage, what) {
  const dependencies = {};
  for (const name of [...importedPackages(dir)].sort()) {
    const range = rootPackage.dependencies?.[name];
    if (range === undefined) {
      throw new Error(`${what} imports ${name}, which is not a runtime dependency of the project${rootPackage.devDependencies?.[name] ? " (it is a devDependency)" : ""}`);
    }
    dependencies[name] = range;
  }
  return dependencies;
}
