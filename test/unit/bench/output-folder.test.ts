import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "vitest";
import { benchMode } from "../../../bench/report.js";

const root = new URL("../../../", import.meta.url);
const ignored = (path: string) => {
  try {
    execFileSync("git", ["check-ignore", "-q", path], { cwd: root });
    return true;
  } catch {
    return false;
  }
};

test("a quick run (CI) and an unrecorded full run write to a folder git ignores; only --record replaces the tracked results", () => {
  const quick = benchMode(["--quick"]);
  assert.equal(quick.record, false);
  assert.equal(quick.folder, "bench/results/unrecorded/");
  assert.equal(benchMode([]).folder, "bench/results/unrecorded/");
  assert.equal(ignored(`${quick.folder}latest.json`), true);
  assert.equal(ignored(`${quick.folder}latest.md`), true);
  const recorded = benchMode(["--record"]);
  assert.equal(recorded.quick, false);
  assert.equal(recorded.folder, "bench/results/");
  assert.equal(ignored("bench/results/latest.json"), false);
  assert.throws(() => benchMode(["--quick", "--record"]), /without --quick/);
});
