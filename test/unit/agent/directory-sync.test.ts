import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "vitest";
import { EmbeddedDirectory } from "../../../agent/directory/embedded/embedded-directory.js";
import { AccountResolver } from "../../../agent/sync/account-resolver.js";
import { cloudObjectsOf, parseCsv, readImportFile } from "../../../agent/sync/cloud-user-import.js";
import { DirectorySync } from "../../../agent/sync/directory-sync.js";
import { FileSyncStore } from "../../../agent/sync/file-sync-store.js";
import { guidToAdBytes } from "../../../agent/sync/source-anchor.js";
import { SyncFileError } from "../../../agent/sync/sync-file-format.js";
import { AppError } from "../../../shared/errors/app-error.js";

const ACCOUNT = "Microsoft.InfromADUserAccountEnabled.";
const COMMON = "Microsoft.InfromADUserCommon.";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "dsync-"));
}

/** Two forests: an account forest and a resource forest (linked mailboxes: disabled copies). */
function twoForests(): EmbeddedDirectory {
  const d = new EmbeddedDirectory();
  d.addDomain({ domain: "corp.example.com" });
  d.addDomain({ domain: "res.example.net" });
  return d;
}

const anchorOf = (bytes: Buffer) => bytes.toString("base64");

describe("live resolution by source anchor (two forests, embedded directory)", () => {
  test("picks the forest where the account is enabled; the disabled copy elsewhere is ignored", async () => {
    const d = twoForests();
    const sa = randomBytes(16);
    const account = d.addUser("corp.example.com", { sAMAccountName: "alice", msDsConsistencyGuid: sa });
    d.addUser("res.example.net", { sAMAccountName: "alice-mbx", msDsConsistencyGuid: sa, disabled: true });
    const resolver = new AccountResolver({ store: await FileSyncStore.open(join(tempDir(), "s.json")), locator: d });
    assert.deepEqual(await resolver.resolve("User_x", sa), { kind: "found", domain: "corp.example.com", distinguishedName: account.distinguishedName, objectGuid: account.objectGuid });
  });

  test("enabled in both forests → ambiguous; nowhere → notFound; disabled everywhere → the (disabled) account", async () => {
    const d = twoForests();
    const sa = randomBytes(16);
    d.addUser("corp.example.com", { sAMAccountName: "bob", msDsConsistencyGuid: sa });
    d.addUser("res.example.net", { sAMAccountName: "bob2", msDsConsistencyGuid: sa });
    const off = randomBytes(16);
    const first = d.addUser("corp.example.com", { sAMAccountName: "carol", msDsConsistencyGuid: off, disabled: true });
    d.addUser("res.example.net", { sAMAccountName: "carol2", msDsConsistencyGuid: off, disabled: true });
    const resolver = new AccountResolver({ store: await FileSyncStore.open(join(tempDir(), "s.json")), locator: d });
    const both = await resolver.resolve("User_b", sa);
    assert.equal(both.kind, "ambiguous");
    assert.match(both.kind === "ambiguous" ? both.detail : "", /corp\.example\.com, res\.example\.net/);
    assert.equal((await resolver.resolve("User_n", randomBytes(16))).kind, "notFound");
    const disabled = await resolver.resolve("User_c", off);
    assert.equal(disabled.kind === "found" ? disabled.objectGuid : undefined, first.objectGuid);
  });

  test("without ms-DS-ConsistencyGuid the objectGUID in AD byte order is the anchor; an object with its own ConsistencyGuid is not matched by its objectGUID", async () => {
    const d = twoForests();
    const plain = d.addUser("corp.example.com", { sAMAccountName: "dave" });
    const migrated = d.addUser("corp.example.com", { sAMAccountName: "erin", msDsConsistencyGuid: randomBytes(16) });
    const resolver = new AccountResolver({ store: await FileSyncStore.open(join(tempDir(), "s.json")), locator: d });
    const found = await resolver.resolve("User_d", guidToAdBytes(plain.objectGuid));
    assert.equal(found.kind === "found" ? found.objectGuid : undefined, plain.objectGuid);
    // The GUID's text order (not AD's byte order) is not the anchor.
    assert.equal((await resolver.resolve("User_d", Buffer.from(plain.objectGuid.replace(/-/g, ""), "hex"))).kind, "notFound");
    assert.equal((await resolver.resolve("User_e", guidToAdBytes(migrated.objectGuid))).kind, "notFound");
  });

  test("no match live → the sync store by cloud anchor; a forest that does not answer is never reported as USER_NOT_FOUND", async () => {
    const d = twoForests();
    const store = await FileSyncStore.open(join(tempDir(), "s.json"));
    const stored = d.addUser("corp.example.com", { sAMAccountName: "frank", msDsConsistencyGuid: randomBytes(16) });
    await store.upsert([
      { connector: "aad", anchor: "User_f", metaverseId: "mv-f" },
      { connector: "corp.example.com", anchor: stored.objectGuid, metaverseId: "mv-f", linkRules: [`${ACCOUNT}corp.example.com`], domain: "corp.example.com", distinguishedName: stored.distinguishedName },
    ]);
    const resolver = new AccountResolver({ store, locator: d });
    assert.equal((await resolver.resolve("User_f", randomBytes(16))).kind, "found", "the store's answer when the anchor matches nothing live");
    d.setReachable(false, "res.example.net");
    await assert.rejects(resolver.resolve("User_unknown", randomBytes(16)), (e: unknown) => e instanceof AppError && e.code === "ONPREM_DIRECTORY_UNAVAILABLE");
    // The account is enabled in the forest that answers: used.
    const sa = randomBytes(16);
    d.addUser("corp.example.com", { sAMAccountName: "gina", msDsConsistencyGuid: sa });
    assert.equal((await resolver.resolve("User_g", sa)).kind, "found");
  });

  test("without a source anchor (or a locator) the sync store decides, as before", async () => {
    const d = twoForests();
    const sa = randomBytes(16);
    d.addUser("corp.example.com", { sAMAccountName: "hank", msDsConsistencyGuid: sa });
    const store = await FileSyncStore.open(join(tempDir(), "s.json"));
    assert.equal((await new AccountResolver({ store, locator: d }).resolve("User_h")).kind, "notFound");
    assert.equal((await new AccountResolver({ store }).resolve("User_h", sa)).kind, "notFound");
  });
});

