import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "vitest";
import { EmbeddedDirectory } from "../../../agent/directory/embedded/embedded-directory.js";
import { FileSyncStore } from "../../../agent/sync/file-sync-store.js";
import { adBytesToGuid, guidToAdBytes, sourceAnchorOf } from "../../../agent/sync/source-anchor.js";
import { SyncFileError } from "../../../agent/sync/sync-file-format.js";
import { importObjects, populateFromDirectory, readSyncImportFile } from "../../../agent/sync/sync-population.js";
import type { ConnectorSpaceObject } from "../../../agent/sync/sync-store.port.js";
import { pw } from "./helpers.js";

const RULE = "Microsoft.InfromADUserAccountEnabled.";
const G1 = "0b6d2c5e-1111-4a2b-9c3d-aaaaaaaaaaa1";
const G2 = "0b6d2c5e-2222-4a2b-9c3d-aaaaaaaaaaa2";

function tempFile(name = "sync.json"): string {
  return join(mkdtempSync(join(tmpdir(), "sync-")), name);
}

async function storeWith(objects: ConnectorSpaceObject[]): Promise<FileSyncStore> {
  const store = await FileSyncStore.open(tempFile());
  await store.upsert(objects);
  return store;
}

const aad = (anchor: string, metaverseId?: string): ConnectorSpaceObject => ({ connector: "aad", anchor, metaverseId });
const ad = (forest: string, guid: string, metaverseId: string, rules: string[], extra: Partial<ConnectorSpaceObject> = {}): ConnectorSpaceObject => ({
  connector: forest,
  anchor: guid,
  metaverseId,
  linkRules: rules,
  domain: forest,
  distinguishedName: `CN=u,DC=${forest.split(".").join(",DC=")}`,
  ...extra,
});

describe("sync store resolution: cloudAnchor → aad object → metaverse → AD object with the AccountEnabled rule", () => {
  test("found: one AD object linked by Microsoft.InfromADUserAccountEnabled.*", async () => {
    const store = await storeWith([aad("User_a", "mv1"), ad("corp.example.com", G1, "mv1", [`${RULE}corp.example.com`])]);
    assert.deepEqual(await store.resolve("User_a"), { kind: "found", domain: "corp.example.com", distinguishedName: "CN=u,DC=corp,DC=example,DC=com", objectGuid: G1 });
  });

  test("no object in the cloud connector space → notFound", async () => {
    const store = await storeWith([aad("User_a", "mv1"), ad("corp.example.com", G1, "mv1", [`${RULE}x`])]);
    assert.equal((await store.resolve("User_missing")).kind, "notFound");
  });

  test("the cloud anchor is matched exactly (case matters for cloud anchors)", async () => {
    const store = await storeWith([aad("User_Abc", "mv1"), ad("corp.example.com", G1, "mv1", [`${RULE}x`])]);
    assert.equal((await store.resolve("User_abc")).kind, "notFound");
  });

  test("aad object not joined to a metaverse object → notFound", async () => {
    const store = await storeWith([aad("User_a"), ad("corp.example.com", G1, "mv1", [`${RULE}x`])]);
    const r = await store.resolve("User_a");
    assert.equal(r.kind, "notFound");
    assert.match(r.kind === "notFound" ? r.detail : "", /not joined/);
  });

  test("metaverse object without any AD object → notFound", async () => {
    const store = await storeWith([aad("User_a", "mv1")]);
    assert.equal((await store.resolve("User_a")).kind, "notFound");
  });

  test("AD objects joined but none by the AccountEnabled rule → misconfigured", async () => {
    const store = await storeWith([aad("User_a", "mv1"), ad("corp.example.com", G1, "mv1", ["Microsoft.InfromADUserCommon.corp.example.com"])]);
    assert.equal((await store.resolve("User_a")).kind, "misconfigured");
  });

  test("the rule name prefix is matched as the spec writes it", async () => {
    const store = await storeWith([aad("User_a", "mv1"), ad("corp.example.com", G1, "mv1", ["microsoft.infromaduseraccountenabled.corp"])]);
    assert.equal((await store.resolve("User_a")).kind, "misconfigured");
  });

  test("the account object lacks domain or DN → misconfigured", async () => {
    const store = await storeWith([aad("User_a", "mv1"), { connector: "corp.example.com", anchor: G1, metaverseId: "mv1", linkRules: [`${RULE}corp`] }]);
    assert.equal((await store.resolve("User_a")).kind, "misconfigured");
  });

  test("multi-forest (account/resource): the AccountEnabled rule picks the account forest", async () => {
    const store = await storeWith([
      aad("User_a", "mv1"),
      ad("resource.example.net", G2, "mv1", ["Microsoft.InfromADUserCommon.resource.example.net"]),
      ad("accounts.example.com", G1, "mv1", [`${RULE}accounts.example.com`]),
    ]);
    const r = await store.resolve("User_a");
    assert.equal(r.kind, "found");
    assert.equal(r.kind === "found" ? r.domain : "", "accounts.example.com");
    assert.equal(r.kind === "found" ? r.objectGuid : "", G1);
  });

  test("two AD objects with the rule → ambiguous", async () => {
    const store = await storeWith([aad("User_a", "mv1"), ad("one.example.com", G1, "mv1", [`${RULE}one`]), ad("two.example.com", G2, "mv1", [`${RULE}two`])]);
    assert.equal((await store.resolve("User_a")).kind, "ambiguous");
  });

  test("upsert replaces an object and re-indexes its join", async () => {
    const store = await storeWith([aad("User_a", "mv1"), ad("corp.example.com", G1, "mv1", [`${RULE}x`])]);
    await store.upsert([aad("User_a", "mv2")]);
    assert.equal((await store.resolve("User_a")).kind, "notFound");
    await store.upsert([ad("corp.example.com", G1, "mv2", [`${RULE}x`])]);
    assert.equal((await store.resolve("User_a")).kind, "found");
    assert.equal(store.size, 2);
    assert.equal(await store.remove([{ connector: "CORP.example.com", anchor: G1.toUpperCase() }]), 1);
    assert.equal((await store.resolve("User_a")).kind, "notFound");
  });
});

