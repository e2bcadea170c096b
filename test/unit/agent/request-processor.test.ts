import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, test } from "vitest";
import { AgentKeyStore, MAX_KEY_VERSION_STEP } from "../../../agent/core/agent-key-store.js";
import { BackendTrust, BackendTrustError } from "../../../agent/core/backend-trust.js";
import { BinaryWriter } from "../../../shared/protocol/binary.js";
import { CONTROL_TRAILER_BYTES, endorseSigningKey } from "../../../shared/protocol/control-signature.js";
import { uuidToBytes } from "../../../shared/protocol/ids.js";
import { aesGcmSeal, rsaOaepEncrypt } from "../../../shared/protocol/primitives.js";
import { CloudClock } from "../../../agent/core/cloud-clock.js";
import { HeartbeatBuilder } from "../../../agent/core/heartbeat-builder.js";
import { RequestProcessor, type HandleResult, type IncomingMessage } from "../../../agent/core/request-processor.js";
import { signAgentEvent } from "../../../agent/core/agent-events.js";
import type { AccountRef, DirectoryService, ResetOptions } from "../../../agent/directory/directory.port.js";
import { EmbeddedDirectory } from "../../../agent/directory/embedded/embedded-directory.js";
import { FileSyncStore } from "../../../agent/sync/file-sync-store.js";
import type { LogFields, Logger } from "../../../shared/ports/logger.port.js";
import { decodeAgentEvent } from "../../../shared/protocol/agent-event.js";
import {
  MAX_MESSAGE_BYTES,
  openReply,
  sealDisable,
  sealKeyDelivery,
  sealReply,
  sealRequest,
  sealSigningKeyUpdate,
  type PasswordReply,
  type SealRequestInput,
} from "../../../shared/protocol/envelope.js";
import { ManualClock, MINUTE, pw, SECOND } from "./helpers.js";
import { testSigningKey } from "../../support/backend-signer.js";

const TENANT = randomUUID();
const DOMAIN = "corp.example.com";
const RULE = "Microsoft.InfromADUserAccountEnabled.corp.example.com";
let agentKeys: { publicKey: KeyObject; privateKey: KeyObject };
beforeAll(() => {
  agentKeys = generateKeyPairSync("rsa", { modulusLength: 2048 });
});

/** Records every password Buffer handed to the directory, to check that they are zeroed afterwards. */
class SpyDirectory implements DirectoryService {
  readonly passwordBuffers: Buffer[] = [];
  writeCalls = 0;
  constructor(readonly inner: EmbeddedDirectory) {}
  readAccount(ref: AccountRef) {
    return this.inner.readAccount(ref);
  }
  resetPassword(ref: AccountRef, newPassword: Buffer, options: ResetOptions) {
    this.writeCalls += 1;
    this.passwordBuffers.push(newPassword);
    return this.inner.resetPassword(ref, newPassword, options);
  }
  changePassword(ref: AccountRef, currentPassword: Buffer, newPassword: Buffer) {
    this.writeCalls += 1;
    this.passwordBuffers.push(currentPassword, newPassword);
    return this.inner.changePassword(ref, currentPassword, newPassword);
  }
  unlockAccount(ref: AccountRef) {
    this.writeCalls += 1;
    return this.inner.unlockAccount(ref);
  }
  passwordPolicy(domain: string) {
    return this.inner.passwordPolicy(domain);
  }
  health() {
    return this.inner.health();
  }
  close() {
    return this.inner.close();
  }
}

class CapturingLogger implements Logger {
  readonly lines: string[] = [];
  info = (m: string, f?: LogFields) => this.lines.push(JSON.stringify({ level: "info", m, f }));
  warn = (m: string, f?: LogFields) => this.lines.push(JSON.stringify({ level: "warn", m, f }));
  error = (m: string, f?: LogFields) => this.lines.push(JSON.stringify({ level: "error", m, f }));
  text(): string {
    return this.lines.join("\n");
  }
}

interface Fixture {
  clock: ManualClock;
  dir: EmbeddedDirectory;
  spy: SpyDirectory;
  store: FileSyncStore;
  keys: AgentKeyStore;
  stateFile: string;
  logger: CapturingLogger;
  processor: RequestProcessor;
  packageKey: Buffer;
  users: Record<"alice" | "admin" | "disabled" | "locked" | "ghost", { ref: AccountRef; anchor: string }>;
  /** The backend's control-signing key, pinned by this agent. */
  backend: ReturnType<typeof testSigningKey>;
}

