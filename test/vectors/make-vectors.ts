// Regenerates envelope-v1.json (only when the wire format changes on purpose: bump the version).
import { readFileSync, writeFileSync } from "node:fs";
import { createPublicKey } from "node:crypto";
import { sealReply, sealRequest } from "../../shared/protocol/envelope.js";
import { VECTOR_INPUTS } from "./vector-inputs.js";

const dir = new URL(".", import.meta.url);
const privatePem = readFileSync(new URL("agent-test-key.pem", dir), "utf8");
const pub = createPublicKey(privatePem);
const v = VECTOR_INPUTS;
const out = {
  reset: sealRequest({ ...v.reset, packageKey: v.packageKey, agentPublicKey: pub, newPassword: Buffer.from(v.passwords.new), randomness: v.randomness }).toString("hex"),
  change: sealRequest({ ...v.change, packageKey: v.packageKey, agentPublicKey: pub, newPassword: Buffer.from(v.passwords.new), currentPassword: Buffer.from(v.passwords.current), randomness: v.randomness }).toString("hex"),
  unlock: sealRequest({ ...v.unlock, packageKey: v.packageKey, agentPublicKey: pub, randomness: v.randomness }).toString("hex"),
  reply: sealReply(v.reply, v.tenantId, v.packageKey, v.randomness.iv).toString("hex"),
};
writeFileSync(new URL("envelope-v1.json", dir), JSON.stringify(out, null, 2) + "\n");
console.log("wrote envelope-v1.json");
