import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { test } from "vitest";
import { openReply, openRequest, sealReply, sealRequest } from "../../../shared/protocol/envelope.js";
import { VECTOR_INPUTS as v } from "../../vectors/vector-inputs.js";

const dir = new URL("../../vectors/", import.meta.url);
const privateKey = createPrivateKey(readFileSync(new URL("agent-test-key.pem", dir), "utf8"));
const vectors = JSON.parse(readFileSync(new URL("envelope-v1.json", dir), "utf8")) as Record<"reset" | "change" | "unlock" | "reply", string>;
const keyFor = (version: number) => (version === 7 ? v.packageKey : undefined);

test("the stored reset vector opens to its inputs", () => {
  const opened = openRequest(Buffer.from(vectors.reset, "hex"), { tenantId: v.tenantId, keyFor, agentPrivateKey: privateKey });
  assert.equal(opened.requestId, v.reset.requestId);
  assert.equal(opened.operation, "reset");
  assert.equal(opened.cloudAnchor, v.reset.cloudAnchor);
  assert.deepEqual(opened.flags, v.reset.flags);
  assert.deepEqual(opened.initiator, v.reset.initiator);
  assert.equal(opened.issuedAt.toISOString(), v.reset.issuedAt.toISOString());
  assert.equal(opened.expiresAt.toISOString(), v.reset.expiresAt.toISOString());
  assert.equal(opened.newPassword?.toString("utf8"), v.passwords.new);
  assert.equal(opened.currentPassword, undefined);
});

test("the stored change vector carries both passwords and the expired flag", () => {
  const opened = openRequest(Buffer.from(vectors.change, "hex"), { tenantId: v.tenantId, keyFor, agentPrivateKey: privateKey });
  assert.equal(opened.newPassword?.toString("utf8"), v.passwords.new);
  assert.equal(opened.currentPassword?.toString("utf8"), v.passwords.current);
  assert.equal(opened.flags.expired, true);
});

test("unlock and reply vectors are reproduced byte for byte", () => {
  const unlock = sealRequest({ ...v.unlock, packageKey: v.packageKey, agentPublicKey: createPublicKey(privateKey), randomness: v.randomness });
  assert.equal(unlock.toString("hex"), vectors.unlock);
  assert.equal(sealReply(v.reply, v.tenantId, v.packageKey, v.randomness.iv).toString("hex"), vectors.reply);
  assert.deepEqual(openReply(Buffer.from(vectors.reply, "hex"), v.tenantId, keyFor), v.reply);
});

test("a reset sealed with the vector randomness differs from the stored bytes only in the RSA block and the tags", () => {
  const sealed = sealRequest({ ...v.reset, packageKey: v.packageKey, agentPublicKey: createPublicKey(privateKey), newPassword: Buffer.from(v.passwords.new), randomness: v.randomness });
  const stored = Buffer.from(vectors.reset, "hex");
  assert.equal(sealed.length, stored.length);
  // Header (45 bytes) and the payload bytes before the wrapped key are identical (AES-GCM is a stream mode).
  const headerAndFixedPayload = 45 + 6 + 16 + 3 + 1 + v.reset.cloudAnchor.length + 2;
  assert.ok(sealed.subarray(0, headerAndFixedPayload).equals(stored.subarray(0, headerAndFixedPayload)));
});