async function fixture(o: { clockOffsetMs?: number } = {}): Promise<Fixture> {
  // The agent's clock; the cloud's clock in these tests is Date.now() unless a test says otherwise.
  const clock = new ManualClock(Date.now() + (o.clockOffsetMs ?? 0));
  const dir = new EmbeddedDirectory({ clock });
  dir.addDomain({ domain: DOMAIN, policy: { minLength: 8, complexity: true, historyLength: 5, minAgeSeconds: 0, lockoutThreshold: 3, lockoutDurationSeconds: 1800, lockoutObservationWindowSeconds: 1800 } });
  const alice = dir.addUser(DOMAIN, { sAMAccountName: "alice", displayName: "Alice Example", password: pw("Initial-Pass1") });
  const admin = dir.addUser(DOMAIN, { sAMAccountName: "domadmin", password: pw("Admin-Pass1"), adminCount: 1 });
  const disabled = dir.addUser(DOMAIN, { sAMAccountName: "gone", password: pw("Gone-Pass1"), disabled: true });
  const locked = dir.addUser(DOMAIN, { sAMAccountName: "locky", password: pw("Locky-Pass1") });
  for (let i = 0; i < 3; i++) await dir.verifyPassword(locked, pw("wrong"));
  const ghost: AccountRef = { domain: DOMAIN, distinguishedName: "CN=ghost,CN=Users,DC=corp,DC=example,DC=com", objectGuid: randomUUID() };

  const store = await FileSyncStore.open(join(mkdtempSync(join(tmpdir(), "agent-")), "sync.json"));
  const users = { alice: { ref: alice, anchor: "User_alice" }, admin: { ref: admin, anchor: "User_admin" }, disabled: { ref: disabled, anchor: "User_disabled" }, locked: { ref: locked, anchor: "User_locked" }, ghost: { ref: ghost, anchor: "User_ghost" } };
  for (const [name, u] of Object.entries(users)) {
    await store.upsert([
      { connector: "aad", anchor: u.anchor, metaverseId: `mv-${name}` },
      { connector: DOMAIN, anchor: u.ref.objectGuid, metaverseId: `mv-${name}`, linkRules: [RULE], domain: DOMAIN, distinguishedName: u.ref.distinguishedName },
    ]);
  }
  // Sync-store failure shapes.
  await store.upsert([
    { connector: "aad", anchor: "User_unjoined" },
    { connector: "aad", anchor: "User_norule", metaverseId: "mv-norule" },
    { connector: DOMAIN, anchor: randomUUID(), metaverseId: "mv-norule", linkRules: ["Microsoft.InfromADUserCommon.x"], domain: DOMAIN, distinguishedName: "CN=x" },
    { connector: "aad", anchor: "User_twice", metaverseId: "mv-twice" },
    { connector: "one.example", anchor: randomUUID(), metaverseId: "mv-twice", linkRules: ["Microsoft.InfromADUserAccountEnabled.one"], domain: "one.example", distinguishedName: "CN=a" },
    { connector: "two.example", anchor: randomUUID(), metaverseId: "mv-twice", linkRules: ["Microsoft.InfromADUserAccountEnabled.two"], domain: "two.example", distinguishedName: "CN=b" },
  ]);

  const stateFile = join(mkdtempSync(join(tmpdir(), "agent-keys-")), "keys.json");
  const keys = await AgentKeyStore.fromPrivateKey(agentKeys.privateKey, stateFile);
  const packageKey = randomBytes(32);
  await keys.install(1, packageKey);
  const logger = new CapturingLogger();
  const spy = new SpyDirectory(dir);
  const backend = testSigningKey(TENANT);
  const processor = new RequestProcessor({
    tenantId: TENANT,
    agentId: "agent-test",
    agentVersion: "9.9.9",
    keys,
    trust: backend.trust,
    directory: spy,
    syncStore: store,
    logger,
    cloudClock: new CloudClock({ clock }),
  });
  return { clock, dir, spy, store, keys, stateFile, logger, processor, packageKey, users, backend };
}

type RequestOverrides = Partial<Omit<SealRequestInput, "newPassword" | "currentPassword">> & { newPassword?: string; currentPassword?: string; packageKey?: Buffer };

function sealed(f: Fixture, o: RequestOverrides = {}): { body: Buffer; requestId: string } {
  const now = new Date();
  const { newPassword, currentPassword, requestId: given, ...rest } = o;
  const requestId = given ?? randomUUID();
  const body = sealRequest({
    tenantId: TENANT,
    requestId,
    operation: "reset",
    keyVersion: 1,
    issuedAt: now,
    expiresAt: new Date(now.getTime() + 120 * SECOND),
    traceId: randomUUID(),
    cloudAnchor: "User_alice",
    initiator: { kind: "user", channel: "ssprPortal" },
    flags: { unlockAccount: false, forceChangeAtNextLogon: false, expired: false },
    packageKey: f.packageKey,
    agentPublicKey: agentKeys.publicKey,
    ...rest,
    ...(newPassword === undefined ? {} : { newPassword: pw(newPassword) }),
    ...(currentPassword === undefined ? {} : { currentPassword: pw(currentPassword) }),
  });
  return { body, requestId };
}

function replyOf(result: HandleResult, key: Buffer, version = 1): PasswordReply {
  assert.ok(result.reply, `a reply (verdict ${result.verdict}, rejection ${result.rejection ?? "-"})`);
  return openReply(result.reply, TENANT, (v) => (v === version ? key : undefined));
}

async function expectOutcome(f: Fixture, o: RequestOverrides, outcome: string, reason = ""): Promise<HandleResult> {
  const result = await f.processor.handle({ body: sealed(f, o).body });
  assert.equal(result.verdict, "applied");
  const reply = replyOf(result, f.packageKey);
  assert.equal(reply.outcome, outcome);
  assert.equal(reply.reason, reason);
  return result;
}