describe("sync store file", () => {
  test("persists atomically and reloads with the same answers; no temp files left; mode 0600", async () => {
    const file = tempFile();
    const store = await FileSyncStore.open(file);
    await store.upsert([aad("User_a", "mv1"), ad("corp.example.com", G1, "mv1", [`${RULE}corp`])]);
    await store.close();
    assert.deepEqual(readdirSync(join(file, "..")), ["sync.json"]);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = await FileSyncStore.open(file);
    assert.equal((await again.resolve("User_a")).kind, "found");
  });

  test("a damaged store file is refused with a clear error", async () => {
    const file = tempFile();
    writeFileSync(file, "{not json");
    await assert.rejects(FileSyncStore.open(file), SyncFileError);
    writeFileSync(file, JSON.stringify({ version: 1, objects: [{ connector: "aad" }] }));
    await assert.rejects(FileSyncStore.open(file), /objects\.0\.anchor/);
  });

  test("an import file's objects are loaded into the store", async () => {
    const importFile = tempFile("import.json");
    writeFileSync(importFile, JSON.stringify({ version: 1, objects: [aad("User_x", "mvx"), ad("corp.example.com", G1, "mvx", [`${RULE}corp`])] }));
    const store = await FileSyncStore.open(tempFile());
    assert.equal(await importObjects(store, await readSyncImportFile(importFile)), 2);
    assert.equal((await store.resolve("User_x")).kind, "found");
  });
});

