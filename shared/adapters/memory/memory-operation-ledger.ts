import type { LedgerBegin, LedgerCompletion, OperationLedger } from "../../ports/operation-ledger.port.js";
import type { AuditLog, AuditRow } from "../../ports/audit-log.port.js";
import type { BegunOperation, OperationRecord, OperationStore } from "../../ports/operation-store.port.js";
import type { PolicyReason } from "../../errors/catalog.js";
import type { RateLimiter, RateLimitSnapshot } from "../../ports/rate-limiter.port.js";

/**
 * The ledger over an operation store and a rate limiter of one process: begins run one after
 * another, so nothing interleaves between the existence check, the count and the insert.
 */
export class MemoryOperationLedger implements OperationLedger {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly operations: OperationStore,
    private readonly rateLimiter: RateLimiter,
    private readonly audit: AuditLog,
  ) {}

  begin(record: OperationRecord, limit: { subject: string; snapshot?: RateLimitSnapshot | undefined }): Promise<LedgerBegin> {
    const next = this.tail.then(() => this.beginNow(record, limit));
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async beginNow(record: OperationRecord, limit: { subject: string; snapshot?: RateLimitSnapshot | undefined }): Promise<LedgerBegin> {
    const existing = await this.operations.get(record.tenantId, record.requestId);
    if (existing !== undefined && (record.attempt === undefined || existing.attempt !== record.attempt)) return { kind: "exists", existing };
    if (existing === undefined) {
      const decision = await this.rateLimiter.consume(record.tenantId, limit.subject, record.startedAt, limit.snapshot);
      if (!decision.allowed) return { kind: "limited", decision };
    }
    const begun = await this.operations.begin(record);
    return begun.created ? { kind: "created", begun: begun.begun } : { kind: "exists", existing: begun.existing };
  }

  async complete(begun: BegunOperation, outcome: { outcome: string; reason?: PolicyReason | undefined; completedAt: Date }, audit: AuditRow): Promise<LedgerCompletion> {
    const [record, appended] = await Promise.allSettled([this.operations.complete(begun.record.tenantId, begun.record.requestId, outcome, begun), this.audit.append(audit)]);
    return { record, audit: appended };
  }
}