describe("request processor: password operations end to end", () => {
  test("reset: applied, reply sealed under the request's key version, password set in the directory", async () => {
    const f = await fixture();
    const { body, requestId } = sealed(f, { newPassword: "Brand-New-42", flags: { unlockAccount: false, forceChangeAtNextLogon: false, expired: false } });
    const result = await f.processor.handle({ body });
    const reply = replyOf(result, f.packageKey);
    assert.equal(result.verdict, "applied");
    assert.deepEqual([reply.requestId, reply.operation, reply.keyVersion, reply.outcome, reply.agentVersion], [requestId, "reset", 1, "succeeded", "9.9.9"]);
    assert.equal(await f.dir.verifyPassword(f.users.alice.ref, pw("Brand-New-42")), "ok");
  });

  test("reset with unlock and must-change flags", async () => {
    const f = await fixture();
    await expectOutcome(f, { cloudAnchor: "User_locked", newPassword: "Reset-Unlock-7", flags: { unlockAccount: true, forceChangeAtNextLogon: true, expired: false } }, "succeeded");
    assert.equal(await f.dir.verifyPassword(f.users.locked.ref, pw("Reset-Unlock-7")), "mustChange");
  });

  test("change: applied with the right current password", async () => {
    const f = await fixture();
    await expectOutcome(f, { operation: "change", currentPassword: "Initial-Pass1", newPassword: "Changed-Pass2" }, "succeeded");
    assert.equal(await f.dir.verifyPassword(f.users.alice.ref, pw("Changed-Pass2")), "ok");
  });

  test("unlock: lockoutTime=0", async () => {
    const f = await fixture();
    assert.equal(f.dir.inspect(f.users.locked.ref).lockedOut, true);
    await expectOutcome(f, { operation: "unlock", cloudAnchor: "User_locked" }, "succeeded");
    assert.equal(f.dir.inspect(f.users.locked.ref).lockedOut, false);
  });

  test("each failure maps to its outcome code", async () => {
    const f = await fixture();
    await expectOutcome(f, { newPassword: "short" }, "PASSWORD_POLICY_VIOLATION", "tooShort");
    await expectOutcome(f, { newPassword: "alllowercase" }, "PASSWORD_POLICY_VIOLATION", "complexity");
    await expectOutcome(f, { newPassword: "Initial-Pass1" }, "PASSWORD_POLICY_VIOLATION", "history");
    await expectOutcome(f, { operation: "change", currentPassword: "Wrong-Pass9", newPassword: "Changed-Pass2" }, "WRONG_CURRENT_PASSWORD");
    await expectOutcome(f, { cloudAnchor: "User_nobody", newPassword: "Brand-New-42" }, "USER_NOT_FOUND");
    await expectOutcome(f, { cloudAnchor: "User_unjoined", newPassword: "Brand-New-42" }, "USER_NOT_FOUND");
    await expectOutcome(f, { cloudAnchor: "User_ghost", newPassword: "Brand-New-42" }, "USER_NOT_FOUND");
    await expectOutcome(f, { cloudAnchor: "User_norule", newPassword: "Brand-New-42" }, "ONPREM_CONFIGURATION_ERROR");
    await expectOutcome(f, { cloudAnchor: "User_twice", newPassword: "Brand-New-42" }, "USER_AMBIGUOUS");
    await expectOutcome(f, { cloudAnchor: "User_disabled", newPassword: "Brand-New-42" }, "ACCOUNT_DISABLED");
    await expectOutcome(f, { cloudAnchor: "User_locked", operation: "change", currentPassword: "Locky-Pass1", newPassword: "Changed-Pass2" }, "ACCOUNT_LOCKED");
    assert.equal(f.dir.inspect(f.users.alice.ref).passwordWrites, 0);
    f.dir.setReachable(false);
    await expectOutcome(f, { newPassword: "Brand-New-42" }, "ONPREM_DIRECTORY_UNAVAILABLE");
    assert.deepEqual(f.processor.stats().outcomes, {
      PASSWORD_POLICY_VIOLATION: 3,
      WRONG_CURRENT_PASSWORD: 1,
      USER_NOT_FOUND: 3,
      ONPREM_CONFIGURATION_ERROR: 1,
      USER_AMBIGUOUS: 1,
      ACCOUNT_DISABLED: 1,
      ACCOUNT_LOCKED: 1,
      ONPREM_DIRECTORY_UNAVAILABLE: 1,
    });
  });

  test("protected account (adminCount=1): PROTECTED_ACCOUNT and no write attempted", async () => {
    const f = await fixture();
    await expectOutcome(f, { cloudAnchor: "User_admin", newPassword: "Brand-New-42" }, "PROTECTED_ACCOUNT");
    await expectOutcome(f, { cloudAnchor: "User_admin", operation: "unlock" }, "PROTECTED_ACCOUNT");
    assert.equal(f.spy.writeCalls, 0);
    assert.equal(f.dir.inspect(f.users.admin.ref).passwordWrites, 0);
  });

  test("a reset without a password is refused as malformed, no reply, no write", async () => {
    const f = await fixture();
    const result = await f.processor.handle({ body: sealed(f, {}).body });
    assert.equal(result.rejection, "malformed");
    assert.equal(result.reply, undefined);
    assert.equal(f.spy.writeCalls, 0);
  });

  test("the password Buffers handed to the directory are zeroed once the request is done", async () => {
    const f = await fixture();
    await f.processor.handle({ body: sealed(f, { newPassword: "Brand-New-42" }).body });
    await f.processor.handle({ body: sealed(f, { operation: "change", currentPassword: "Brand-New-42", newPassword: "Changed-Pass2" }).body });
    await f.processor.handle({ body: sealed(f, { operation: "change", currentPassword: "Wrong-Pass9", newPassword: "Other-Pass3" }).body });
    assert.equal(f.spy.passwordBuffers.length, 5);
    for (const b of f.spy.passwordBuffers) {
      assert.ok(b.length > 0);
      assert.ok(b.every((byte) => byte === 0), "zeroed");
    }
  });
});

describe("request processor: expiry and clock skew", () => {
  test("an expired request is refused: no reply, no write", async () => {
    const f = await fixture();
    const past = new Date(Date.now() - 1000);
    const result = await f.processor.handle({ body: sealed(f, { newPassword: "Brand-New-42", issuedAt: new Date(past.getTime() - 120_000), expiresAt: past }).body });
    assert.deepEqual([result.verdict, result.rejection, result.reply], ["rejected", "expired", undefined]);
    assert.equal(f.spy.writeCalls, 0);
    assert.equal(f.processor.stats().rejected.expired, 1);
  });

  test("a request with less than the apply margin left is refused", async () => {
    const f = await fixture();
    const result = await f.processor.handle({ body: sealed(f, { newPassword: "Brand-New-42", expiresAt: new Date(Date.now() + 500) }).body });
    assert.equal(result.rejection, "expired");
  });

  test("agent clock 2 minutes behind: the broker's enqueued time still refuses what the cloud considers expired", async () => {
    const cloudNow = Date.now();
    const expiredForCloud = { newPassword: "Brand-New-42", issuedAt: new Date(cloudNow - 121_000), expiresAt: new Date(cloudNow - 1000) };
    // Without broker time the agent trusts its own (late) clock, and would apply it: the test can fail.
    const naive = await fixture({ clockOffsetMs: -2 * MINUTE });
    assert.equal((await naive.processor.handle({ body: sealed(naive, expiredForCloud).body })).verdict, "applied");
    const f = await fixture({ clockOffsetMs: -2 * MINUTE });
    const result = await f.processor.handle({ body: sealed(f, expiredForCloud).body, enqueuedAt: new Date(cloudNow - 50) });
    assert.equal(result.rejection, "expired");
    assert.equal(f.spy.writeCalls, 0);
  });

  test("agent clock 2 minutes ahead: valid requests are not refused early", async () => {
    const f = await fixture({ clockOffsetMs: 2 * MINUTE });
    const fresh = () => sealed(f, { newPassword: `Brand-New-${randomUUID().slice(0, 4)}A1`, expiresAt: new Date(Date.now() + 60_000) }).body;
    assert.equal((await f.processor.handle({ body: fresh() })).rejection, "expired", "by its own clock");
    const result = await f.processor.handle({ body: fresh(), enqueuedAt: new Date() });
    assert.equal(result.verdict, "applied");
  });
});

