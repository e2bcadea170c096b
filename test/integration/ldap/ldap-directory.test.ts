/**
 * The LDAPS adapter against a real Samba AD DC (test/support/samba.global.ts starts one per
 * run; run alone, this file starts its own). Without samba-tool or root the whole suite is
 * reported as skipped with the reason, never as passed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, test } from "vitest";
import { Attribute, Change, Client } from "ldapts";
import { AgentKeyStore } from "../../../agent/core/agent-key-store.js";
import { CloudClock } from "../../../agent/core/cloud-clock.js";
import { RequestProcessor } from "../../../agent/core/request-processor.js";
import { AgentConfigError } from "../../../agent/config/agent-config.js";
import type { AccountRef } from "../../../agent/directory/directory.port.js";
import { SdFlagsControl } from "../../../agent/directory/ldap/ad-controls.js";
import { toDirectoryError } from "../../../agent/directory/ldap/ad-errors.js";
import { LdapDirectory, type LdapDirectoryOptions } from "../../../agent/directory/ldap/ldap-directory.js";
import { zeroingTlsConnect } from "../../../agent/directory/ldap/tls-zeroing.js";
import { cloudObjectsOf } from "../../../agent/sync/cloud-user-import.js";
import { DirectorySync } from "../../../agent/sync/directory-sync.js";
import { FileSyncStore } from "../../../agent/sync/file-sync-store.js";
import { adBytesToGuid, guidToAdBytes } from "../../../agent/sync/source-anchor.js";
import { AppError } from "../../../shared/errors/app-error.js";
import type { LogFields, Logger } from "../../../shared/ports/logger.port.js";
import { openReply, sealRequest, type PasswordReply } from "../../../shared/protocol/envelope.js";
import { startImpersonatingProxy, type ImpersonatingProxy } from "../../support/ldap-impersonating-proxy.js";
import { findSecrets } from "../../support/secret-scan.js";
import { addUser, runSamba, sambaUnavailableReason, startSambaAd, strongPassword, type SambaEnv, type SambaHandle } from "../../support/samba.js";
import { testSigningKey } from "../../support/backend-signer.js";

// ------------------------------------------------------------ the Samba instance (or why not)

let own: SambaHandle | undefined;
const run = runSamba();
let samba: SambaEnv | undefined = run.env;
let skip: string | undefined = run.unavailable;
const startError = run.startError;
if (samba === undefined && skip === undefined && startError === undefined) {
  // No DC from the run's global setup: start our own instance.
  skip = sambaUnavailableReason();
  if (skip === undefined) {
    own = await startSambaAd();
    samba = own.env;
  }
}
if (skip !== undefined) console.log(`[samba] NOTICE: Samba AD integration tests SKIPPED: ${skip}`);
afterAll(async () => {
  await own?.stop();
});

const suite = { skip: skip !== undefined } as const;
// Counted as a skipped test in the summary, not only as a skipped suite; its name says why.
if (skip !== undefined) test.skip(`Samba AD integration tests (Samba AD not available: ${skip})`, () => {});
const env = (): SambaEnv => {
  if (startError !== undefined) assert.fail(`Samba AD is installed but did not start: ${startError}`);
  assert.ok(samba, "Samba AD settings");
  return samba;
};

// ------------------------------------------------------------ helpers

/** Everything thrown, logged or reported, scanned for secrets and DNs at the end. */
const seen: string[] = [];
const secrets: string[] = [];
const directories: LdapDirectory[] = [];

class CapturingLogger implements Logger {
  readonly lines: string[] = [];
  info = (m: string, f?: LogFields) => this.push("info", m, f);
  warn = (m: string, f?: LogFields) => this.push("warn", m, f);
  error = (m: string, f?: LogFields) => this.push("error", m, f);
  private push(level: string, m: string, f?: LogFields) {
    const line = JSON.stringify({ level, m, f });
    this.lines.push(line);
    seen.push(line);
  }
}

const pw = (s: string): Buffer => Buffer.from(s, "utf8");

function directory(o: { urls?: string[]; preferredDc?: string; bindDn?: string; bindPassword?: string; timeoutMs?: number; logger?: Logger } & LdapDirectoryOptions = {}): LdapDirectory {
  const e = env();
  const d = new LdapDirectory(
    [
      {
        domain: e.domain,
        urls: o.urls ?? [e.url],
        preferredDc: o.preferredDc,
        bindDn: o.bindDn ?? e.bindDn,
        bindPassword: o.bindPassword ?? e.bindPassword,
        ca: readFileSync(e.caFile),
        servername: e.servername,
        timeoutMs: o.timeoutMs ?? 8000,
      },
    ],
    { logger: o.logger ?? new CapturingLogger(), ...(o.pageSize === undefined ? {} : { pageSize: o.pageSize }) },
  );
  directories.push(d);
  return d;
}

function client(): Client {
  const e = env();
  return new Client({ url: e.url, tlsOptions: { ca: readFileSync(e.caFile), servername: e.servername }, timeout: 15_000, connectTimeout: 5000 });
}

let adminSession: Client | undefined;
async function admin(): Promise<Client> {
  if (adminSession === undefined || !adminSession.isBound) {
    adminSession = client();
    await adminSession.bind(env().adminDn, env().adminPassword);
  }
  return adminSession;
}

afterAll(async () => {
  await Promise.all(directories.map((d) => d.close()));
  await adminSession?.unbind().catch(() => {});
});

interface TestUser {
  ref: AccountRef;
  dn: string;
  sam: string;
  password: string;
}

let userCounter = 0;
/** A fresh user in the delegated OU (or elsewhere), with a known password. */
async function newUser(o: { ou?: string; extra?: Record<string, string> } = {}): Promise<TestUser> {
  const sam = `t${++userCounter}${randomBytes(3).toString("hex")}`;
  const dn = `CN=${sam},${o.ou ?? env().usersOu}`;
  const password = strongPassword();
  secrets.push(password);
  const c = await admin();
  await addUser(c, dn, sam, password, o.extra);
  const entry = (await c.search(dn, { scope: "base", attributes: ["objectGUID"], explicitBufferAttributes: ["objectGUID"] })).searchEntries[0];
  assert.ok(entry);
  return { ref: { domain: env().domain, distinguishedName: dn, objectGuid: adBytesToGuid(entry.objectGUID as Buffer) }, dn, sam, password };
}

