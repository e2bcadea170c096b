/**
 * The agent as administrators install it: `npm run build:agent` output run by plain `node`
 * with only the project's runtime packages next to it (no tsx, no TypeScript, no dev
 * dependency), as `npm install --omit=dev` in the package folder would give.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { beforeAll, describe, test } from "vitest";
import { AGENT_VERSION } from "../../../agent/version.js";

const ROOT = resolve(import.meta.dirname, "../../..");
let out: string;

/** Like `npm install --omit=dev`: every package of the lock file that is not dev-only, linked from the project's node_modules. */
function linkRuntimePackages(target: string): string[] {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
  const linked: string[] = [];
  for (const [path, info] of Object.entries(lock.packages)) {
    if (!path.startsWith("node_modules/") || info.dev === true || info.devOptional === true) continue;
    if (path.split("node_modules/").length > 2) continue; // nested copies come with their parent
    const name = path.slice("node_modules/".length);
    const dst = join(target, "node_modules", name);
    mkdirSync(dirname(dst), { recursive: true });
    symlinkSync(join(ROOT, path), dst);
    linked.push(name);
  }
  return linked;
}

function agent(...args: string[]) {
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // no loader (tsx) inherited from the test runner
  return spawnSync(process.execPath, [join(out, "agent", "main.js"), ...args], { cwd: out, env, encoding: "utf8", timeout: 60_000 });
}

beforeAll(() => {
  out = join(mkdtempSync(join(tmpdir(), "agent-package-")), "writeback-agent");
  const build = spawnSync(process.execPath, [join(ROOT, "agent", "package", "build.mjs"), "--out", out], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  assert.equal(build.status, 0, build.stderr + build.stdout);
  const linked = linkRuntimePackages(out);
  for (const dev of ["tsx", "typescript", "fast-check", "azurite"]) assert.ok(!linked.includes(dev), `${dev} is a dev dependency`);
});

describe("installable agent package", () => {
  test("package.json: bin writeback-agent, runtime dependencies only, no TypeScript sources", () => {
    const pkg = JSON.parse(readFileSync(join(out, "package.json"), "utf8")) as { bin: Record<string, string>; dependencies: Record<string, string>; version: string };
    const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    assert.equal(pkg.bin["writeback-agent"], "agent/main.js");
    assert.equal(pkg.version, AGENT_VERSION);
    for (const name of Object.keys(pkg.dependencies)) {
      assert.ok(name in root.dependencies, `${name} is a runtime dependency of the project`);
      assert.ok(!(name in root.devDependencies), `${name} is not a dev dependency`);
    }
    assert.ok(existsSync(join(out, "agent", "main.js")));
    assert.ok(!existsSync(join(out, "agent", "main.ts")));
    assert.ok(existsSync(join(out, "service", "writeback-agent.service")));
  });

  test("plain node runs --version, --help and <command> --help", () => {
    const version = agent("--version");
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), AGENT_VERSION);
    const help = agent("--help");
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Usage: writeback-agent/);
    const runHelp = agent("run", "--help");
    assert.equal(runHelp.status, 0);
    assert.match(runHelp.stdout, /--config <file>/);
  });

  test("a wrong flag: the command's usage on stderr, exit code 2", () => {
    const r = agent("check", "--config", "agent.json", "--frobnicate");
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown option '--frobnicate'/);
    assert.match(r.stderr, /Usage: writeback-agent check/);
  });
});