describe("request processor: replay", () => {
  test("a redelivered request gets the cached reply and is written exactly once", async () => {
    const f = await fixture();
    const { body } = sealed(f, { newPassword: "Brand-New-42" });
    const first = await f.processor.handle({ body });
    const second = await f.processor.handle({ body: Buffer.from(body) });
    assert.equal(first.verdict, "applied");
    assert.equal(second.verdict, "duplicate");
    assert.ok(second.reply?.equals(first.reply!), "the same sealed reply");
    assert.equal(f.spy.writeCalls, 1);
    assert.equal(f.dir.inspect(f.users.alice.ref).passwordWrites, 1);
    assert.equal(f.processor.stats().duplicates, 1);
  });

  test("a duplicate arriving while the first is in flight waits for its result; one write", async () => {
    const f = await fixture();
    const { body } = sealed(f, { newPassword: "Brand-New-42" });
    const results = await Promise.all([f.processor.handle({ body }), f.processor.handle({ body }), f.processor.handle({ body })]);
    assert.deepEqual(results.map((r) => r.verdict).sort(), ["applied", "duplicate", "duplicate"]);
    assert.equal(f.spy.writeCalls, 1);
    for (const r of results) assert.equal(replyOf(r, f.packageKey).outcome, "succeeded");
  });

  test("a failed outcome is cached too: the duplicate never retries the write", async () => {
    const f = await fixture();
    const { body } = sealed(f, { newPassword: "short" });
    await f.processor.handle({ body });
    const again = await f.processor.handle({ body });
    assert.equal(again.verdict, "duplicate");
    assert.equal(replyOf(again, f.packageKey).outcome, "PASSWORD_POLICY_VIOLATION");
    assert.equal(f.spy.writeCalls, 1);
  });

  test("a different message under a used request id is refused as replayed", async () => {
    const f = await fixture();
    const requestId = randomUUID();
    await f.processor.handle({ body: sealed(f, { requestId, newPassword: "Brand-New-42" }).body });
    const result = await f.processor.handle({ body: sealed(f, { requestId, newPassword: "Other-Pass-43" }).body });
    assert.deepEqual([result.verdict, result.rejection, result.reply], ["rejected", "replayed", undefined]);
    assert.equal(f.spy.writeCalls, 1);
  });
});

describe("request processor: hostile messages", () => {
  async function rejected(f: Fixture, message: IncomingMessage, rejection: string): Promise<void> {
    const result = await f.processor.handle(message);
    assert.equal(result.verdict, "rejected");
    assert.equal(result.rejection, rejection);
    assert.equal(result.reply, undefined, "no reply the cloud could not trust");
    assert.equal(result.event, undefined);
  }

  test("tampered ciphertext, tampered header, wrong tenant, unknown key version, oversize, garbage: rejected, counted, 0 writes", async () => {
    const f = await fixture();
    const ok = sealed(f, { newPassword: "Brand-New-42" }).body;
    const flipped = (at: number, mask = 0x01) => {
      const b = Buffer.from(ok);
      b[at] = b[at]! ^ mask;
      return b;
    };
    await rejected(f, { body: flipped(ok.length - 20) }, "tampered");
    await rejected(f, { body: flipped(ok.length - 1) }, "tampered");
    await rejected(f, { body: flipped(25) }, "tampered"); // expiresAt in the header
    await rejected(f, { body: flipped(4, 0x02) }, "tampered"); // operation byte: reset → unlock (bound as AAD)
    const otherTenant = randomUUID();
    const forOther = sealRequest({ ...sealedInput(f), tenantId: otherTenant });
    await rejected(f, { body: forOther }, "tampered");
    await rejected(f, { body: forOther, tenantId: otherTenant }, "wrongTenant");
    await rejected(f, { body: sealed(f, { newPassword: "Brand-New-42", packageKey: randomBytes(32) }).body }, "tampered");
    await rejected(f, { body: sealed(f, { newPassword: "Brand-New-42", keyVersion: 7 }).body }, "unknownKeyVersion");
    await rejected(f, { body: Buffer.concat([ok, Buffer.alloc(MAX_MESSAGE_BYTES + 1 - ok.length)]) }, "oversize");
    await rejected(f, { body: randomBytes(300) }, "malformed");
    await rejected(f, { body: Buffer.alloc(0) }, "malformed");
    await rejected(f, { body: ok.subarray(0, 30) }, "malformed");
    const reply = sealReply({ requestId: randomUUID(), operation: "reset", keyVersion: 1, expiresAt: new Date(Date.now() + 60_000), completedAt: new Date(), outcome: "succeeded", reason: "", agentVersion: "x", diagnostic: "" }, TENANT, f.packageKey);
    await rejected(f, { body: reply }, "malformed");
    assert.equal(f.spy.writeCalls, 0);
    assert.equal(f.dir.writeCount(), 0);
    assert.deepEqual(f.processor.stats().rejected, { tampered: 6, expired: 0, replayed: 0, unknownKeyVersion: 1, malformed: 4, oversize: 1, wrongTenant: 1, unsigned: 0, untrustedSigner: 0, forged: 0 });
    assert.equal(f.logger.lines.filter((l) => l.includes("message rejected")).length, 13);
  });

  test("a tampered copy of an applied request is rejected, the original's cache untouched", async () => {
    const f = await fixture();
    const { body } = sealed(f, { newPassword: "Brand-New-42" });
    await f.processor.handle({ body });
    const tampered = Buffer.from(body);
    tampered[tampered.length - 3] = tampered[tampered.length - 3]! ^ 0x80;
    await rejected(f, { body: tampered }, "tampered");
    assert.equal((await f.processor.handle({ body })).verdict, "duplicate");
    assert.equal(f.spy.writeCalls, 1);
  });

  function sealedInput(f: Fixture): SealRequestInput {
    const now = new Date();
    return {
      tenantId: TENANT,
      requestId: randomUUID(),
      operation: "reset",
      keyVersion: 1,
      issuedAt: now,
      expiresAt: new Date(now.getTime() + 120_000),
      traceId: randomUUID(),
      cloudAnchor: "User_alice",
      initiator: { kind: "admin", channel: "azurePortal" },
      flags: { unlockAccount: false, forceChangeAtNextLogon: false, expired: false },
      packageKey: f.packageKey,
      agentPublicKey: agentKeys.publicKey,
      newPassword: pw("Brand-New-42"),
    };
  }
});

