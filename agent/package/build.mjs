#!/usr/bin/env node
// Builds the installable agent: compiled JavaScript plus a package.json whose dependencies are
// only the runtime packages the compiled files import (never a devDependency), and whose bin is
// `writeback-agent`. `npm run build:agent [-- --out <dir>]`, then `npm pack` in that folder.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runtimeDependencies } from "./runtime-dependencies.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const outFlag = process.argv.indexOf("--out");
const out = resolve(outFlag >= 0 ? process.argv[outFlag + 1] : join(root, "dist", "agent-package"));

rmSync(out, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.agent.json"), "--outDir", out], { stdio: "inherit" });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

const rootPackage = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const version = /PRODUCT_VERSION = "([^"]+)"/.exec(readFileSync(join(root, "shared", "version.ts"), "utf8"))?.[1];
if (version === undefined) throw new Error("shared/version.ts has no PRODUCT_VERSION");

let dependencies;
try {
  dependencies = runtimeDependencies(out, rootPackage, "the agent");
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
// Pinned transitive versions the root relies on (UseDevelopmentEmulator needs this core-amqp).
const overrides = Object.fromEntries(Object.entries(rootPackage.overrides ?? {}).filter(([k]) => k in dependencies || k === "@azure/core-amqp"));

writeFileSync(
  join(out, "package.json"),
  `${JSON.stringify(
    {
      name: "writeback-agent",
      version,
      description: "Password writeback on-premises agent (Active Directory over LDAPS, Azure Service Bus).",
      type: "module",
      license: rootPackage.license ?? "UNLICENSED",
      engines: rootPackage.engines,
      bin: { "writeback-agent": "agent/main.js" },
      files: ["agent", "shared", "service"],
      dependencies,
      overrides,
    },
    null,
    2,
  )}\n`,
);
chmodSync(join(out, "agent", "main.js"), 0o755);
// The service definitions travel with the package.
mkdirSync(join(out, "service"), { recursive: true });
for (const f of readdirSync(join(root, "agent", "service"))) {
  copyFileSync(join(root, "agent", "service", f), join(out, "service", f));
}
console.log(`writeback-agent ${version} built in ${out} (runtime dependencies: ${Object.keys(dependencies).join(", ")})`);
