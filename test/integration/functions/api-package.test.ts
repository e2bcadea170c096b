/**
 * What azd deploys (azure.yaml `dist: .deploy/api`, built by `npm run build:deploy`): compiled
 * functions/ and shared/, host.json, and a package.json of production dependencies only. With
 * exactly those packages installed, every function module loads and registers.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, test } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..", "..");
const rootPackage = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string>; engines: { node: string } };
let dir = "";
let built: { main: string; type: string; dependencies: Record<string, string>; devDependencies?: unknown; scripts?: unknown; engines: { node: string } };

describe("the azd deployment package (.deploy/api)", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "writeback-api-package-"));
    const run = spawnSync(process.execPath, [join(ROOT, "dev", "package", "build-api-package.mjs"), "--out", dir], { cwd: ROOT, encoding: "utf8" });
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    built = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as typeof built;
  }, 120_000);
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  test("holds the compiled app, host.json and package.json only; no source, map, test or tool", () => {
    assert.deepEqual(readdirSync(dir).sort(), ["dist", "host.json", "package.json"]);
    assert.deepEqual(readdirSync(join(dir, "dist")).sort(), ["functions", "shared"]);
    const all = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? all(join(d, e.name)) : [join(d, e.name)]));
    for (const f of all(join(dir, "dist"))) assert.match(f, /\.js$/, `${f} is compiled output`);
    assert.equal(readFileSync(join(dir, "host.json"), "utf8"), readFileSync(join(ROOT, "host.json"), "utf8"));
  });

  test("package.json: production dependencies only, at the root's versions, no build script", () => {
    assert.equal(built.main, "dist/functions/*.js");
    assert.equal(built.type, "module");
    assert.equal(built.devDependencies, undefined);
    assert.equal(built.scripts, undefined, "a build script would make the remote build compile with dev tools");
    assert.equal(built.engines.node, rootPackage.engines.node);
    for (const [name, range] of Object.entries(built.dependencies)) {
      assert.equal(range, rootPackage.dependencies[name], `${name} is a runtime dependency at the root's version`);
      assert.ok(!(name in rootPackage.devDependencies), name);
    }
    for (const tool of ["azurite", "vitest", "typescript", "playwright-core", "@redocly/cli", "tsx", "commander", "ldapts", "rhea"]) assert.ok(!(tool in built.dependencies), `${tool} is not deployed`);
    for (const needed of ["@azure/functions", "@azure/service-bus", "@azure/keyvault-secrets", "@azure/data-tables", "@azure/identity", "jose", "zod"]) assert.ok(needed in built.dependencies, needed);
  });

  test("with only those packages installed, every function module loads and registers", () => {
    for (const name of Object.keys(built.dependencies)) {
      mkdirSync(dirname(join(dir, "node_modules", name)), { recursive: true });
      symlinkSync(join(ROOT, "node_modules", name), join(dir, "node_modules", name), "dir");
    }
    const modules = readdirSync(join(dir, "dist", "functions")).filter((f) => f.endsWith(".js"));
    assert.equal(modules.length, readdirSync(join(ROOT, "functions")).filter((f) => f.endsWith(".ts")).length);
    const script = `
      for (const m of process.argv.slice(1)) await import(m);
      const { registeredFunctions } = await import(${JSON.stringify(join(dir, "dist", "shared", "adapters", "functions", "registry.js"))});
      process.stdout.write(JSON.stringify(registeredFunctions().map((d) => d.name)));
    `;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script, ...modules.map((m) => join(dir, "dist", "functions", m))], { cwd: dir, encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
    assert.equal(run.status, 0, run.stderr);
    assert.ok((JSON.parse(run.stdout) as string[]).length >= modules.length);
  });
});
