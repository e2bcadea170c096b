import type { PolicyReason } from "../errors/catalog.js";
import type { Channel, InitiatorKind, PasswordOperation } from "../protocol/envelope.js";

export type OperationStatus = "pending" | "completed";

export interface OperationRecord {
  tenantId: string;
  requestId: string;
  operation: PasswordOperation;
  /** SHA-256 over operation, user anchor and initiator (never a password): detects reuse of a requestId. */
  fingerprint: string;
  cloudAnchor: string;
  initiatorKind: InitiatorKind;
  channel: Channel;
  status: OperationStatus;
  startedAt: Date;
  expiresAt: Date;
  /** "succeeded", an error code, or undefined while pending. */
  outcome?: string | undefined;
  reason?: PolicyReason | undefined;
  completedAt?: Date | undefined;
}

export interface OperationStore {
  /** Inserts a pending record; when one exists already, returns it instead (no overwrite). */
  begin(record: OperationRecord): Promise<{ created: true } | { created: false; existing: OperationRecord }>;
  /** Records the final outcome; a completed record is never changed again (first outcome wins). */
  complete(tenantId: string, requestId: string, outcome: { outcome: string; reason?: PolicyReason | undefined; completedAt: Date }): Promise<OperationRecord | undefined>;
  get(tenantId: string, requestId: string): Promise<OperationRecord | undefined>;
}