describe("request processor: key delivery and disable", () => {
  function delivery(f: Fixture, keyVersion: number, newKey: Buffer, previousKeyVersion: number, previousValidUntil: Date, o: { tenantId?: string; publicKey?: KeyObject } = {}) {
    const now = new Date();
    const requestId = randomUUID();
    const body = sealKeyDelivery(
      { requestId, keyVersion, issuedAt: now, expiresAt: new Date(now.getTime() + 120_000), traceId: randomUUID(), purpose: "rotate", previousKeyVersion, previousValidUntil },
      o.tenantId ?? TENANT,
      newKey,
      o.publicKey ?? agentKeys.publicKey,
      f.backend.signer,
    );
    return { body, requestId };
  }

  test("a delivered key is stored and acknowledged; requests under it work; the previous version only until previousValidUntil", async () => {
    const f = await fixture();
    const key2 = randomBytes(32);
    const validUntil = new Date(f.clock.now().getTime() + 5 * MINUTE);
    const { body, requestId } = delivery(f, 2, key2, 1, validUntil);
    const result = await f.processor.handle({ body });
    assert.equal(result.verdict, "applied");
    const reply = replyOf(result, key2, 2);
    assert.deepEqual([reply.outcome, reply.operation, reply.requestId], ["succeeded", "deliverKey", requestId]);
    assert.equal(result.event?.type, "keyAcknowledged");
    assert.equal(result.event?.type === "keyAcknowledged" ? result.event.keyVersion : 0, 2);
    assert.ok(decodeAgentEvent(signAgentEvent(result.event, f.keys), agentKeys.publicKey));
    assert.deepEqual(f.keys.heldVersions(f.clock.now()), [2, 1]);

    const underNew = await f.processor.handle({ body: sealed(f, { keyVersion: 2, packageKey: key2, newPassword: "Brand-New-42" }).body });
    assert.equal(replyOf(underNew, key2, 2).outcome, "succeeded");
    const underOld = await f.processor.handle({ body: sealed(f, { keyVersion: 1, newPassword: "Other-Pass-43" }).body });
    assert.equal(replyOf(underOld, f.packageKey, 1).outcome, "succeeded", "previous version still accepted, reply under it");

    f.clock.advance(5 * MINUTE);
    const tooLate = await f.processor.handle({ body: sealed(f, { keyVersion: 1, newPassword: "Third-Pass-44", expiresAt: new Date(f.clock.now().getTime() + 60_000) }).body });
    assert.equal(tooLate.rejection, "unknownKeyVersion");
    assert.deepEqual(f.keys.heldVersions(f.clock.now()), [2]);
    assert.equal(f.spy.writeCalls, 2);
  });

  test("received keys are persisted encrypted with mode 0600 and survive a restart", async () => {
    const f = await fixture();
    const key2 = randomBytes(32);
    await f.processor.handle({ body: delivery(f, 2, key2, 1, new Date(Date.now() + 60_000)).body });
    assert.equal(statSync(f.stateFile).mode & 0o777, 0o600);
    const raw = readFileSync(f.stateFile);
    for (const k of [key2, f.packageKey]) {
      assert.equal(raw.includes(k), false);
      assert.equal(raw.toString().includes(k.toString("base64")), false);
      assert.equal(raw.toString().includes(k.toString("hex")), false);
    }
    const reloaded = await AgentKeyStore.fromPrivateKey(agentKeys.privateKey, f.stateFile);
    assert.equal(reloaded.stateStatus, "loaded");
    assert.ok(reloaded.keyFor(2, new Date())?.equals(key2));
    assert.ok(reloaded.keyFor(1, new Date())?.equals(f.packageKey));
    assert.equal(reloaded.keyFor(1, new Date(Date.now() + 120_000)), undefined);
    const otherPair = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const stranger = await AgentKeyStore.fromPrivateKey(otherPair.privateKey, f.stateFile);
    assert.equal(stranger.stateStatus, "unreadable");
    assert.deepEqual(stranger.heldVersions(new Date()), []);
  });

  test("a key delivery wrapped for another agent's key or sealed for another tenant is rejected", async () => {
    const f = await fixture();
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const forOtherAgent = await f.processor.handle({ body: delivery(f, 2, randomBytes(32), 1, new Date(), { publicKey: other.publicKey }).body });
    assert.equal(forOtherAgent.rejection, "tampered");
    const forOtherTenant = await f.processor.handle({ body: delivery(f, 2, randomBytes(32), 1, new Date(), { tenantId: randomUUID() }).body });
    assert.equal(forOtherTenant.rejection, "forged", "the signature binds the tenant: refused before any decryption");
    assert.deepEqual(f.keys.heldVersions(new Date()), [1]);
  });

  test("a stale delivery (lower version) is refused in its reply and not stored; a redelivery answers from cache", async () => {
    const f = await fixture();
    const key3 = randomBytes(32);
    const d3 = delivery(f, 3, key3, 1, new Date(Date.now() + 60_000));
    await f.processor.handle({ body: d3.body });
    const stale = await f.processor.handle({ body: delivery(f, 2, randomBytes(32), 1, new Date()).body });
    assert.equal(stale.outcome, "ONPREM_CONFIGURATION_ERROR");
    assert.equal(stale.event, undefined);
    assert.equal(f.keys.currentVersion(), 3);
    assert.equal((await f.processor.handle({ body: d3.body })).verdict, "duplicate");
  });

  test("disable: keys discarded (memory and file), acknowledged under the key it came with; later requests refused", async () => {
    const f = await fixture();
    const now = new Date();
    const requestId = randomUUID();
    const body = sealDisable({ requestId, keyVersion: 1, issuedAt: now, expiresAt: new Date(now.getTime() + 60_000), traceId: randomUUID() }, TENANT, f.packageKey, f.backend.signer);
    const result = await f.processor.handle({ body });
    assert.equal(replyOf(result, f.packageKey).outcome, "succeeded");
    assert.equal(replyOf(result, f.packageKey).operation, "disable");
    assert.equal(result.event?.type, "disableAcknowledged");
    assert.deepEqual(f.keys.heldVersions(new Date()), []);
    const after = await f.processor.handle({ body: sealed(f, { newPassword: "Brand-New-42" }).body });
    assert.equal(after.rejection, "unknownKeyVersion");
    const reloaded = await AgentKeyStore.fromPrivateKey(agentKeys.privateKey, f.stateFile);
    assert.deepEqual(reloaded.heldVersions(new Date()), []);
    assert.equal(f.spy.writeCalls, 0);
  });
});

