import type { PolicyReason } from "../errors/catalog.js";
import type { Channel, InitiatorKind, PasswordOperation } from "../domain/operations.js";

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
  /**
   * A random id of the attempt that began the record. A store whose insert was applied but
   * whose answer was lost (and retried into "already exists") tells its own record by it.
   */
  attempt?: string | undefined;
}

/** A record as begin() wrote it, with the store's version of it (an ETag): lets complete() skip its read. */
export interface BegunOperation {
  record: OperationRecord;
  version: string;
}

export interface OperationStore {
  /**
   * Inserts a pending record; when one exists already, returns it instead (no overwrite),
   * unless it carries this record's `attempt`: then it is this insert, retried, and counts as created.
   */
  begin(record: OperationRecord): Promise<{ created: true; begun: BegunOperation } | { created: false; existing: OperationRecord }>;
  /**
   * Records the final outcome; a completed record is never changed again (first outcome wins).
   * With `begun`, the store first writes conditionally on that version without reading; if the
   * record changed since (another outcome got there first), it falls back to read and decide.
   */
  complete(tenantId: string, requestId: string, outcome: { outcome: string; reason?: PolicyReason | undefined; completedAt: Date }, begun?: BegunOperation): Promise<OperationRecord | undefined>;
  get(tenantId: string, requestId: string): Promise<OperationRecord | undefined>;
}