describe("DirectorySync: the store follows AD (embedded directory)", () => {
  async function setUp() {
    const d = twoForests();
    const file = join(tempDir(), "sync.json");
    const store = await FileSyncStore.open(file);
    const sync = new DirectorySync({ store, source: d });
    return { d, file, store, sync };
  }

  test("imported cloud users are joined to their AD accounts; the enabled one carries the AccountEnabled rule", async () => {
    const { d, store, sync } = await setUp();
    const sa = randomBytes(16);
    const account = d.addUser("corp.example.com", { sAMAccountName: "alice", msDsConsistencyGuid: sa });
    const resource = d.addUser("res.example.net", { sAMAccountName: "alice-mbx", msDsConsistencyGuid: sa, disabled: true });
    const lone = d.addUser("corp.example.com", { sAMAccountName: "bob" });
    await store.apply({ upsert: cloudObjectsOf([{ cloudAnchor: "User_a", sourceAnchor: anchorOf(sa) }, { cloudAnchor: "User_b", sourceAnchor: anchorOf(guidToAdBytes(lone.objectGuid)) }, { cloudAnchor: "User_ghost", sourceAnchor: anchorOf(randomBytes(16)) }]) });
    const report = await sync.refresh();
    assert.deepEqual(
      report.domains.map((x) => [x.domain, x.mode, x.joined, x.removed]),
      [
        ["corp.example.com", "full", 2, 0],
        ["res.example.net", "full", 1, 0],
      ],
    );
    assert.equal(report.usersRead, 3);
    assert.deepEqual([report.linked, report.unmatched, report.inSeveralForests], [2, 1, 1]);
    assert.deepEqual(store.get("corp.example.com", account.objectGuid)?.linkRules, [`${ACCOUNT}corp.example.com`]);
    assert.deepEqual(store.get("res.example.net", resource.objectGuid)?.linkRules, [`${COMMON}res.example.net`]);
    const r = await store.resolve("User_a");
    assert.equal(r.kind === "found" ? r.objectGuid : undefined, account.objectGuid);
    assert.equal((await store.resolve("User_ghost")).kind, "notFound");
  });

  test("an import naming the forest makes that forest's object the account, whatever is enabled", async () => {
    const { d, store, sync } = await setUp();
    const sa = randomBytes(16);
    d.addUser("corp.example.com", { sAMAccountName: "ivy", msDsConsistencyGuid: sa });
    const named = d.addUser("res.example.net", { sAMAccountName: "ivy2", msDsConsistencyGuid: sa });
    await store.apply({ upsert: cloudObjectsOf([{ cloudAnchor: "User_i", sourceAnchor: anchorOf(sa), forest: "RES.example.net" }]) });
    await sync.refresh();
    const r = await store.resolve("User_i");
    assert.equal(r.kind === "found" ? r.objectGuid : undefined, named.objectGuid);
  });

  test("incremental refresh: a new user is joined, a moved user gets its new DN, a deleted one is removed — without reading everyone", async () => {
    const { d, store, sync } = await setUp();
    const saNew = randomBytes(16);
    const saMoved = randomBytes(16);
    const saGone = randomBytes(16);
    for (let i = 0; i < 50; i++) d.addUser("corp.example.com", { sAMAccountName: `filler${i}` });
    const moved = d.addUser("corp.example.com", { sAMAccountName: "mover", msDsConsistencyGuid: saMoved });
    const gone = d.addUser("corp.example.com", { sAMAccountName: "leaver", msDsConsistencyGuid: saGone });
    await store.apply({ upsert: cloudObjectsOf([saNew, saMoved, saGone].map((sa, i) => ({ cloudAnchor: `User_${i}`, sourceAnchor: anchorOf(sa) }))) });
    const first = await sync.refresh();
    assert.equal(first.usersRead, 52);
    assert.equal((await store.resolve("User_0")).kind, "notFound");

    const created = d.addUser("corp.example.com", { sAMAccountName: "joiner", msDsConsistencyGuid: saNew });
    d.moveUser(moved, "CN=mover,OU=Moved,DC=corp,DC=example,DC=com");
    d.deleteUser(gone);
    const second = await sync.refresh();
    const corp = second.domains.find((x) => x.domain === "corp.example.com");
    assert.deepEqual([corp?.mode, corp?.usersRead, corp?.joined, corp?.removed], ["incremental", 2, 2, 1]);
    const joined = await store.resolve("User_0");
    assert.equal(joined.kind === "found" ? joined.objectGuid : undefined, created.objectGuid);
    const movedNow = await store.resolve("User_1");
    assert.equal(movedNow.kind === "found" ? movedNow.distinguishedName : undefined, "CN=mover,OU=Moved,DC=corp,DC=example,DC=com");
    assert.equal((await store.resolve("User_2")).kind, "notFound");
    // Nothing changed: nothing read.
    assert.equal((await sync.refresh()).usersRead, 0);
  });

  test("a watermark from another directory instance (another DC) means a full read, which also removes what is gone", async () => {
    const { d, file, store, sync } = await setUp();
    const sa = randomBytes(16);
    const u = d.addUser("corp.example.com", { sAMAccountName: "jo", msDsConsistencyGuid: sa });
    await store.apply({ upsert: cloudObjectsOf([{ cloudAnchor: "User_j", sourceAnchor: anchorOf(sa) }]) });
    await sync.refresh();
    assert.equal((await store.resolve("User_j")).kind, "found");
    // Another "DC" without jo (and without a tombstone for it): the old watermark does not apply there.
    const other = twoForests();
    other.addUser("corp.example.com", { sAMAccountName: "someone" });
    const report = await new DirectorySync({ store, source: other }).refresh();
    assert.equal(report.domains[0]?.mode, "full");
    assert.equal(store.get("corp.example.com", u.objectGuid), undefined);
    assert.equal((await store.resolve("User_j")).kind, "notFound");
    // Watermarks are kept in the store file.
    assert.ok((JSON.parse(readFileSync(file, "utf8")) as { watermarks: Record<string, string> }).watermarks["corp.example.com"]);
  });

  test("connector-space objects imported as they are (another metaverse scheme) are never changed or removed by a refresh", async () => {
    const { d, store, sync } = await setUp();
    const u = d.addUser("corp.example.com", { sAMAccountName: "kept", msDsConsistencyGuid: randomBytes(16) });
    const imported = [
      { connector: "aad", anchor: "User_kept", metaverseId: "mv-kept" },
      { connector: "corp.example.com", anchor: u.objectGuid, metaverseId: "mv-kept", linkRules: [`${ACCOUNT}corp.example.com`], domain: "corp.example.com", distinguishedName: u.distinguishedName },
      // An AD object of a user AD no longer has: still the import's to manage.
      { connector: "corp.example.com", anchor: randomUUID(), metaverseId: "mv-gone", linkRules: [`${ACCOUNT}corp.example.com`], domain: "corp.example.com", distinguishedName: "CN=gone,DC=corp,DC=example,DC=com" },
    ];
    await store.upsert(imported);
    await sync.refresh();
    d.moveUser(u, "CN=kept,OU=Elsewhere,DC=corp,DC=example,DC=com");
    await sync.refresh();
    await sync.refresh({ full: true });
    assert.equal(store.size, 3);
    const r = await store.resolve("User_kept");
    assert.equal(r.kind === "found" ? r.objectGuid : undefined, u.objectGuid);
  });

  test("reloadIfChanged picks up another process's write; a bad file leaves the store as it was", async () => {
    const { file, store } = await setUp();
    await store.apply({ upsert: cloudObjectsOf([{ cloudAnchor: "User_k", sourceAnchor: anchorOf(randomBytes(16)) }]) });
    assert.equal(await store.reloadIfChanged(), false);
    const other = await FileSyncStore.open(file);
    await other.apply({ upsert: cloudObjectsOf([{ cloudAnchor: "User_l", sourceAnchor: anchorOf(randomBytes(16)) }]) });
    assert.equal(await store.reloadIfChanged(), true);
    assert.equal(store.size, 2);
    writeFileSync(file, "{ not json");
    await assert.rejects(store.reloadIfChanged(), SyncFileError);
    assert.equal(store.size, 2);
  });

  test("progress is reported every N users on long reads", async () => {
    const d = twoForests();
    for (let i = 0; i < 25; i++) d.addUser("corp.example.com", { sAMAccountName: `p${i}` });
    const seen: number[] = [];
    const store = await FileSyncStore.open(join(tempDir(), "s.json"));
    await new DirectorySync({ store, source: d, progressEvery: 10, onProgress: (p) => seen.push(p.usersRead) }).refresh();
    assert.deepEqual(seen, [10, 20]);
  });
});

