import { generateKeyPairSync, randomBytes, randomInt, randomUUID } from "node:crypto";
import { MAX_PASSWORD_BYTES_TOGETHER, MAX_PASSWORD_CHARS } from "../shared/http/request-schemas.js";
import { sealReply, sealRequest, type PasswordOperation } from "../shared/protocol/envelope.js";

export interface MessageSizes {
  samples: number;
  maxRequestBytes: Record<PasswordOperation, number>;
  maxReplyBytes: number;
}

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("");

function randomPassword(maxChars: number): string {
  const n = randomInt(1, maxChars + 1);
  let s = "";
  for (let i = 0; i < n; i++) s += PRINTABLE[randomInt(PRINTABLE.length)];
  return s;
}

/** Largest sealed request and reply over random users and passwords of up to 256 characters. */
export function measureMessageSizes(samples: number): MessageSizes {
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const tenantId = randomUUID();
  const packageKey = randomBytes(32);
  const max: Record<PasswordOperation, number> = { reset: 0, change: 0, unlock: 0 };
  let maxReply = 0;
  for (let i = 0; i < samples; i++) {
    const anchorLength = randomInt(20, 65);
    const cloudAnchor = randomBytes(64).toString("base64").slice(0, anchorLength);
    let next = randomPassword(MAX_PASSWORD_CHARS);
    let current = randomPassword(MAX_PASSWORD_CHARS);
    // The API refuses a change whose two passwords exceed the envelope's budget; sample what it accepts.
    while (Buffer.byteLength(next) + Buffer.byteLength(current) > MAX_PASSWORD_BYTES_TOGETHER) current = current.slice(0, -1) || "x";
    if (i === 0) {
      next = "x".repeat(MAX_PASSWORD_CHARS);
      current = "y".repeat(MAX_PASSWORD_BYTES_TOGETHER - MAX_PASSWORD_CHARS);
    }
    const now = new Date();
    for (const operation of ["reset", "change", "unlock"] as const) {
      const body = sealRequest({
        tenantId,
        requestId: randomUUID(),
        operation,
        keyVersion: randomInt(1, 1000),
        packageKey,
        agentPublicKey: publicKey,
        issuedAt: now,
        expiresAt: new Date(now.getTime() + 120_000),
        traceId: randomUUID(),
        cloudAnchor,
        initiator: { kind: "user", channel: "ssprPortal" },
        flags: { unlockAccount: true, forceChangeAtNextLogon: true, expired: operation === "change" },
        ...(operation === "unlock" ? {} : { newPassword: Buffer.from(next) }),
        ...(operation === "change" ? { currentPassword: Buffer.from(current) } : {}),
      });
      max[operation] = Math.max(max[operation], body.length);
    }
    const reply = sealReply(
      { requestId: randomUUID(), operation: "change", keyVersion: 1, expiresAt: now, completedAt: now, outcome: "PASSWORD_POLICY_VIOLATION", reason: "complexity", agentVersion: "0.1.0", diagnostic: "0000052D: Constraint violation" },
      tenantId,
      packageKey,
    );
    maxReply = Math.max(maxReply, reply.length);
  }
  return { samples, maxRequestBytes: max, maxReplyBytes: maxReply };
}
