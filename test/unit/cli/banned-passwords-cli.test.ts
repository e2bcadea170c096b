import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, test } from "vitest";
import { main } from "../../../cli/writeback-cli.js";
import { startLocalRunner, type LocalRunner } from "../../../dev/functions-host/local-runner.js";
import { loadFunctions } from "../../../dev/functions-host/load-functions.js";
import { useServices } from "../../../shared/composition/services.js";
import { startInMemoryStack, type InMemoryStack } from "../../support/in-memory-stack.js";

let s: InMemoryStack;
let runner: LocalRunner;

beforeAll(async () => {
  s = await startInMemoryStack();
  const functions = await loadFunctions();
  useServices(s.services);
  runner = await startLocalRunner({ functions, port: 0, host: "127.0.0.1", settings: {} });
});
afterAll(async () => {
  await runner?.close();
});

async function cli(...args: string[]): Promise<{ code: number; lines: string[] }> {
  useServices(s.services);
  const lines: string[] = [];
  const code = await main([...args, "--tenant", s.tenantId, "--api", runner.url, "--token", s.adminToken], {}, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
  return { code, lines };
}

test("operator CLI: banned-passwords add, list, remove, mode", async () => {
  const file = join(mkdtempSync(join(tmpdir(), "wb-terms-")), "terms.txt");
  writeFileSync(file, "# our names\nNorthwind\n\nTailspin\n");
  const added = await cli("banned-passwords", "add", "Contoso", "--file", file);
  assert.equal(added.code, 0, added.lines.join("\n"));
  assert.deepEqual(added.lines, ["added 3; 3 custom terms now"]);
  const listed = await cli("banned-passwords", "list");
  assert.equal(listed.code, 0);
  assert.match(listed.lines[0] ?? "", /^mode: enforce; 3 of at most 1000 custom terms; global list: 10000 terms from @zxcvbn-ts\/language-common/);
  assert.deepEqual(listed.lines.slice(1), ["contoso", "northwind", "tailspin"]);
  assert.deepEqual((await cli("banned-passwords", "remove", "NORTHWIND")).lines, ["removed 1; 2 custom terms now"]);
  const tooShort = await cli("banned-passwords", "add", "abc");
  assert.equal(tooShort.code, 1);
  assert.match(tooShort.lines[0] ?? "", /^error INVALID_REQUEST/);
  assert.equal((await cli("banned-passwords", "add")).code, 2, "no term: usage");
  assert.equal((await cli("banned-passwords", "mode", "off")).code, 2);
  assert.deepEqual((await cli("banned-passwords", "mode", "audit")).lines, ["banned-password check: audit"]);
  assert.equal((await s.services.settings.get(s.tenantId))?.bannedPasswordMode, "audit");
  assert.equal((await s.services.settings.get(s.tenantId))?.enabled, true, "the mode change kept writeback enabled");
  assert.match((await cli("banned-passwords", "list")).lines[0] ?? "", /^mode: audit; 2 of/);
});
