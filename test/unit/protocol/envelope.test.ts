import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { describe, test } from "vitest";
import fc from "fast-check";
import {
  MAX_MESSAGE_BYTES,
  MalformedEnvelopeError,
  UnknownKeyVersionError,
  openDisable,
  openKeyDelivery,
  openReply,
  openRequest,
  sealDisable,
  sealKeyDelivery,
  sealReply,
  sealRequest,
  type PasswordRequest,
} from "../../../shared/protocol/envelope.js";
import { DecryptionError } from "../../../shared/protocol/primitives.js";
import { newSpanId, newTraceId, TRACE_EXTENSION_BYTES } from "../../../shared/protocol/trace-context.js";
import { MAX_PASSWORD_BYTES_TOGETHER, MAX_PASSWORD_BYTES_WITH_SOURCE_ANCHOR, MAX_PASSWORD_CHARS } from "../../../shared/http/request-schemas.js";
import { testSigningKey } from "../../support/backend-signer.js";

const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const tenantId = randomUUID();
const packageKey = randomBytes(32);
const keyFor = (version: number) => (version === 3 ? packageKey : undefined);

function request(overrides: Partial<PasswordRequest> = {}): PasswordRequest {
  const now = new Date();
  return {
    tenantId,
    requestId: randomUUID(),
    operation: "reset",
    keyVersion: 3,
    issuedAt: now,
    expiresAt: new Date(now.getTime() + 120_000),
    // The HTTP call's W3C trace context: every size and tamper test below includes it.
    traceId: newTraceId(),
    parentSpanId: newSpanId(),
    traceFlags: 1,
    cloudAnchor: "User_" + randomUUID(),
    initiator: { kind: "user", channel: "ssprPortal" },
    flags: { unlockAccount: false, forceChangeAtNextLogon: true, expired: false },
    ...overrides,
  };
}

const open = (message: Buffer) => openRequest(message, { tenantId, keyFor, agentPrivateKey: privateKey });

