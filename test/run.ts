/**
 * Runs the whole suite with node's test runner (through tsx, no build needed).
 * Global peers (Azurite, the Service Bus and Key Vault peers, Samba AD) are started once
 * by the `test/support/*.global.ts` modules and handed to test files via environment
 * variables; a test file run alone starts its own.
 *
 *   npm test                      everything
 *   npm test -- test/unit         only files under a folder (or single files)
 */
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";

interface GlobalSetup {
  env: Record<string, string>;
  teardown(): Promise<void>;
}

const root = resolve(import.meta.dirname, "..");

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...findTests(full));
    else if (entry.endsWith(".test.ts")) out.push(full);
  }
  return out;
}

const args = process.argv.slice(2);
const targets = args.length > 0 ? args.map((a) => resolve(a)) : [join(root, "test")];
const files = targets.flatMap((t) => (statSync(t).isDirectory() ? findTests(t) : [t])).sort();
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}

const setups: GlobalSetup[] = [];
const supportDir = join(root, "test", "support");
const needsPeers = files.some((f) => !f.includes(`${join("test", "unit")}`));
if (needsPeers) {
  for (const entry of readdirSync(supportDir).filter((e) => e.endsWith(".global.ts")).sort()) {
    const mod = (await import(pathToFileURL(join(supportDir, entry)).href)) as { setup: (files: string[]) => Promise<GlobalSetup | undefined> };
    const started = await mod.setup(files);
    if (started !== undefined) {
      setups.push(started);
      Object.assign(process.env, started.env);
    }
  }
}

let stopping = false;
async function teardown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const s of setups.reverse()) await s.teardown().catch((e: unknown) => console.error("teardown failed:", e));
}

const concurrency = process.env.TEST_CONCURRENCY ?? "2";
const child = spawn(
  process.execPath,
  // Force-exit: a file ends when its tests and after-hooks are done, not when the SDK's last
  // disposition timer (up to 60 s) fires. The timeout turns a hang into a failure, not a stuck CI.
  ["--import", "tsx", "--test", "--test-force-exit", "--test-timeout=600000", `--test-concurrency=${concurrency}`, "--test-reporter=spec", ...files.map((f) => relative(root, f))],
  { cwd: root, stdio: "inherit", env: process.env },
);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    child.kill(signal);
  });
}
const code: number = await new Promise((done) => child.on("exit", (c, s) => done(c ?? (s ? 1 : 0))));
await teardown();
process.exit(code);
