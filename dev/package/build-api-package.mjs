#!/usr/bin/env node
// Builds the function app's deployment package in .deploy/api (or --out <dir>): the compiled
// functions/ and shared/ (tsconfig.build.json), host.json, and a package.json whose dependencies
// are only the runtime packages the compiled files import — no devDependencies and no build
// script, so a remote build in Azure (npm install) installs production packages and nothing else.
// azure.yaml runs it before azd packages the `api` service (`npm run build:deploy`).
import { spawnSync } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runtimeDependencies } from "../../agent/package/runtime-dependencies.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const outFlag = process.argv.indexOf("--out");
const out = resolve(outFlag >= 0 ? process.argv[outFlag + 1] : join(root, ".deploy", "api"));

rmSync(out, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.build.json"), "--outDir", join(out, "dist"), "--sourceMap", "false"], { stdio: "inherit" });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

const rootPackage = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
let dependencies;
try {
  dependencies = runtimeDependencies(join(out, "dist"), rootPackage, "the function app");
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
const overrides = Object.fromEntries(Object.entries(rootPackage.overrides ?? {}).filter(([name]) => name === "@azure/core-amqp" || name in dependencies));

writeFileSync(
  join(out, "package.json"),
  `${JSON.stringify(
    {
      name: rootPackage.name,
      version: rootPackage.version,
      private: true,
      description: rootPackage.description,
      license: rootPackage.license,
      type: "module",
      main: "dist/functions/*.js",
      engines: rootPackage.engines,
      dependencies,
      overrides,
    },
    null,
    2,
  )}\n`,
);
copyFileSync(join(root, "host.json"), join(out, "host.json"));

const bytes = (dir) => readdirSync(dir).reduce((n, e) => n + (statSync(join(dir, e)).isDirectory() ? bytes(join(dir, e)) : statSync(join(dir, e)).size), 0);
console.log(`function app package in ${out}: ${Math.round(bytes(out) / 1024)} KiB; runtime dependencies: ${Object.keys(dependencies).join(", ")}`);
