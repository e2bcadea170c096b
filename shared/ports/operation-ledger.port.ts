import type { AuditRow } from "./audit-log.port.js";
import type { BegunOperation, OperationRecord } from "./operation-store.port.js";
import type { PolicyReason } from "../errors/catalog.js";
import type { RateLimitDecision, RateLimitSnapshot } from "./rate-limiter.port.js";

export type LedgerBegin =
  | { kind: "created"; begun: BegunOperation }
  /** A record with this requestId exists already (a replay, or a race with one): nothing was counted. */
  | { kind: "exists"; existing: OperationRecord }
  /** The subject's window is full: nothing was written. */
  | { kind: "limited"; decision: RateLimitDecision };

export interface LedgerCompletion {
  /** The record as stored (undefined: there is none), or why the outcome is not recorded yet. */
  record: PromiseSettledResult<OperationRecord | undefined>;
  audit: PromiseSettledResult<void>;
}

/**
 * Begins a password operation as one step: the attempt is counted in the subject's rate-limit
 * window and the pending record is inserted together, or neither happens. The record is
 * always stored before anything is sent; the count holds exactly across instances.
 */
export interface OperationLedger {
  /**
   * `limit.snapshot` is a read of the window made ahead (RateLimiter.read); a stale one is
   * detected and decided again on fresh data. The attempt is counted at `record.startedAt`.
   */
  begin(record: OperationRecord, limit: { subject: string; snapshot?: RateLimitSnapshot | undefined }): Promise<LedgerBegin>;
  /**
   * Records the outcome of a begun operation (first outcome wins, as OperationStore.complete)
   * and appends its audit row, in one write where the store can, each at most once. Never
   * rejects: says what became of each.
   */
  complete(begun: BegunOperation, outcome: { outcome: string; reason?: PolicyReason | undefined; completedAt: Date }, audit: AuditRow): Promise<LedgerCompletion>;
}
