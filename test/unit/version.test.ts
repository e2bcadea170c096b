import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "vitest";
import { AGENT_VERSION } from "../../agent/version.js";
import { PRODUCT_VERSION } from "../../shared/version.js";

test("one version: package.json and the agent carry shared/version.ts's", () => {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8")) as { version: string };
  assert.match(PRODUCT_VERSION, /^\d+\.\d+\.\d+(-[\w.]+)?$/);
  assert.equal(pkg.version, PRODUCT_VERSION);
  assert.equal(AGENT_VERSION, PRODUCT_VERSION);
});