describe("request envelope", () => {
  test("round trip of a reset keeps every field and the password", () => {
    const r = request();
    const opened = open(sealRequest({ ...r, packageKey, agentPublicKey: publicKey, newPassword: Buffer.from("Neu-Passwort-1!") }));
    assert.equal(opened.newPassword?.toString(), "Neu-Passwort-1!");
    assert.equal(opened.requestId, r.requestId);
    assert.deepEqual(opened.flags, r.flags);
    assert.equal(opened.cloudAnchor, r.cloudAnchor);
  });

  test("the W3C trace context (trace id, sending span, flags) travels authenticated with the request", () => {
    const r = request({ traceFlags: 0 });
    const opened = open(sealRequest({ ...r, packageKey, agentPublicKey: publicKey, newPassword: Buffer.from("x") }));
    assert.equal(opened.traceId, r.traceId);
    assert.match(opened.traceId, /^[0-9a-f]{32}$/);
    assert.equal(opened.parentSpanId, r.parentSpanId);
    assert.equal(opened.traceFlags, 0);
    // Without a sending span (and with a trace id in the older UUID form) the header carries no extension.
    const legacyId = randomUUID();
    const plain = open(sealRequest({ ...request({ traceId: legacyId, parentSpanId: undefined }), packageKey, agentPublicKey: publicKey }));
    assert.equal(plain.traceId, legacyId.replace(/-/g, ""));
    assert.equal(plain.parentSpanId, undefined);
    assert.throws(() => sealRequest({ ...request({ traceId: "not-a-trace" }), packageKey, agentPublicKey: publicKey }), RangeError);
  });

  test("the caller's password buffers are untouched by sealing and zeroable after", () => {
    const pw = Buffer.from("Secret-123!");
    sealRequest({ ...request(), packageKey, agentPublicKey: publicKey, newPassword: pw });
    assert.equal(pw.toString(), "Secret-123!");
  });

  test("flipping any single byte makes opening fail", () => {
    const message = sealRequest({ ...request({ operation: "change" }), packageKey, agentPublicKey: publicKey, newPassword: Buffer.from("New-1!aA"), currentPassword: Buffer.from("Old-1!aA") });
    for (let i = 0; i < message.length; i++) {
      const tampered = Buffer.from(message);
      tampered[i] = (tampered[i] ?? 0) ^ 0x01;
      assert.throws(() => open(tampered), (e: unknown) => e instanceof DecryptionError || e instanceof MalformedEnvelopeError || e instanceof UnknownKeyVersionError, `byte ${i}`);
    }
  });

  test("another tenant's id, an unknown key version or a truncated message are refused", () => {
    const message = sealRequest({ ...request(), packageKey, agentPublicKey: publicKey, newPassword: Buffer.from("x") });
    assert.throws(() => openRequest(message, { tenantId: randomUUID(), keyFor, agentPrivateKey: privateKey }), DecryptionError);
    assert.throws(() => openRequest(message, { tenantId, keyFor: () => undefined, agentPrivateKey: privateKey }), UnknownKeyVersionError);
    assert.throws(() => open(message.subarray(0, 30)), MalformedEnvelopeError);
    assert.throws(() => open(Buffer.alloc(MAX_MESSAGE_BYTES + 1)), MalformedEnvelopeError);
    assert.throws(() => open(randomBytes(200)), MalformedEnvelopeError);
  });

  test("the wrong agent private key cannot read the passwords", () => {
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const message = sealRequest({ ...request(), packageKey, agentPublicKey: publicKey, newPassword: Buffer.from("x") });
    assert.throws(() => openRequest(message, { tenantId, keyFor, agentPrivateKey: other }), DecryptionError);
  });

  test("every request and reply stays within 1024 bytes at the input limits", () => {
    const longest = "a".repeat(MAX_PASSWORD_CHARS);
    const anchor = "A".repeat(64);
    const reset = sealRequest({ ...request({ cloudAnchor: anchor }), packageKey, agentPublicKey: publicKey, newPassword: Buffer.from("€".repeat(197)) });
    const change = sealRequest({
      ...request({ operation: "change", cloudAnchor: anchor }),
      packageKey,
      agentPublicKey: publicKey,
      newPassword: Buffer.from(longest),
      currentPassword: Buffer.from("b".repeat(MAX_PASSWORD_BYTES_TOGETHER - MAX_PASSWORD_CHARS)),
    });
    const unlock = sealRequest({ ...request({ operation: "unlock", cloudAnchor: anchor }), packageKey, agentPublicKey: publicKey });
    const reply = sealReply(
      { requestId: randomUUID(), operation: "change", keyVersion: 3, expiresAt: new Date(), completedAt: new Date(), outcome: "ONPREM_DIRECTORY_UNAVAILABLE", reason: "unknown", agentVersion: "99.99.99-preview.1", diagnostic: "x".repeat(500) },
      tenantId,
      packageKey,
    );
    for (const m of [reset, change, unlock, reply]) assert.ok(m.length <= MAX_MESSAGE_BYTES, `${m.length} bytes`);
    // The trace id always travels; the sending span is left out only when it would not fit.
    for (const m of [reset, change, unlock]) {
      const opened = open(m);
      assert.equal(opened.traceId.length, 32);
      if (opened.parentSpanId === undefined) assert.ok(m.length + TRACE_EXTENSION_BYTES > MAX_MESSAGE_BYTES, `span left out of a ${m.length}-byte message`);
    }
    assert.match(open(unlock).parentSpanId ?? "", /^[0-9a-f]{16}$/);
    assert.ok(change.length > 900, "the change case is the large one");
  });

  test("a source anchor (onPremisesImmutableId's 16 bytes) travels sealed; at the input limits the message stays within 1024 bytes", () => {
    const sourceAnchor = randomBytes(16);
    const change = sealRequest({
      ...request({ operation: "change", cloudAnchor: "é".repeat(64), sourceAnchor }),
      packageKey,
      agentPublicKey: publicKey,
      newPassword: Buffer.from("a".repeat(MAX_PASSWORD_CHARS)),
      currentPassword: Buffer.from("b".repeat(MAX_PASSWORD_BYTES_WITH_SOURCE_ANCHOR - MAX_PASSWORD_CHARS)),
    });
    assert.ok(change.length <= MAX_MESSAGE_BYTES, `${change.length} bytes`);
    const opened = open(change);
    assert.ok(opened.sourceAnchor?.equals(sourceAnchor));
    assert.equal(opened.cloudAnchor, "é".repeat(64));
    assert.equal(opened.currentPassword?.length, MAX_PASSWORD_BYTES_WITH_SOURCE_ANCHOR - MAX_PASSWORD_CHARS);
    assert.equal(open(sealRequest({ ...request(), packageKey, agentPublicKey: publicKey })).sourceAnchor, undefined, "absent when not given");
    assert.throws(() => sealRequest({ ...request({ sourceAnchor: randomBytes(15) }), packageKey, agentPublicKey: publicKey }), RangeError);
    // Sealed: not readable in the message bytes.
    assert.equal(change.indexOf(sourceAnchor), -1);
  });

  test("property: random users and passwords up to the limits round-trip within 1 KiB", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 64 }).filter((s) => Buffer.byteLength(s) <= 64),
        fc.string({ minLength: 1, maxLength: MAX_PASSWORD_CHARS, unit: "grapheme-ascii" }),
        fc.string({ minLength: 1, maxLength: MAX_PASSWORD_CHARS, unit: "grapheme-ascii" }),
        (anchor, next, current) => {
          fc.pre(Buffer.byteLength(next) + Buffer.byteLength(current) <= MAX_PASSWORD_BYTES_TOGETHER);
          const message = sealRequest({ ...request({ operation: "change", cloudAnchor: anchor }), packageKey, agentPublicKey: publicKey, newPassword: Buffer.from(next), currentPassword: Buffer.from(current) });
          assert.ok(message.length <= MAX_MESSAGE_BYTES);
          const opened = open(message);
          assert.equal(opened.newPassword?.toString(), next);
          assert.equal(opened.currentPassword?.toString(), current);
          assert.equal(opened.cloudAnchor, anchor);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("reply and control envelopes", () => {
  test("a reply is bound to its tenant and refuses tampering", () => {
    const reply = { requestId: randomUUID(), operation: "reset" as const, keyVersion: 3, expiresAt: new Date(), completedAt: new Date(), outcome: "succeeded", reason: "", agentVersion: "1", diagnostic: "" };
    const sealed = sealReply(reply, tenantId, packageKey);
    assert.equal(openReply(sealed, tenantId, keyFor).outcome, "succeeded");
    assert.throws(() => openReply(sealed, randomUUID(), keyFor), DecryptionError);
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 20] = (tampered[tampered.length - 20] ?? 0) ^ 0xff;
    assert.throws(() => openReply(tampered, tenantId, keyFor), DecryptionError);
  });

  test("a key delivery carries the new key only to the holder of the agent private key", () => {
    const newKey = randomBytes(32);
    const now = new Date();
    const delivery = { requestId: randomUUID(), keyVersion: 4, issuedAt: now, expiresAt: new Date(now.getTime() + 60_000), traceId: randomUUID(), purpose: "rotate" as const, previousKeyVersion: 3, previousValidUntil: new Date(now.getTime() + 150_000) };
    const sealed = sealKeyDelivery(delivery, tenantId, newKey, publicKey, testSigningKey(tenantId).signer);
    const opened = openKeyDelivery(sealed, tenantId, privateKey);
    assert.ok(opened.key.equals(newKey));
    assert.equal(opened.delivery.previousKeyVersion, 3);
    assert.equal(opened.delivery.previousValidUntil.getTime(), delivery.previousValidUntil.getTime());
    assert.throws(() => openKeyDelivery(sealed, tenantId, generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey), DecryptionError);
    assert.throws(() => openKeyDelivery(sealed, randomUUID(), privateKey), DecryptionError);
    assert.ok(sealed.length <= MAX_MESSAGE_BYTES);
  });

  test("a disable notice must be sealed with a key the agent holds", () => {
    const now = new Date();
    const notice = { requestId: randomUUID(), keyVersion: 3, issuedAt: now, expiresAt: now, traceId: randomUUID() };
    const { signer } = testSigningKey(tenantId);
    assert.equal(openDisable(sealDisable(notice, tenantId, packageKey, signer), tenantId, keyFor).requestId, notice.requestId);
    assert.throws(() => openDisable(sealDisable(notice, tenantId, randomBytes(32), signer), tenantId, keyFor), DecryptionError);
  });
});
