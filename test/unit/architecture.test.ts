import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) return sources(full);
    return entry.endsWith(".ts") ? [full] : [];
  });
}

const AZURE_IMPORT = /(?:from\s+|import\s*\(\s*)["']@azure\//;

test("the core in shared/ imports no Azure SDK: only shared/adapters/ does", () => {
  const offenders = sources(join(ROOT, "shared"))
    .filter((f) => !relative(ROOT, f).startsWith(join("shared", "adapters")))
    .filter((f) => AZURE_IMPORT.test(readFileSync(f, "utf8")))
    .map((f) => relative(ROOT, f));
  assert.deepEqual(offenders, []);
});

test("function handlers never touch an Azure SDK directly (the Functions library aside)", () => {
  const offenders = sources(join(ROOT, "functions"))
    .filter((f) => [...readFileSync(f, "utf8").matchAll(/["'](@azure\/[^"']+)["']/g)].some((m) => m[1] !== "@azure/functions"))
    .map((f) => relative(ROOT, f));
  assert.deepEqual(offenders, []);
});
