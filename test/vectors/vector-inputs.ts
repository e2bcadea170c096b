import type { PasswordReply, PasswordRequest } from "../../shared/protocol/envelope.js";

const tenantId = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
const base = {
  tenantId,
  keyVersion: 7,
  issuedAt: new Date("2026-01-02T03:04:05.678Z"),
  expiresAt: new Date("2026-01-02T03:06:05.678Z"),
  traceId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
  cloudAnchor: "User_2b8f1d0c-6a3e-4b7d-9c1f-0e5a7b3c9d21",
} as const;

export const VECTOR_INPUTS = {
  tenantId,
  packageKey: Buffer.from("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "hex"),
  randomness: {
    iv: Buffer.from("a0a1a2a3a4a5a6a7a8a9aaab", "hex"),
    passwordKey: Buffer.from("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff00112233445566778899aabbccddeeff", "hex"),
  },
  passwords: { new: "Vector-New-P@ssw0rd-ü", current: "Vector-Old-P@ssw0rd" },
  reset: {
    ...base,
    requestId: "11111111-2222-4333-8444-555555555555",
    operation: "reset",
    initiator: { kind: "user", channel: "ssprPortal" },
    flags: { unlockAccount: true, forceChangeAtNextLogon: false, expired: false },
  } satisfies PasswordRequest,
  change: {
    ...base,
    requestId: "21111111-2222-4333-8444-555555555555",
    operation: "change",
    initiator: { kind: "user", channel: "accessPanel" },
    flags: { unlockAccount: false, forceChangeAtNextLogon: false, expired: true },
  } satisfies PasswordRequest,
  unlock: {
    ...base,
    requestId: "31111111-2222-4333-8444-555555555555",
    operation: "unlock",
    initiator: { kind: "admin", channel: "azurePortal" },
    flags: { unlockAccount: true, forceChangeAtNextLogon: false, expired: false },
  } satisfies PasswordRequest,
  reply: {
    requestId: "11111111-2222-4333-8444-555555555555",
    operation: "reset",
    keyVersion: 7,
    expiresAt: new Date("2026-01-02T03:06:05.678Z"),
    completedAt: new Date("2026-01-02T03:04:06.001Z"),
    outcome: "PASSWORD_POLICY_VIOLATION",
    reason: "history",
    agentVersion: "0.1.0",
    diagnostic: "0000052D",
  } satisfies PasswordReply,
};