describe("request processor: secrets stay out of logs", () => {
  test("no password (UTF-8, base64, hex, UTF-16LE) and no key material reaches the logger", async () => {
    const f = await fixture();
    const passwords = ["Brand-New-42", "Changed-Pass2", "Wrong-Pass9x", "short", "Initial-Pass1", "Unicode-Pässwörd-1"];
    await f.processor.handle({ body: sealed(f, { newPassword: passwords[0] }).body });
    await f.processor.handle({ body: sealed(f, { operation: "change", currentPassword: passwords[0], newPassword: passwords[1] }).body });
    await f.processor.handle({ body: sealed(f, { operation: "change", currentPassword: passwords[2], newPassword: passwords[5] }).body });
    await f.processor.handle({ body: sealed(f, { newPassword: passwords[3] }).body });
    await f.processor.handle({ body: sealed(f, { newPassword: passwords[4], cloudAnchor: "User_admin" }).body });
    const dup = sealed(f, { newPassword: passwords[5] }).body;
    await f.processor.handle({ body: dup });
    await f.processor.handle({ body: dup });
    const tampered = Buffer.from(dup);
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 1;
    await f.processor.handle({ body: tampered });
    f.dir.setReachable(false);
    await f.processor.handle({ body: sealed(f, { newPassword: passwords[1] }).body });
    const key2 = randomBytes(32);
    await f.processor.handle({
      body: sealKeyDelivery({ requestId: randomUUID(), keyVersion: 2, issuedAt: new Date(), expiresAt: new Date(Date.now() + 60_000), traceId: randomUUID(), purpose: "rotate", previousKeyVersion: 1, previousValidUntil: new Date() }, TENANT, key2, agentKeys.publicKey, f.backend.signer),
    });

    const logs = f.logger.text();
    assert.ok(f.logger.lines.length >= 10, "the flows were logged");
    for (const p of passwords) {
      const b = Buffer.from(p, "utf8");
      for (const form of [p, b.toString("base64"), b.toString("hex"), Buffer.from(p, "utf16le").toString("base64"), Buffer.from(p, "utf16le").toString("hex")]) {
        assert.equal(logs.includes(form), false, "a password form leaked into the logs");
      }
    }
    for (const k of [f.packageKey, key2]) {
      assert.equal(logs.includes(k.toString("base64")), false);
      assert.equal(logs.includes(k.toString("hex")), false);
    }
  });
});

describe("heartbeat", () => {
  test("carries connector health, the policy, the key versions held; signed so the cloud can verify it", async () => {
    const f = await fixture();
    f.dir.addDomain({ domain: "emea.example.com", policy: { minLength: 12, complexity: false, historyLength: 10, minAgeSeconds: 0, maxAgeSeconds: 0, lockoutThreshold: 10 } });
    const hb = new HeartbeatBuilder({ tenantId: TENANT, agentId: "agent-test", agentVersion: "9.9.9", directory: f.dir, keys: f.keys });
    const event = await hb.build();
    assert.deepEqual(event.connectors.map((c) => [c.domain, c.status]), [[DOMAIN, "healthy"], ["emea.example.com", "healthy"]]);
    assert.deepEqual(event.policy, { minLength: 12, complexity: true, historyLength: 10, minAgeSeconds: 0, maxAgeSeconds: 42 * 86400, lockoutThreshold: 3, lockoutDurationSeconds: 1800 });
    assert.deepEqual(event.keyVersions, [1]);
    const decoded = decodeAgentEvent(await hb.encode(), agentKeys.publicKey);
    assert.equal(decoded.type, "heartbeat");

    f.dir.setReachable(false, "emea.example.com");
    const degraded = await hb.build();
    assert.equal(degraded.connectors[1]?.status, "unreachable");
    assert.equal(degraded.policy.minLength, 8, "only reachable domains' policies");
  });
});

// ---------------------------------------------------------------- issue 17, finding 1: forged control messages

/** A key delivery exactly as the backend built one before control messages were signed: only the agent's public key is needed. */
function unsignedKeyDelivery(o: { tenantId: string; keyVersion: number; newKey: Buffer; agentPublicKey: KeyObject; previousKeyVersion: number; previousValidUntil: Date }): Buffer {
  const now = new Date();
  const iv = randomBytes(12);
  const header = new BinaryWriter()
    .raw(Buffer.from("PW", "ascii"))
    .u8(1)
    .u8(3) // control
    .u8(4) // deliverKey
    .u32(o.keyVersion)
    .raw(uuidToBytes(randomUUID()))
    .time(new Date(now.getTime() + 60_000))
    .bytes16(rsaOaepEncrypt(o.agentPublicKey, o.newKey))
    .raw(iv)
    .toBuffer();
  const payload = new BinaryWriter().time(now).raw(uuidToBytes(randomUUID())).u8(1).u32(o.previousKeyVersion).time(o.previousValidUntil).toBuffer();
  return Buffer.concat([header, aesGcmSeal(o.newKey, iv, payload, Buffer.concat([header, uuidToBytes(o.tenantId)]))]);
}

