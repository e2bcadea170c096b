/**
 * The deployed package is what `.funcignore` leaves of the repository: functions/, shared/,
 * package.json, host.json and the build config. Copied alone to a clean folder, with only the
 * production dependencies installed, it must compile (tsconfig.build.json) and every function
 * module must import on its own and register its function, so nothing in it reaches dev/,
 * cli/, agent/, emulators/, test/ or a development-only package.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, test } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..", "..");

/** .funcignore's patterns (gitignore syntax as used there: names and `*` globs, any depth). */
function funcignore(): RegExp[] {
  return readFileSync(join(ROOT, ".funcignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((p) => new RegExp(`^${p.replace(/\/$/, "").replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`));
}

function deployedFiles(): string[] {
  const patterns = funcignore();
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" })
    .split("\n")
    .filter((f) => f !== "");
  return files.filter((f) => !f.split("/").some((segment) => patterns.some((p) => p.test(segment)))).sort();
}

const files = deployedFiles();
let dir = "";

describe("the deployed package", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "writeback-package-"));
    for (const f of files) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      cpSync(join(ROOT, f), join(dir, f));
    }
    // Production dependencies only (and the Node types the compiler needs).
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    for (const name of [...Object.keys(pkg.dependencies), "@types/node"]) {
      mkdirSync(dirname(join(dir, "node_modules", name)), { recursive: true });
      symlinkSync(join(ROOT, "node_modules", name), join(dir, "node_modules", name), "dir");
    }
  });
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  test("holds functions/ and shared/ and no development code", () => {
    const top = new Set(files.map((f) => f.split("/")[0]));
    for (const needed of ["functions", "shared", "package.json", "host.json", "tsconfig.json", "tsconfig.build.json"]) assert.ok(top.has(needed), `${needed} is deployed`);
    for (const excluded of ["dev", "cli", "agent", "emulators", "test", "bench", "infra"]) assert.ok(!top.has(excluded), `${excluded}/ is not deployed`);
  });

  test("compiles alone with tsconfig.build.json", () => {
    const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], { cwd: dir, encoding: "utf8" });
    assert.equal(tsc.status, 0, `tsc failed:\n${tsc.stdout}${tsc.stderr}`);
    assert.deepEqual(readdirSync(join(dir, "dist")).sort(), ["functions", "shared"]);
  });

  test("every function module imports on its own and registers its function, without test-mode warnings", () => {
    const modules = readdirSync(join(dir, "dist", "functions")).filter((f) => f.endsWith(".js"));
    const sources = readdirSync(join(ROOT, "functions")).filter((f) => f.endsWith(".ts"));
    assert.equal(modules.length, sources.length);
    const script = `
      await import(process.argv[1]);
      const { registeredFunctions } = await import(process.argv[2]);
      process.stdout.write(JSON.stringify(registeredFunctions().map((d) => d.name)));
    `;
    for (const m of modules) {
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", script, join(dir, "dist", "functions", m), join(dir, "dist", "shared", "adapters", "functions", "registry.js")], {
        cwd: dir,
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "" },
      });
      assert.equal(run.status, 0, `${m} failed to import:\n${run.stderr}`);
      const names = JSON.parse(run.stdout) as string[];
      assert.ok(names.length >= 1, `${m} registers a function`);
      assert.doesNotMatch(run.stderr, /test mode/, `${m} printed the Functions library's test-mode warnings`);
    }
  });
});