describe("import files", () => {
  const sa = () => randomBytes(16).toString("base64");

  test("CSV export of the cloud's users: header names matched case-insensitively, quotes, BOM, cloud-only rows skipped", async () => {
    const [a, b] = [sa(), sa()];
    const id = randomUUID();
    const file = join(tempDir(), "users.csv");
    writeFileSync(file, `\ufeffId,displayName,OnPremisesImmutableId\r\n${id},"Anders, Alice ""Al""",${a}\r\n${randomUUID()},Cloud Only,\r\n"${randomUUID()}",Bob,${b}\r\n`);
    const r = await readImportFile(file);
    assert.equal(r.format, "cloud-csv");
    assert.equal(r.skipped, 1);
    assert.deepEqual(r.anchors[0], { cloudAnchor: `User_${id}`, sourceAnchor: a });
    assert.equal(r.anchors.length, 2);
    assert.deepEqual(parseCsv('x,"a\nb",y\n'), [["x", "a\nb", "y"]]);
  });

  test("JSON as Microsoft Graph returns it, or a plain array; an explicit cloudAnchor wins over id", async () => {
    const a = sa();
    const id = randomUUID();
    const graph = join(tempDir(), "users.json");
    writeFileSync(graph, JSON.stringify({ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,onPremisesImmutableId)", value: [{ id, onPremisesImmutableId: a }, { id: randomUUID(), onPremisesImmutableId: null }] }));
    const r = await readImportFile(graph);
    assert.equal(r.format, "cloud-json");
    assert.deepEqual(r.anchors, [{ cloudAnchor: `User_${id}`, sourceAnchor: a }]);
    assert.equal(r.skipped, 1);
    const plain = join(tempDir(), "users.json");
    writeFileSync(plain, JSON.stringify([{ id, cloudAnchor: "User_custom", onPremisesImmutableId: a, forest: "corp.example.com" }]));
    assert.deepEqual((await readImportFile(plain)).anchors, [{ cloudAnchor: "User_custom", sourceAnchor: a, forest: "corp.example.com" }]);
  });

  test("the documented sync import format; bad rows are refused naming the row and field, never the value", async () => {
    const a = sa();
    const file = join(tempDir(), "import.json");
    writeFileSync(file, JSON.stringify({ version: 1, cloudAnchors: [{ cloudAnchor: "User_s", sourceAnchor: a }] }));
    const r = await readImportFile(file);
    assert.equal(r.format, "sync");
    assert.equal(r.anchors.length, 1);
    const bad = join(tempDir(), "bad.csv");
    writeFileSync(bad, `id,onPremisesImmutableId\n${randomUUID()},c2VjcmV0LXZhbHVl\n`);
    await assert.rejects(readImportFile(bad), (e: unknown) => e instanceof SyncFileError && /row 2/.test(e.message) && /sourceAnchor/.test(e.message) && !e.message.includes("c2VjcmV0LXZhbHVl"));
    const noHeader = join(tempDir(), "h.csv");
    writeFileSync(noHeader, "name,mail\nx,y\n");
    await assert.rejects(readImportFile(noHeader), /header row/);
  });
});