/** Counts every use of the agent's RSA private key (the only way to an RSA decryption). */
function countPrivateKeyUse(f: Fixture): { count: number } {
  const counter = { count: 0 };
  const key = f.keys.privateKey;
  Object.defineProperty(f.keys, "privateKey", { get: () => ((counter.count += 1), key) });
  return counter;
}

describe("request processor: control messages need the backend's signature (issue 17)", () => {
  const farFuture = new Date("2200-01-01T00:00:00Z");
  function genuine(f: Fixture, keyVersion: number, newKey: Buffer, previousKeyVersion = 1, signer = f.backend.signer, previousValidUntil = new Date(Date.now() + 150_000)) {
    const now = new Date();
    return sealKeyDelivery(
      { requestId: randomUUID(), keyVersion, issuedAt: now, expiresAt: new Date(now.getTime() + 120_000), traceId: randomUUID(), purpose: "rotate", previousKeyVersion, previousValidUntil },
      TENANT,
      newKey,
      agentKeys.publicKey,
      signer,
    );
  }
  async function refused(f: Fixture, body: Buffer, rejection: string, code: string): Promise<void> {
    const result = await f.processor.handle({ body });
    assert.equal(result.verdict, "rejected");
    assert.equal(result.rejection, rejection);
    assert.equal(result.reply, undefined, "nothing useful is answered");
    assert.equal(result.event, undefined);
    assert.ok(f.logger.lines.some((l) => l.includes(`"code":"${code}"`)), `logged with ${code}`);
  }
  const resetUnder = (f: Fixture, keyVersion: number, packageKey: Buffer, newPassword: string) => sealed(f, { keyVersion, packageKey, newPassword });

  test("a delivery built as before (agent public key only) is refused before any RSA work; nothing installed; a reset under the forged key changes nothing", async () => {
    const f = await fixture();
    const rsaUses = countPrivateKeyUse(f);
    const forgedKey = randomBytes(32);
    const attack = unsignedKeyDelivery({ tenantId: TENANT, keyVersion: 4294967295, newKey: forgedKey, agentPublicKey: agentKeys.publicKey, previousKeyVersion: 1, previousValidUntil: farFuture });
    assert.ok(attack.length <= MAX_MESSAGE_BYTES);
    await refused(f, attack, "unsigned", "CONTROL_MESSAGE_UNSIGNED");
    // The same, from an attacker who signs with a key of their own (or copies the genuine key id).
    const attacker = testSigningKey(TENANT);
    await refused(f, genuine(f, 4294967295, forgedKey, 1, attacker.signer, farFuture), "untrustedSigner", "CONTROL_SIGNER_UNKNOWN");
    await refused(f, genuine(f, 2, forgedKey, 1, { keyId: f.backend.signer.keyId, privateKey: attacker.signer.privateKey }, farFuture), "forged", "CONTROL_SIGNATURE_INVALID");
    assert.equal(rsaUses.count, 0, "no RSA decryption for a forgery");
    assert.deepEqual(f.keys.heldVersions(new Date()), [1], "nothing installed");
    // Redelivery of the forgery: refused again, still without RSA work.
    await refused(f, attack, "unsigned", "CONTROL_MESSAGE_UNSIGNED");
    assert.equal(rsaUses.count, 0);

    for (const version of [4294967295, 2]) {
      const reset = await f.processor.handle({ body: resetUnder(f, version, forgedKey, "Forged-Pass-1").body });
      assert.equal(reset.rejection, "unknownKeyVersion");
      assert.equal(reset.reply, undefined);
    }
    assert.equal(f.spy.writeCalls, 0);
    assert.equal(await f.dir.verifyPassword(f.users.alice.ref, pw("Forged-Pass-1")), "badPassword", "password unchanged");
    assert.equal(f.processor.stats().rejected.unsigned, 2);
  });

  test("a genuine rotation after an attack attempt still succeeds, and the attacker's version never blocks it", async () => {
    const f = await fixture();
    const forgedKey = randomBytes(32);
    await f.processor.handle({ body: unsignedKeyDelivery({ tenantId: TENANT, keyVersion: 4294967295, newKey: forgedKey, agentPublicKey: agentKeys.publicKey, previousKeyVersion: 1, previousValidUntil: farFuture }) });
    await f.processor.handle({ body: genuine(f, 4294967295, forgedKey, 1, testSigningKey(TENANT).signer, farFuture) });
    const key2 = randomBytes(32);
    const result = await f.processor.handle({ body: genuine(f, 2, key2) });
    assert.equal(result.verdict, "applied");
    assert.equal(replyOf(result, key2, 2).outcome, "succeeded");
    assert.equal(result.event?.type, "keyAcknowledged");
    assert.equal(f.keys.currentVersion(), 2);
    const reset = await f.processor.handle({ body: resetUnder(f, 2, key2, "Genuine-Pass-2").body });
    assert.equal(replyOf(reset, key2, 2).outcome, "succeeded");
    assert.equal(await f.dir.verifyPassword(f.users.alice.ref, pw("Genuine-Pass-2")), "ok");
  });

  test("versions move forward by a bounded step, even when signed; the overlap is the agent's rule, not the message's", async () => {
    const f = await fixture();
    const far = await f.processor.handle({ body: genuine(f, 1 + MAX_KEY_VERSION_STEP + 1, randomBytes(32)) });
    assert.equal(far.outcome, "ONPREM_CONFIGURATION_ERROR");
    assert.equal(far.event, undefined);
    assert.ok(f.logger.lines.some((l) => l.includes('"code":"KEY_VERSION_OUT_OF_ORDER"')));
    assert.equal(f.keys.currentVersion(), 1);
    // A delivery claiming the previous key stays valid until 2200: the agent keeps it only message lifetime + skew margin (6 min by default).
    const key2 = randomBytes(32);
    assert.equal((await f.processor.handle({ body: genuine(f, 1 + MAX_KEY_VERSION_STEP, key2, 1, f.backend.signer, farFuture) })).outcome, "succeeded");
    assert.deepEqual(f.keys.heldVersions(f.clock.now()), [1 + MAX_KEY_VERSION_STEP, 1]);
    f.clock.advance(6 * MINUTE);
    assert.deepEqual(f.keys.heldVersions(f.clock.now()), [1 + MAX_KEY_VERSION_STEP], "the previous key is gone after the agent's own bound");
  });

  test("an unsigned disable is refused and the keys are kept", async () => {
    const f = await fixture();
    const now = new Date();
    const signedDisable = sealDisable({ requestId: randomUUID(), keyVersion: 1, issuedAt: now, expiresAt: new Date(now.getTime() + 60_000), traceId: randomUUID() }, TENANT, f.packageKey, testSigningKey(TENANT).signer);
    await refused(f, signedDisable, "untrustedSigner", "CONTROL_SIGNER_UNKNOWN");
    // Version 1 with the trailer cut off: what an older backend sends.
    const unsigned = Buffer.from(signedDisable.subarray(0, signedDisable.length - CONTROL_TRAILER_BYTES));
    unsigned[2] = 1;
    await refused(f, unsigned, "unsigned", "CONTROL_MESSAGE_UNSIGNED");
    assert.deepEqual(f.keys.heldVersions(new Date()), [1]);
  });

  test("signing-key rotation: the agent follows an endorsed chain (two rotations while offline); the retired key and unknown keys are refused after", async () => {
    const f = await fixture();
    const k1 = f.backend;
    const k2 = testSigningKey(TENANT);
    const k3 = testSigningKey(TENANT);
    const chain = [
      { publicKeyRaw: k2.publicKeyRaw, endorsement: endorseSigningKey(k1.signer.privateKey, TENANT, k2.publicKeyRaw) },
      { publicKeyRaw: k3.publicKeyRaw, endorsement: endorseSigningKey(k2.signer.privateKey, TENANT, k3.publicKeyRaw) },
    ];
    const update = (c: typeof chain, signer = k3.signer, tenantId = TENANT) => {
      const now = new Date();
      return sealSigningKeyUpdate({ requestId: randomUUID(), keyVersion: 1, issuedAt: now, expiresAt: new Date(now.getTime() + 60_000), traceId: randomUUID(), chain: c }, tenantId, signer);
    };
    // Forgeries: an endorsement the pinned key did not make, a chain signed by another key, a chain for another tenant.
    const rogue = testSigningKey(TENANT);
    await refused(f, update([{ publicKeyRaw: rogue.publicKeyRaw, endorsement: endorseSigningKey(rogue.signer.privateKey, TENANT, rogue.publicKeyRaw) }], rogue.signer), "untrustedSigner", "CONTROL_SIGNER_UNKNOWN");
    await refused(f, update(chain, rogue.signer), "untrustedSigner", "CONTROL_SIGNER_UNKNOWN");
    await refused(f, update(chain, { keyId: k3.signer.keyId, privateKey: rogue.signer.privateKey }), "forged", "CONTROL_SIGNATURE_INVALID");
    const otherTenant = randomUUID();
    const foreignChain = [{ publicKeyRaw: k2.publicKeyRaw, endorsement: endorseSigningKey(k1.signer.privateKey, otherTenant, k2.publicKeyRaw) }];
    await refused(f, update(foreignChain, k2.signer), "untrustedSigner", "CONTROL_SIGNER_UNKNOWN");
    assert.equal(f.processor.stats().applied, 0);

    const genuineUpdate = update(chain);
    assert.ok(genuineUpdate.length <= MAX_MESSAGE_BYTES);
    const result = await f.processor.handle({ body: genuineUpdate });
    assert.equal(result.verdict, "applied");
    assert.equal(result.trustUpdated, true);
    assert.equal(replyOf(result, f.packageKey, 1).operation, "updateSigningKey");
    assert.equal(f.backend.trust.keyId, k3.pin.keyId);
    // Sent again (a retry that crossed the reply): harmless, the agent stays on k3.
    assert.equal((await f.processor.handle({ body: update(chain) })).verdict, "applied");
    assert.equal(f.backend.trust.keyId, k3.pin.keyId);

    const key2 = randomBytes(32);
    await refused(f, genuine(f, 2, key2, 1, k1.signer), "untrustedSigner", "CONTROL_SIGNER_UNKNOWN");
    await refused(f, genuine(f, 2, key2, 1, k2.signer), "untrustedSigner", "CONTROL_SIGNER_UNKNOWN");
    assert.equal(f.keys.currentVersion(), 1, "nothing installed under a retired key");
    assert.equal((await f.processor.handle({ body: genuine(f, 2, key2, 1, k3.signer) })).outcome, "succeeded");
    assert.equal(f.keys.currentVersion(), 2);
  });

  test("the pin file: written 0600 by rename, reloaded, advanced on update; a missing or damaged pin stops the agent with a stable code", async () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-trust-"));
    const file = join(dir, "backend-signing-key.json");
    const k1 = testSigningKey(TENANT);
    await assert.rejects(BackendTrust.open(file, TENANT), (e: unknown) => e instanceof BackendTrustError && e.code === "BACKEND_KEY_NOT_PINNED" && e.message.includes("agent pin-backend-key"));
    await BackendTrust.pin(file, TENANT, k1.pin);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const trust = await BackendTrust.open(file, TENANT);
    assert.equal(trust.keyId, k1.pin.keyId);
    await assert.rejects(BackendTrust.open(file, randomUUID()), (e: unknown) => e instanceof BackendTrustError && e.code === "BACKEND_KEY_PIN_INVALID", "a pin for another tenant");
    const k2 = testSigningKey(TENANT);
    await trust.advance(k2.publicKeyRaw);
    assert.equal((await BackendTrust.open(file, TENANT)).keyId, k2.pin.keyId);
    writeFileSync(file, JSON.stringify({ ...k1.pin, keyId: k2.pin.keyId }));
    await assert.rejects(BackendTrust.open(file, TENANT), (e: unknown) => e instanceof BackendTrustError && e.code === "BACKEND_KEY_PIN_INVALID", "key id and key disagree");
  });
});
