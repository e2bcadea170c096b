import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "vitest";
import { syncCommand } from "../../../agent/commands/sync.js";
import { loadAgentConfig } from "../../../agent/config/agent-config.js";
import { FileSyncStore } from "../../../agent/sync/file-sync-store.js";
import { silentLogger } from "../../../shared/ports/logger.port.js";

/** An agent folder with an embedded directory of `n` users (each with a ms-DS-ConsistencyGuid) and a CSV export of their cloud users. */
function agentFolder(n: number) {
  const dir = mkdtempSync(join(tmpdir(), "agent-sync-cmd-"));
  const users = Array.from({ length: n }, (_, i) => ({ sAMAccountName: `u${i}`, msDsConsistencyGuid: randomBytes(16).toString("base64"), id: randomUUID() }));
  writeFileSync(join(dir, "seed.json"), JSON.stringify({ domains: [{ domain: "corp.example.com", users: users.map(({ sAMAccountName, msDsConsistencyGuid }) => ({ sAMAccountName, msDsConsistencyGuid })) }] }));
  writeFileSync(
    join(dir, "agent.json"),
    JSON.stringify({ tenantId: randomUUID(), serviceBus: {}, keys: { privateKeyFile: "k.pem", stateFile: "k.json" }, directory: { kind: "embedded", seedFile: "seed.json" }, syncStore: { file: "sync.json" } }),
  );
  const csv = join(dir, "users.csv");
  // Plus one cloud-only user and one whose account is not in AD.
  writeFileSync(csv, `id,onPremisesImmutableId\n${users.map((u) => `${u.id},${u.msDsConsistencyGuid}`).join("\n")}\n${randomUUID()},\n${randomUUID()},${randomBytes(16).toString("base64")}\n`);
  return { dir, users, csv, config: loadAgentConfig(join(dir, "agent.json"), {}) };
}

async function run(o: ReturnType<typeof agentFolder>, extra: Partial<Parameters<typeof syncCommand>[0]> = {}) {
  const out: string[] = [];
  const progress: string[] = [];
  const report = await syncCommand({ config: o.config, imports: [o.csv], format: "auto", directory: true, dryRun: false, logger: silentLogger, out: (l) => out.push(l), progress: (l) => progress.push(l), ...extra });
  return { report, out, progress };
}

describe("agent sync (embedded directory)", () => {
  test("imports a CSV export of the cloud's users and joins them to AD; summary and progress printed", async () => {
    const o = agentFolder(2500);
    const { report, out, progress } = await run(o);
    assert.deepEqual([report?.usersRead, report?.linked, report?.unmatched, report?.inSeveralForests], [2500, 2500, 1, 0]);
    assert.match(out[0] ?? "", /2501 cloud users, 0 connector-space objects, 1 skipped \(no onPremisesImmutableId/);
    assert.match(out.at(-1) ?? "", /Users read: 2500\. Cloud users linked: 2500, unmatched: 1, in several forests: 0\./);
    assert.deepEqual(progress, ["… corp.example.com: 1000 users read", "… corp.example.com: 2000 users read"]);
    const store = await FileSyncStore.open(join(o.dir, "sync.json"));
    const found = await store.resolve(`User_${o.users[7]!.id}`);
    assert.equal(found.kind, "found");
  });

  test("--dry-run leaves the store file as it was; --no-directory only imports", async () => {
    const o = agentFolder(10);
    await run(o, { dryRun: true });
    assert.equal(existsSync(join(o.dir, "sync.json")), false);
    const only = await run(o, { directory: false });
    assert.equal(only.report, undefined);
    const stored = JSON.parse(readFileSync(join(o.dir, "sync.json"), "utf8")) as { objects: { connector: string }[] };
    assert.equal(stored.objects.filter((x) => x.connector === "aad").length, 11);
    assert.equal(stored.objects.filter((x) => x.connector !== "aad").length, 0);
  });
});