/** A simple bind as the user over LDAPS: "ok" or AD's bind data code (52e bad password, 775 locked, 773 must change). */
async function bindAs(dn: string, password: string): Promise<string> {
  const c = client();
  try {
    await c.bind(dn, password);
    return "ok";
  } catch (e) {
    const data = /data ([0-9a-f]+)/i.exec(e instanceof Error ? e.message : "");
    return data?.[1] ?? `error ${e instanceof Error ? e.message : "?"}`;
  } finally {
    await c.unbind().catch(() => {});
  }
}

async function attributes(dn: string, names: string[]): Promise<Record<string, string | undefined>> {
  const entry = (await (await admin()).search(dn, { scope: "base", attributes: names })).searchEntries[0];
  assert.ok(entry);
  return Object.fromEntries(names.map((n) => [n, (([v]) => (typeof v === "string" ? v : undefined))([entry[n]].flat())]));
}

async function lockOut(u: TestUser): Promise<void> {
  for (let i = 0; i < 3; i++) assert.equal(await bindAs(u.dn, "Wrong-Pass-0"), "52e");
  assert.equal(await bindAs(u.dn, u.password), "775");
}

async function rejects(p: Promise<unknown>, code: string, reason?: string): Promise<AppError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof AppError, `an AppError ${code}, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
  seen.push(caught.message);
  assert.equal(caught.code, code, caught.message);
  if (reason !== undefined) assert.equal(caught.reason, reason);
  return caught;
}

const noFlags = { unlockAccount: false, forceChangeAtNextLogon: false };

interface AgentCore {
  store: FileSyncStore;
  sync: DirectorySync;
  /** A sealed reset through the agent's RequestProcessor, with or without the user's source anchor; the opened reply. */
  reset(cloudAnchor: string, password: string, sourceAnchor?: Buffer): Promise<PasswordReply>;
  /** Precheck's policy request for this user; the opened reply. */
  policy(cloudAnchor: string, sourceAnchor?: Buffer): Promise<PasswordReply>;
}

/** The agent's core as `agent run` wires it: keys, sync store, the LDAP directory as writer and source-anchor locator, a DirectorySync. */
async function agentCore(o: { bindDn?: string; bindPassword?: string } = {}): Promise<AgentCore> {
  const tenantId = randomUUID();
  const agentKeys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keys = await AgentKeyStore.fromPrivateKey(agentKeys.privateKey, join(mkdtempSync(join(tmpdir(), "agent-ldap-")), "keys.json"));
  const packageKey = randomBytes(32);
  await keys.install(1, packageKey);
  const store = await FileSyncStore.open(join(mkdtempSync(join(tmpdir(), "agent-ldap-")), "sync.json"));
  const logger = new CapturingLogger();
  const dir = directory({ logger, ...o });
  const processor = new RequestProcessor({ tenantId, agentId: "agent-ldap", agentVersion: "9.9.9", keys, trust: testSigningKey(tenantId).trust, directory: dir, syncStore: store, locator: dir, logger, cloudClock: new CloudClock() });
  const send = async (operation: "reset" | "policy", cloudAnchor: string, password: string | undefined, sourceAnchor: Buffer | undefined) => {
      const now = new Date();
      const result = await processor.handle({
        body: sealRequest({
          tenantId,
          requestId: randomUUID(),
          operation,
          keyVersion: 1,
          issuedAt: now,
          expiresAt: new Date(now.getTime() + 120_000),
          traceId: randomUUID(),
          cloudAnchor,
          ...(sourceAnchor === undefined ? {} : { sourceAnchor }),
          initiator: { kind: "user", channel: "ssprPortal" },
          flags: { unlockAccount: true, forceChangeAtNextLogon: false, expired: false },
          packageKey,
          agentPublicKey: agentKeys.publicKey,
          ...(password === undefined ? {} : { newPassword: pw(password) }),
        }),
      });
      assert.equal(result.verdict, "applied");
      assert.ok(result.reply);
      return openReply(result.reply, tenantId, (v) => (v === 1 ? packageKey : undefined));
  };
  return {
    store,
    sync: new DirectorySync({ store, source: dir, logger }),
    reset: (cloudAnchor, password, sourceAnchor) => send("reset", cloudAnchor, password, sourceAnchor),
    policy: (cloudAnchor, sourceAnchor) => send("policy", cloudAnchor, undefined, sourceAnchor),
  };
}

/**
 * Lets `sid` read one object (RP, LC, RC): its DACL with one more allow ACE, written back with
 * the SD-flags control (DACL only). Like `dsacls <dn> /G <account>:GR` without samba-tool.
 */
async function grantRead(dn: string, sidBytes: Buffer): Promise<void> {
  const c = await admin();
  const entry = (await c.search(dn, { scope: "base", attributes: ["nTSecurityDescriptor"], explicitBufferAttributes: ["nTSecurityDescriptor"] }, [new SdFlagsControl()])).searchEntries[0];
  const sd = entry?.nTSecurityDescriptor;
  assert.ok(Buffer.isBuffer(sd));
  const daclAt = sd.readUInt32LE(16);
  const aclSize = sd.readUInt16LE(daclAt + 2);
  const count = sd.readUInt16LE(daclAt + 4);
  const ace = Buffer.alloc(8 + sidBytes.length);
  ace.writeUInt8(0, 0); // ACCESS_ALLOWED
  ace.writeUInt8(0, 1);
  ace.writeUInt16LE(ace.length, 2);
  ace.writeUInt32LE(0x10 | 0x4 | 0x20000, 4); // read property, list children, read control
  sidBytes.copy(ace, 8);
  const acl = Buffer.concat([sd.subarray(daclAt, daclAt + aclSize), ace]);
  acl.writeUInt16LE(acl.length, 2);
  acl.writeUInt16LE(count + 1, 4);
  const header = Buffer.alloc(20);
  header.writeUInt8(1, 0);
  header.writeUInt16LE(0x8004 | (sd.readUInt16LE(2) & 0x1400), 2); // self-relative, DACL present (+ its auto-inherit / protected bits)
  header.writeUInt32LE(20, 16);
  await c.modify(dn, [new Change({ operation: "replace", modification: new Attribute({ type: "nTSecurityDescriptor", values: [Buffer.concat([header, acl])] }) })], [new SdFlagsControl()]);
}

/** A local port nobody listens on (connections are refused). */
async function unusedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

/** What Entra Connect writes back on first sync: the source anchor into ms-DS-ConsistencyGuid. */
async function setConsistencyGuid(dn: string, value: Buffer): Promise<void> {
  await (await admin()).modify(dn, [new Change({ operation: "replace", modification: new Attribute({ type: "mS-DS-ConsistencyGuid", values: [value] }) })]);
}

// ------------------------------------------------------------ tests

describe("LDAP directory against Samba AD", suite, () => {
  beforeAll(() => {
    const e = env();
    secrets.push(e.bindPassword, e.adminPassword, e.plainPassword);
  });

  describe("readAccount", () => {
    test("finds the account by objectGUID: names, and not disabled, locked or protected", async () => {
      const u = await newUser();
      const state = await directory().readAccount(u.ref);
      assert.ok(state);
      assert.deepEqual(state, { ref: u.ref, sAMAccountName: u.sam, userPrincipalName: `${u.sam}@${env().domain}`, protected: false, disabled: false, lockedOut: false });
      assert.equal(await directory().readAccount({ ...u.ref, objectGuid: randomUUID() }), undefined);
    });

    test("disabled (userAccountControl 0x2), locked (lockout after bad binds) and protected (adminCount=1)", async () => {
      const dir = directory();
      const disabled = await newUser();
      await (await admin()).modify(disabled.dn, new Change({ operation: "replace", modification: new Attribute({ type: "userAccountControl", values: ["514"] }) }));
      const locked = await newUser();
      await lockOut(locked);
      const prot = await newUser({ extra: { adminCount: "1" } });
      assert.equal((await dir.readAccount(disabled.ref))?.disabled, true);
      assert.equal((await dir.readAccount(locked.ref))?.lockedOut, true);
      assert.equal((await dir.readAccount(prot.ref))?.protected, true);
      assert.equal((await dir.readAccount(prot.ref))?.lockedOut, false);
    });
  });

  describe("protected groups, before SDProp stamps adminCount", () => {
    const domainAdmins = () => `CN=Domain Admins,CN=Users,${env().baseDn}`;
    const addMember = async (group: string, member: string) => (await admin()).modify(group, new Change({ operation: "add", modification: new Attribute({ type: "member", values: [member] }) }));

    test("a user just added to Domain Admins, or to a group nested in it, is protected at once; adminCount is still unset", async () => {
      const dir = directory();
      const direct = await newUser();
      const nested = await newUser();
      const ordinary = await newUser();
      assert.equal((await dir.readAccount(direct.ref))?.protected, false, "not protected before");
      await addMember(domainAdmins(), direct.dn);
      const group = `CN=g${randomBytes(3).toString("hex")},${env().usersOu}`;
      await (await admin()).add(group, { objectClass: ["top", "group"], sAMAccountName: group.slice(3, 10) });
      await addMember(group, nested.dn);
      await addMember(domainAdmins(), group);
      for (const u of [direct, nested]) {
        assert.equal((await attributes(u.dn, ["adminCount"])).adminCount, undefined, "SDProp has not run: adminCount alone would let it through");
        assert.equal((await dir.readAccount(u.ref))?.protected, true, `${u.sam} is protected`);
      }
      assert.equal((await dir.readAccount(ordinary.ref))?.protected, false);
      // Builtin groups too: Account Operators.
      const operator = await newUser();
      await addMember(`CN=Account Operators,CN=Builtin,${env().baseDn}`, operator.dn);
      assert.equal((await dir.readAccount(operator.ref))?.protected, true);
    });

    test("end to end: the agent refuses a reset of a fresh Domain Admins member without a write; the password still binds", async () => {
      const fresh = await newUser();
      await addMember(domainAdmins(), fresh.dn);
      const agent = await agentCore();
      const rule = `Microsoft.InfromADUserAccountEnabled.${env().domain}`;
      await agent.store.upsert([
        { connector: "aad", anchor: "User_fresh_admin", metaverseId: "mv-fresh" },
        { connector: env().domain, anchor: fresh.ref.objectGuid, metaverseId: "mv-fresh", linkRules: [rule], domain: env().domain, distinguishedName: fresh.dn },
      ]);
      const next = strongPassword();
      secrets.push(next);
      assert.equal((await agent.reset("User_fresh_admin", next)).outcome, "PROTECTED_ACCOUNT");
      assert.equal(await bindAs(fresh.dn, fresh.password), "ok", "the old password still binds");
      assert.equal(await bindAs(fresh.dn, next), "52e", "the new one was never set");
      await agent.store.close();
    });
  });

  describe("admin reset", () => {
    test("sets the password: the new one binds, the old one no longer does", async () => {
      const u = await newUser();
      const next = strongPassword();
      secrets.push(next);
      await directory().resetPassword(u.ref, pw(next), noFlags);
      assert.equal(await bindAs(u.dn, next), "ok");
      assert.equal(await bindAs(u.dn, u.password), "52e");
    });

    test("with unlock: lockoutTime is cleared and the account binds with the new password", async () => {
      const u = await newUser();
      await lockOut(u);
      const dir = directory();
      assert.equal((await dir.readAccount(u.ref))?.lockedOut, true);
      const next = strongPassword();
      secrets.push(next);
      await dir.resetPassword(u.ref, pw(next), { unlockAccount: true, forceChangeAtNextLogon: false });
      assert.equal((await attributes(u.dn, ["lockoutTime"])).lockoutTime, "0");
      assert.equal((await dir.readAccount(u.ref))?.lockedOut, false);
      assert.equal(await bindAs(u.dn, next), "ok");
    });

    test("with force change: pwdLastSet=0 and a bind answers 773 (must change)", async () => {
      const u = await newUser();
      const next = strongPassword();
      secrets.push(next);
      await directory().resetPassword(u.ref, pw(next), { unlockAccount: false, forceChangeAtNextLogon: true });
      assert.equal((await attributes(u.dn, ["pwdLastSet"])).pwdLastSet, "0");
      assert.equal(await bindAs(u.dn, next), "773");
    });

    test("policy violations: too short and complexity, with the reason; nothing of the modify is applied", async () => {
      const u = await newUser();
      await lockOut(u);
      const before = await attributes(u.dn, ["pwdLastSet", "lockoutTime"]);
      const dir = directory();
      await rejects(dir.resetPassword(u.ref, pw("Ab1-"), { unlockAccount: true, forceChangeAtNextLogon: true }), "PASSWORD_POLICY_VIOLATION", "tooShort");
      await rejects(dir.resetPassword(u.ref, pw("alllowercaseletters"), { unlockAccount: true, forceChangeAtNextLogon: true }), "PASSWORD_POLICY_VIOLATION", "complexity");
      // One modify: the refused password left lockoutTime and pwdLastSet as they were.
      assert.deepEqual(await attributes(u.dn, ["pwdLastSet", "lockoutTime"]), before);
      assert.equal((await dir.readAccount(u.ref))?.lockedOut, true);
      await dir.unlockAccount(u.ref);
      assert.equal(await bindAs(u.dn, u.password), "ok");
    });

    test("history on reset: the policy-hints control goes out non-critical; Samba ignores it (real AD enforces it)", async () => {
      const u = await newUser();
      // Samba accepts a reset to the current password despite history 3: documented, and the
      // embedded directory proves the enforcement the adapter asks AD for.
      await directory().resetPassword(u.ref, pw(u.password), noFlags);
      assert.equal(await bindAs(u.dn, u.password), "ok");
    });

    test("a removed account: USER_NOT_FOUND", async () => {
      const u = await newUser();
      await (await admin()).del(u.dn);
      await rejects(directory().resetPassword(u.ref, pw(strongPassword()), noFlags), "USER_NOT_FOUND");
    });
  });

  describe("user change", () => {
    test("the wrong current password: WRONG_CURRENT_PASSWORD, and the old password still binds", async () => {
      const u = await newUser();
      await rejects(directory().changePassword(u.ref, pw("Not-The-Pass-1"), pw(strongPassword())), "WRONG_CURRENT_PASSWORD");
      assert.equal(await bindAs(u.dn, u.password), "ok");
    });

    test("the right current password: changed; then history and length refused with their reasons", async () => {
      const u = await newUser();
      const dir = directory();
      const next = strongPassword();
      secrets.push(next);
      await dir.changePassword(u.ref, pw(u.password), pw(next));
      assert.equal(await bindAs(u.dn, next), "ok");
      await rejects(dir.changePassword(u.ref, pw(next), pw(u.password)), "PASSWORD_POLICY_VIOLATION", "history");
      await rejects(dir.changePassword(u.ref, pw(next), pw("Sh0rt!")), "PASSWORD_POLICY_VIOLATION", "tooShort");
      assert.equal(await bindAs(u.dn, next), "ok");
    });

    test("minimum age: a change too soon after the last one is refused (minimumAge)", async () => {
      const u = await newUser();
      const c = await admin();
      const setMinAge = (ticks: string) => c.modify(env().baseDn, new Change({ operation: "replace", modification: new Attribute({ type: "minPwdAge", values: [ticks] }) }));
      await setMinAge("-864000000000"); // one day
      try {
        await rejects(directory().changePassword(u.ref, pw(u.password), pw(strongPassword())), "PASSWORD_POLICY_VIOLATION", "minimumAge");
      } finally {
        await setMinAge("0");
      }
      assert.equal(await bindAs(u.dn, u.password), "ok");
    });

    test("a locked account: ACCOUNT_LOCKED; a disabled one: ACCOUNT_DISABLED", async () => {
      const dir = directory();
      const locked = await newUser();
      await lockOut(locked);
      await rejects(dir.changePassword(locked.ref, pw(locked.password), pw(strongPassword())), "ACCOUNT_LOCKED");
      const disabled = await newUser();
      await (await admin()).modify(disabled.dn, new Change({ operation: "replace", modification: new Attribute({ type: "userAccountControl", values: ["514"] }) }));
      await rejects(dir.changePassword(disabled.ref, pw(disabled.password), pw(strongPassword())), "ACCOUNT_DISABLED");
    });
  });

  test("unlockAccount: lockoutTime=0, the account binds again", async () => {
    const u = await newUser();
    await lockOut(u);
    await directory().unlockAccount(u.ref);
    assert.equal((await attributes(u.dn, ["lockoutTime"])).lockoutTime, "0");
    assert.equal(await bindAs(u.dn, u.password), "ok");
  });

  test("insufficient rights: ONPREM_PERMISSION_DENIED (unprivileged account; service account outside its OU), nothing changed", async () => {
    const inside = await newUser();
    const outside = await newUser({ ou: `CN=Users,${env().baseDn}` });
    const plain = directory({ bindDn: env().plainDn, bindPassword: env().plainPassword });
    assert.equal((await plain.readAccount(inside.ref))?.sAMAccountName, inside.sam, "reading needs no rights");
    await rejects(plain.resetPassword(inside.ref, pw(strongPassword()), noFlags), "ONPREM_PERMISSION_DENIED");
    await rejects(plain.unlockAccount(inside.ref), "ONPREM_PERMISSION_DENIED");
    await rejects(directory().resetPassword(outside.ref, pw(strongPassword()), { unlockAccount: true, forceChangeAtNextLogon: true }), "ONPREM_PERMISSION_DENIED");
    assert.equal(await bindAs(inside.dn, inside.password), "ok");
    assert.equal(await bindAs(outside.dn, outside.password), "ok");
  });

  test("a refused service-account bind is a configuration error, not the user's state", async () => {
    const u = await newUser();
    const wrong = strongPassword();
    secrets.push(wrong);
    await rejects(directory({ bindPassword: wrong }).readAccount(u.ref), "ONPREM_CONFIGURATION_ERROR");
  });

  test("plain LDAP is refused: the adapter takes ldaps:// only, and Samba refuses a simple bind on 389", async () => {
    assert.throws(() => directory({ urls: ["ldap://127.0.0.1:389"] }), AgentConfigError);
    const plain = new Client({ url: "ldap://127.0.0.1:389", timeout: 5000, connectTimeout: 5000 });
    try {
      await assert.rejects(plain.bind(env().adminDn, env().adminPassword), (e: unknown) => {
        const mapped = toDirectoryError(e, "bind");
        seen.push(mapped.message);
        return mapped.code === "ONPREM_CONFIGURATION_ERROR" && /Transport encryption required/i.test(e instanceof Error ? e.message : "");
      });
    } finally {
      await plain.unbind().catch(() => {});
    }
  });

  describe("connectivity", () => {
    let silent: Server;
    const held: Socket[] = [];
    let silentPort = 0;
    let closedPort = 0;
    beforeAll(async () => {
      // A DC that accepts TCP and never answers (TLS hangs), and a port nobody listens on.
      silent = createServer((s) => held.push(s));
      await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
      silentPort = (silent.address() as { port: number }).port;
      closedPort = await unusedPort();
    });
    afterAll(async () => {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });

    test("unreachable DC: ONPREM_DIRECTORY_UNAVAILABLE, within the timeout; health says unreachable", async () => {
      const u = await newUser();
      const refused = directory({ urls: [`ldaps://127.0.0.1:${closedPort}`], timeoutMs: 1000 });
      await rejects(refused.readAccount(u.ref), "ONPREM_DIRECTORY_UNAVAILABLE");
      const hanging = directory({ urls: [`ldaps://127.0.0.1:${silentPort}`], timeoutMs: 1000 });
      const started = Date.now();
      await rejects(hanging.resetPassword(u.ref, pw(strongPassword()), noFlags), "ONPREM_DIRECTORY_UNAVAILABLE");
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 900 && elapsed < 4000, `gave up after ${elapsed} ms`);
      const [health] = await hanging.health();
      assert.equal(health?.status, "unreachable");
      seen.push(health?.detail ?? "");
      assert.equal(await bindAs(u.dn, u.password), "ok");
    });

    test("failover: a dead URL first, the live DC next; preferredDc puts the live one first", async () => {
      const u = await newUser();
      const logger = new CapturingLogger();
      const dir = directory({ urls: [`ldaps://127.0.0.1:${closedPort}`, `ldaps://127.0.0.1:${silentPort}`, env().url], timeoutMs: 1000, logger });
      assert.equal((await dir.readAccount(u.ref))?.sAMAccountName, u.sam);
      assert.ok(logger.lines.some((l) => l.includes("failover")), "the failover is logged");
      const preferred = new CapturingLogger();
      const dir2 = directory({ urls: [`ldaps://127.0.0.1:${closedPort}`, env().url], preferredDc: env().url, logger: preferred });
      assert.equal((await dir2.readAccount(u.ref))?.sAMAccountName, u.sam);
      assert.deepEqual(preferred.lines, [], "the preferred DC answered first");
      const [health] = await dir2.health();
      assert.equal(health?.status, "healthy");
      assert.match(health?.detail ?? "", /dc1\.writeback\.test \(the PDC emulator\)/);
    });

    test("a broken session is replaced: the next read reconnects transparently", async () => {
      const u = await newUser();
      // A TCP relay to the DC whose connections the test can cut.
      const upstream = new URL(env().url);
      const sockets: Socket[] = [];
      const relay = createServer((s) => {
        const up = netConnect(Number(upstream.port || 636), upstream.hostname);
        sockets.push(s, up);
        s.pipe(up).pipe(s);
        s.on("error", () => up.destroy());
        up.on("error", () => s.destroy());
      });
      await new Promise<void>((r) => relay.listen(0, "127.0.0.1", () => r()));
      try {
        const port = (relay.address() as { port: number }).port;
        const logger = new CapturingLogger();
        const dir = directory({ urls: [`ldaps://127.0.0.1:${port}`], logger });
        assert.equal((await dir.readAccount(u.ref))?.sAMAccountName, u.sam);
        for (const s of sockets.splice(0)) s.destroy();
        await new Promise((r) => setTimeout(r, 50));
        assert.equal((await dir.readAccount(u.ref))?.sAMAccountName, u.sam);
        const next = strongPassword();
        secrets.push(next);
        await dir.resetPassword(u.ref, pw(next), noFlags);
        assert.equal(await bindAs(u.dn, next), "ok");
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => relay.close(() => r()));
      }
    });
  });

  describe("PDC emulator: writes go there", () => {
    /** Samba's own answer: fSMORoleOwner of the domain object, then dNSHostName of that server object. */
    async function sambaPdc(): Promise<{ owner: string; host: string }> {
      const c = await admin();
      const domain = (await c.search(env().baseDn, { scope: "base", attributes: ["fSMORoleOwner"] })).searchEntries[0];
      const owner = domain?.fSMORoleOwner;
      assert.ok(typeof owner === "string", "fSMORoleOwner on the domain object");
      const server = (await c.search(owner.replace(/^CN=NTDS Settings,/i, ""), { scope: "base", attributes: ["dNSHostName"] })).searchEntries[0];
      const host = server?.dNSHostName;
      assert.ok(typeof host === "string", "dNSHostName on the PDC's server object");
      return { owner, host };
    }

    // Samba's certificate and key sit next to its CA: the proxy presents the DC's own certificate.
    let proxy: ImpersonatingProxy;
    beforeAll(async () => {
      const e = env();
      const tls = dirname(e.caFile);
      const upstream = new URL(e.url);
      proxy = await startImpersonatingProxy({
        upstream: { host: upstream.hostname, port: Number(upstream.port || 636), ca: readFileSync(e.caFile), servername: e.servername },
        key: readFileSync(join(tls, "key.pem")),
        cert: readFileSync(join(tls, "cert.pem")),
        claim: ["dc1.writeback.test", "dc2.writeback.test"],
      });
    });
    afterAll(async () => {
      await proxy.close();
    });

    test("the discovered PDC emulator of writeback.test is dc1, the DC Samba names in fSMORoleOwner", async () => {
      const { owner, host } = await sambaPdc();
      assert.match(owner, /^CN=NTDS Settings,CN=DC1,CN=Servers,/i);
      assert.equal(host.toLowerCase(), "dc1.writeback.test");
      // samba-tool's own view of the role, from the DC's database.
      const fsmo = spawnSync("samba-tool", ["fsmo", "show", "-H", join(dirname(dirname(env().caFile)), "sam.ldb")], { encoding: "utf8", timeout: 60_000 });
      assert.equal(fsmo.status, 0, fsmo.stderr);
      assert.ok(fsmo.stdout.toLowerCase().includes(`pdcemulationmasterrole owner: ${owner.toLowerCase()}`), fsmo.stdout);
      const dir = directory();
      assert.equal((await dir.pdcEmulator(env().domain)).toLowerCase(), host.toLowerCase());
      const [health] = await dir.health();
      assert.equal(health?.status, "healthy");
      assert.equal(health?.pdcEmulator?.host.toLowerCase(), host.toLowerCase());
      assert.equal(health?.pdcEmulator?.reachable, true);
    });

    test("the proxy passes for dc2: its rootDSE names dc2, and a modify through it is counted", async () => {
      const e = env();
      const c = new Client({ url: proxy.url, tlsOptions: { ca: readFileSync(e.caFile), servername: e.servername }, timeout: 15_000, connectTimeout: 5000 });
      try {
        await c.bind(e.adminDn, e.adminPassword);
        const root = (await c.search("", { scope: "base", attributes: ["dnsHostName"] })).searchEntries[0];
        assert.equal(String(root?.dnsHostName).toLowerCase(), "dc2.writeback.test");
        const u = await newUser();
        const before = proxy.requests.modify;
        await c.modify(u.dn, new Change({ operation: "replace", modification: new Attribute({ type: "description", values: ["via the proxy"] }) }));
        assert.equal(proxy.requests.modify, before + 1);
        assert.equal((await attributes(u.dn, ["description"])).description, "via the proxy");
      } finally {
        await c.unbind().catch(() => {});
      }
    });

    test("reads on a preferred DC that is not the PDC; reset, change and unlock land on the PDC (none through the other DC)", async () => {
      const u = await newUser();
      const logger = new CapturingLogger();
      const dir = directory({ urls: [env().url, proxy.url], preferredDc: proxy.url, logger });
      const connections = proxy.connections();
      const modifies = proxy.requests.modify;
      const searches = proxy.requests.search;
      assert.equal((await dir.readAccount(u.ref))?.sAMAccountName, u.sam);
      assert.equal(proxy.connections(), connections + 1, "the preferred DC (the proxy) serves reads");
      assert.ok(proxy.requests.search > searches);
      const [health] = await dir.health();
      seen.push(health?.detail ?? "");
      assert.equal(health?.status, "healthy");
      assert.match(health?.detail ?? "", /^connected to dc2\.writeback\.test; PDC emulator dc1\.writeback\.test reachable at ldaps:\/\/127\.0\.0\.1:636 /i);
      assert.deepEqual({ ...health?.pdcEmulator, host: health?.pdcEmulator?.host.toLowerCase() }, { host: "dc1.writeback.test", reachable: true });

      const next = strongPassword();
      secrets.push(next);
      await dir.resetPassword(u.ref, pw(next), noFlags);
      assert.equal(await bindAs(u.dn, next), "ok", "the new password is set");
      assert.equal(await bindAs(u.dn, u.password), "52e");
      const changed = strongPassword();
      secrets.push(changed);
      await dir.changePassword(u.ref, pw(next), pw(changed));
      assert.equal(await bindAs(u.dn, changed), "ok");
      await lockOut({ ...u, password: changed });
      await dir.unlockAccount(u.ref);
      assert.equal(await bindAs(u.dn, changed), "ok");
      assert.equal(proxy.requests.modify, modifies, "no write through the DC that is not the PDC");
      assert.equal(proxy.connections(), connections + 1);
    });

    test("only a DC that is not the PDC configured: the reset is refused (ONPREM_DIRECTORY_UNAVAILABLE), nothing written anywhere, the DC tried is logged", async () => {
      const u = await newUser();
      const logger = new CapturingLogger();
      const dir = directory({ urls: [proxy.url], logger });
      const modifies = proxy.requests.modify;
      const before = await attributes(u.dn, ["pwdLastSet"]);
      assert.equal((await dir.readAccount(u.ref))?.sAMAccountName, u.sam, "reads work");
      const error = await rejects(dir.resetPassword(u.ref, pw(strongPassword()), { unlockAccount: true, forceChangeAtNextLogon: true }), "ONPREM_DIRECTORY_UNAVAILABLE");
      assert.match(error.message, /dc1\.writeback\.test/i);
      assert.equal(proxy.requests.modify, modifies);
      assert.deepEqual(await attributes(u.dn, ["pwdLastSet"]), before);
      assert.equal(await bindAs(u.dn, u.password), "ok", "the password is unchanged");
      assert.ok(logger.lines.some((l) => l.includes("no configured URL reaches the PDC emulator") && /dc1\.writeback\.test/i.test(l)), logger.lines.join("\n"));
      const [health] = await dir.health();
      seen.push(health?.detail ?? "");
      assert.equal(health?.status, "degraded");
      assert.equal(health?.pdcEmulator?.reachable, false);
    });
  });

  test("listUsers pages through more users than AD's MaxPageSize (1000)", async () => {
    const dir = directory({ pageSize: 400 });
    const bulk = new Set<string>();
    let total = 0;
    for await (const user of dir.listUsers(env().domain)) {
      total += 1;
      assert.match(user.objectGuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      if (user.distinguishedName.endsWith(env().bulkOu)) bulk.add(user.sAMAccountName);
    }
    assert.equal(bulk.size, Number(env().bulkUsers));
    assert.ok(total > 1000, `${total} users`);
  });

  test("passwordPolicy reflects the samba-tool settings", async () => {
    assert.deepEqual(await directory().passwordPolicy(env().domain), {
      minLength: 7,
      complexity: true,
      historyLength: 3,
      minAgeSeconds: 0,
      maxAgeSeconds: 42 * 86_400,
      lockoutThreshold: 3,
      lockoutDurationSeconds: 30 * 60,
    });
    await rejects(directory().passwordPolicy("other.example"), "ONPREM_CONFIGURATION_ERROR");
  });

  test("end to end: the agent's RequestProcessor resets a password in Samba; a protected account is refused without a write", async () => {
    const u = await newUser();
    const prot = await newUser({ extra: { adminCount: "1" } });
    const agent = await agentCore();
    const rule = `Microsoft.InfromADUserAccountEnabled.${env().domain}`;
    for (const [anchor, user] of [["User_samba", u], ["User_protected", prot]] as const) {
      await agent.store.upsert([
        { connector: "aad", anchor, metaverseId: `mv-${anchor}` },
        { connector: env().domain, anchor: user.ref.objectGuid, metaverseId: `mv-${anchor}`, linkRules: [rule], domain: env().domain, distinguishedName: user.dn },
      ]);
    }
    const next = strongPassword();
    secrets.push(next);
    assert.equal((await agent.reset("User_samba", next)).outcome, "succeeded");
    assert.equal(await bindAs(u.dn, next), "ok");
    assert.equal((await agent.reset("User_protected", next)).outcome, "PROTECTED_ACCOUNT");
    assert.equal(await bindAs(prot.dn, prot.password), "ok");
    await agent.store.close();
  });

  test("fine-grained password policy applied to a group: the member's effective policy (readable once granted), enforced by AD; others get the domain's", async () => {
    const e = env();
    const c = await admin();
    const tag = randomBytes(3).toString("hex");
    const group = `CN=PSO-${tag},${e.usersOu}`;
    await c.add(group, { objectClass: ["top", "group"], sAMAccountName: `pso-${tag}` });
    const member = await newUser();
    const other = await newUser();
    await c.modify(group, [new Change({ operation: "add", modification: new Attribute({ type: "member", values: [member.dn] }) })]);
    const pso = `CN=Strict-${tag},CN=Password Settings Container,CN=System,${e.baseDn}`;
    const ticksPerSecond = 10_000_000;
    await c.add(pso, {
      objectClass: ["top", "msDS-PasswordSettings"],
      "msDS-PasswordSettingsPrecedence": "10",
      "msDS-PasswordReversibleEncryptionEnabled": "FALSE",
      "msDS-PasswordHistoryLength": "12",
      "msDS-PasswordComplexityEnabled": "TRUE",
      "msDS-MinimumPasswordLength": "14",
      "msDS-MinimumPasswordAge": "0",
      "msDS-MaximumPasswordAge": String(-30 * 86_400 * ticksPerSecond),
      "msDS-LockoutThreshold": "5",
      "msDS-LockoutObservationWindow": String(-1800 * ticksPerSecond),
      "msDS-LockoutDuration": String(-1800 * ticksPerSecond),
      "msDS-PSOAppliesTo": group,
    });
    const dir = directory();
    // AD's default: only administrators read PSOs. The agent says so instead of showing the domain's (looser) rules.
    await rejects(dir.effectivePolicy(member.ref), "ONPREM_PERMISSION_DENIED");
    const svc = (await c.search(e.bindDn, { scope: "base", attributes: ["objectSid"], explicitBufferAttributes: ["objectSid"] })).searchEntries[0]?.objectSid;
    assert.ok(Buffer.isBuffer(svc));
    await grantRead(pso, svc);
    const policy = await directory().effectivePolicy(member.ref);
    assert.deepEqual(policy, { minLength: 14, complexity: true, historyLength: 12, minAgeSeconds: 0, maxAgeSeconds: 30 * 86_400, lockoutThreshold: 5, lockoutDurationSeconds: 1800, source: "passwordSettingsObject", passwordSettingsObject: `Strict-${tag}` });
    const domain = await directory().effectivePolicy(other.ref);
    assert.equal(domain.source, "domain");
    assert.equal(domain.minLength, 7);

    // Through the agent, as precheck asks it (by source anchor here), and what AD then enforces.
    const agent = await agentCore();
    const asked = await agent.policy("User_pso", guidToAdBytes(member.ref.objectGuid));
    assert.equal(asked.outcome, "succeeded");
    assert.equal(asked.policy?.minLength, 14);
    assert.equal(asked.policy?.passwordSettingsObject, `Strict-${tag}`);
    const tenChars = "Ab-1234567";
    secrets.push(tenChars);
    const refused = await agent.reset("User_pso", tenChars, guidToAdBytes(member.ref.objectGuid));
    assert.deepEqual([refused.outcome, refused.reason], ["PASSWORD_POLICY_VIOLATION", "tooShort"]);
    assert.equal((await agent.reset("User_other", tenChars, guidToAdBytes(other.ref.objectGuid))).outcome, "succeeded", "the domain's 7 characters apply to the non-member");
    await agent.store.close();
  });

  describe("agent check: LDAPS to each DC, effective rights of the service account", () => {
    test("each configured DC is probed on its own; an unreachable one is reported, the others still ok", async () => {
      const closed = `ldaps://127.0.0.1:${await unusedPort()}`;
      const probes = await directory({ urls: [env().url, closed] }).probeDomainControllers(env().domain);
      assert.deepEqual(
        probes.map((p) => [p.url, p.ok]),
        [
          [env().url, true],
          [closed, false],
        ],
      );
      seen.push(...probes.map((p) => p.detail.replace(/^[^:]+: /, "")));
    });

    test("the delegated service account holds all four rights on the managed OU and on a user in it", async () => {
      const u = await newUser();
      for (const sample of [env().usersOu, u.dn]) {
        const r = await directory().checkRights(env().domain, sample);
        assert.equal(r.sampleKind, sample === u.dn ? "user" : "container");
        assert.deepEqual(
          r.rights.map((x) => [x.right, x.ok]),
          [
            ["Reset Password", true],
            ["Change Password", true],
            ["write lockoutTime", true],
            ["write pwdLastSet", true],
          ],
          sample,
        );
      }
    });

    test("an account without the delegation: FAIL with what to grant (Change Password is Everyone's on a user by default)", async () => {
      const u = await newUser();
      const plain = directory({ bindDn: env().plainDn, bindPassword: env().plainPassword });
      const onOu = await plain.checkRights(env().domain, env().usersOu);
      assert.deepEqual(
        onOu.rights.filter((x) => !x.ok).map((x) => x.right),
        ["Reset Password", "Change Password", "write lockoutTime", "write pwdLastSet"],
      );
      assert.match(onOu.rights[0]!.fix, /Reset password/);
      const onUser = await plain.checkRights(env().domain, u.dn);
      assert.deepEqual(
        onUser.rights.map((x) => [x.right, x.ok]),
        [
          ["Reset Password", false],
          ["Change Password", true],
          ["write lockoutTime", false],
          ["write pwdLastSet", false],
        ],
      );
      // Without a sample: some user the account can see (not itself, not protected).
      const picked = await directory().checkRights(env().domain);
      assert.equal(picked.sampleKind, "user");
      assert.notEqual(picked.sample.toLowerCase(), env().bindDn.toLowerCase());
    });
  });

  describe("users found without a hand-made store: live source anchor, sync refresh from AD", () => {
    const refreshModes: string[] = [];
    afterAll(() => console.log(`[samba sync] refresh modes seen: ${refreshModes.join(", ")}`));
    const refresh = async (agent: AgentCore) => {
      const report = await agent.sync.refresh();
      refreshModes.push(...report.domains.map((d) => `${d.mode} (${d.usersRead} read, ${report.durationMs} ms)`));
      return report;
    };
    const newPassword = () => {
      const p = strongPassword();
      secrets.push(p);
      return p;
    };

    test("a user created after the agent started is found without a restart (by source anchor at once; by cloud anchor after the next refresh)", async () => {
      const agent = await agentCore();
      const sa = randomBytes(16);
      await agent.store.apply({ upsert: cloudObjectsOf([{ cloudAnchor: "User_later", sourceAnchor: sa.toString("base64") }]) });
      const initial = await refresh(agent);
      assert.ok(initial.usersRead > 1000, `${initial.usersRead} users read`);
      assert.equal(initial.unmatched, 1);
      assert.equal((await agent.reset("User_later", newPassword())).outcome, "USER_NOT_FOUND");

      const u = await newUser();
      await setConsistencyGuid(u.dn, sa);
      const live = newPassword();
      assert.equal((await agent.reset("User_not_in_store", live, sa)).outcome, "succeeded");
      assert.equal(await bindAs(u.dn, live), "ok");

      const later = await refresh(agent);
      assert.ok(later.domains[0]!.joined >= 1);
      assert.equal(later.unmatched, 0);
      const stored = newPassword();
      assert.equal((await agent.reset("User_later", stored)).outcome, "succeeded");
      assert.equal(await bindAs(u.dn, stored), "ok");
      await agent.store.close();
    });

    test("a user moved to another OU is still written (bound by objectGUID), and the refresh records the new DN", async () => {
      const agent = await agentCore();
      const u = await newUser();
      const sa = randomBytes(16);
      await setConsistencyGuid(u.dn, sa);
      await agent.store.apply({ upsert: cloudObjectsOf([{ cloudAnchor: "User_mover", sourceAnchor: sa.toString("base64") }]) });
      await refresh(agent);
      const ou = `OU=Moved${randomBytes(3).toString("hex")},${env().usersOu}`;
      const c = await admin();
      await c.add(ou, { objectClass: ["top", "organizationalUnit"] });
      const movedDn = `CN=${u.sam},${ou}`;
      await c.modifyDN(u.dn, movedDn);

      const viaStore = newPassword();
      assert.equal((await agent.reset("User_mover", viaStore)).outcome, "succeeded", "the store's DN is stale, the GUID is not");
      assert.equal(await bindAs(movedDn, viaStore), "ok");
      await refresh(agent);
      const found = await agent.store.resolve("User_mover");
      assert.equal(found.kind === "found" ? found.distinguishedName.toLowerCase() : undefined, movedDn.toLowerCase());
      const viaAnchor = newPassword();
      assert.equal((await agent.reset("User_mover", viaAnchor, sa)).outcome, "succeeded");
      assert.equal(await bindAs(movedDn, viaAnchor), "ok");
      await agent.store.close();
    });

    test("a deleted user answers USER_NOT_FOUND (by cloud anchor and by source anchor), and the refresh removes it", async () => {
      const agent = await agentCore();
      const u = await newUser();
      const sa = randomBytes(16);
      await setConsistencyGuid(u.dn, sa);
      await agent.store.apply({ upsert: cloudObjectsOf([{ cloudAnchor: "User_leaver", sourceAnchor: sa.toString("base64") }]) });
      await refresh(agent);
      assert.ok(agent.store.get(env().domain, u.ref.objectGuid));
      await (await admin()).del(u.dn);

      assert.equal((await agent.reset("User_leaver", newPassword())).outcome, "USER_NOT_FOUND");
      assert.equal((await agent.reset("User_leaver", newPassword(), sa)).outcome, "USER_NOT_FOUND");
      // The service account may not read CN=Deleted Objects (AD's default): a full read, which sees the absence.
      const report = await refresh(agent);
      assert.equal(report.domains[0]!.mode, "full");
      assert.ok(report.domains[0]!.removed >= 1);
      assert.equal(agent.store.get(env().domain, u.ref.objectGuid), undefined);
      assert.equal(report.unmatched, 1);
      await agent.store.close();
    });

    test("with List Contents / Read Property on CN=Deleted Objects (here: an administrator) deletions come from the tombstones, incrementally", async () => {
      const agent = await agentCore({ bindDn: env().adminDn, bindPassword: env().adminPassword });
      const u = await newUser();
      const sa = randomBytes(16);
      await setConsistencyGuid(u.dn, sa);
      await agent.store.apply({ upsert: cloudObjectsOf([{ cloudAnchor: "User_tomb", sourceAnchor: sa.toString("base64") }]) });
      assert.equal((await refresh(agent)).domains[0]!.mode, "full");
      assert.ok(agent.store.get(env().domain, u.ref.objectGuid));
      await (await admin()).del(u.dn);
      const report = await refresh(agent);
      assert.deepEqual([report.domains[0]!.mode, report.domains[0]!.removed], ["incremental", 1]);
      assert.ok(report.domains[0]!.usersRead < 50, `${report.domains[0]!.usersRead} users read`);
      assert.equal(agent.store.get(env().domain, u.ref.objectGuid), undefined);
      await agent.store.close();
    });

    test("objectGUID in AD byte order is the source anchor of a user without ms-DS-ConsistencyGuid", async () => {
      const agent = await agentCore();
      const u = await newUser();
      const p = newPassword();
      assert.equal((await agent.reset("User_guid", p, guidToAdBytes(u.ref.objectGuid))).outcome, "succeeded");
      assert.equal(await bindAs(u.dn, p), "ok");
      await agent.store.close();
    });
  });

  test("each outgoing LDAP message (binds, unicodePwd modifies) is zeroed once TLS has taken it", async () => {
    const e = env();
    const socket = zeroingTlsConnect(636, "127.0.0.1", { ca: readFileSync(e.caFile), servername: e.servername });
    try {
      await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
      const message = Buffer.from("0\x0c\x02\x01\x01B\x00 pretend this is a bind password", "latin1");
      await new Promise<void>((resolve, reject) => socket.write(message, (error) => (error ? reject(error) : resolve())));
      assert.ok(message.every((b) => b === 0), "zeroed after the write");
    } finally {
      socket.destroy();
    }
  });

  test("no password, bind password or DN in any error, log line or health detail", () => {
    assert.ok(seen.length > 10, `${seen.length} texts collected`);
    const findings = findSecrets(secrets, Object.fromEntries(seen.map((t, i) => [`text ${i}`, t])));
    assert.deepEqual(findings, []);
    for (const t of seen) assert.doesNotMatch(t, /\b(CN|OU|DC)=/i, t);
  });
});