describe("population from AD through a DirectorySource", () => {
  test("source anchor: ms-DS-ConsistencyGuid when set, else objectGUID in AD's byte order, base64", () => {
    const bytes = guidToAdBytes("b5e0e4ac-1c2d-4e3f-8a9b-0c1d2e3f4a5b");
    assert.equal(bytes.subarray(0, 8).toString("hex"), "ace4e0b52d1c3f4e");
    assert.equal(adBytesToGuid(bytes), "b5e0e4ac-1c2d-4e3f-8a9b-0c1d2e3f4a5b");
    assert.equal(sourceAnchorOf({ objectGuid: "b5e0e4ac-1c2d-4e3f-8a9b-0c1d2e3f4a5b" }), bytes.toString("base64"));
    const consistency = Buffer.alloc(16, 7);
    assert.equal(sourceAnchorOf({ objectGuid: "b5e0e4ac-1c2d-4e3f-8a9b-0c1d2e3f4a5b", msDsConsistencyGuid: consistency }), consistency.toString("base64"));
  });

  test("maps cloud anchors to AD users of several forests; the mapping's forest decides the account forest", async () => {
    const dir = new EmbeddedDirectory();
    dir.addDomain({ domain: "corp.example.com" });
    dir.addDomain({ domain: "emea.corp.example.com", forest: "corp.example.com" });
    dir.addDomain({ domain: "resource.example.net" });
    const alice = dir.addUser("corp.example.com", { sAMAccountName: "alice", password: pw("x") });
    const bob = dir.addUser("emea.corp.example.com", { sAMAccountName: "bob" });
    const shared = Buffer.alloc(16, 9);
    const carolAccount = dir.addUser("corp.example.com", { sAMAccountName: "carol", msDsConsistencyGuid: shared });
    dir.addUser("resource.example.net", { sAMAccountName: "carol-mbx", msDsConsistencyGuid: shared });
    dir.addUser("corp.example.com", { sAMAccountName: "dave", msDsConsistencyGuid: Buffer.alloc(16, 4) });
    dir.addUser("resource.example.net", { sAMAccountName: "dave2", msDsConsistencyGuid: Buffer.alloc(16, 4) });

    const store = await FileSyncStore.open(tempFile());
    const report = await populateFromDirectory(store, {
      source: dir,
      domains: dir.domainNames().map((d) => ({ domain: d, forest: dir.forestOf(d) })),
      anchors: [
        { cloudAnchor: "User_alice", sourceAnchor: sourceAnchorOf(alice) },
        { cloudAnchor: "User_bob", sourceAnchor: sourceAnchorOf(bob) },
        { cloudAnchor: "User_carol", sourceAnchor: shared.toString("base64"), forest: "corp.example.com" },
        { cloudAnchor: "User_dave", sourceAnchor: Buffer.alloc(16, 4).toString("base64") },
        { cloudAnchor: "User_nobody", sourceAnchor: Buffer.alloc(16, 1).toString("base64") },
      ],
    });
    assert.deepEqual(report, { usersRead: 6, linked: 4, unmatched: 1, inSeveralForests: 2 });

    const a = await store.resolve("User_alice");
    assert.deepEqual(a, { kind: "found", domain: "corp.example.com", distinguishedName: alice.distinguishedName, objectGuid: alice.objectGuid });
    const b = await store.resolve("User_bob");
    assert.equal(b.kind === "found" ? b.domain : "", "emea.corp.example.com", "a child domain of the forest");
    const c = await store.resolve("User_carol");
    assert.equal(c.kind === "found" ? c.objectGuid : "", carolAccount.objectGuid);
    assert.equal((await store.resolve("User_dave")).kind, "ambiguous", "same source anchor in two forests, no forest named");
    assert.equal((await store.resolve("User_nobody")).kind, "notFound");
    const links = store.list().filter((o) => o.anchor === carolAccount.objectGuid);
    assert.deepEqual(links[0]?.linkRules, ["Microsoft.InfromADUserAccountEnabled.corp.example.com"]);
  });

  test("an import file's cloudAnchors section feeds the population; a bad source anchor is refused", async () => {
    const file = tempFile("import.json");
    writeFileSync(file, JSON.stringify({ version: 1, cloudAnchors: [{ cloudAnchor: "User_a", sourceAnchor: "not base64!" }] }));
    await assert.rejects(readSyncImportFile(file), /cloudAnchors\.0\.sourceAnchor/);
    writeFileSync(file, JSON.stringify({ version: 1, cloudAnchors: [{ cloudAnchor: "User_a", sourceAnchor: Buffer.alloc(16).toString("base64") }] }));
    assert.equal((await readSyncImportFile(file)).cloudAnchors.length, 1);
    assert.ok(readFileSync(file, "utf8").length > 0);
  });
});
