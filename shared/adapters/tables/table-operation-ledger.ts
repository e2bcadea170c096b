import { randomUUID } from "node:crypto";
import type { TransactionAction } from "@azure/data-tables";
import type { LedgerBegin, LedgerCompletion, OperationLedger } from "../../ports/operation-ledger.port.js";
import type { AuditRow } from "../../ports/audit-log.port.js";
import type { BegunOperation, OperationRecord } from "../../ports/operation-store.port.js";
import type { PolicyReason } from "../../errors/catalog.js";
import type { RateLimitSnapshot } from "../../ports/rate-limiter.port.js";
import type { LazyTable } from "./table-client.js";
import { statusOf } from "./table-client.js";
import { auditEntity, isConflict, RETRY, retryOnConflict, toEntity, type TableOperationStore, type TableRateLimiter } from "./table-stores.js";

/**
 * The operation record, the subject's rate-limit row and the audit rows share the tenant's
 * partition of one table, so one entity-group transaction inserts the record and writes the
 * count (conditional on the window's ETag), and another writes the outcome (conditional on
 * the record's ETag) with its audit row: each pair lands whole or not at all. Two calls where
 * there were four.
 */
export class TableOperationLedger implements OperationLedger {
  constructor(
    private readonly t: LazyTable,
    private readonly operations: TableOperationStore,
    private readonly limiter: TableRateLimiter,
  ) {}

  async begin(record: OperationRecord, limit: { subject: string; snapshot?: RateLimitSnapshot | undefined }): Promise<LedgerBegin> {
    const now = record.startedAt;
    const writeId = randomUUID();
    let given = this.limiter.usable(limit.snapshot);
    return retryOnConflict(async (): Promise<LedgerBegin | typeof RETRY> => {
      const seen = given ?? (await this.limiter.readRow(record.tenantId, limit.subject));
      given = undefined; // a retry always reads afresh
      const { decision, entity } = this.limiter.next(record.tenantId, limit.subject, seen, now, writeId);
      if (entity === undefined) return { kind: "limited", decision };
      const actions: TransactionAction[] = [
        ["create", { partitionKey: record.tenantId, rowKey: record.requestId, ...toEntity(record) }],
        seen.version === undefined ? ["create", entity] : ["update", entity, "Replace", { etag: seen.version }],
      ];
      try {
        const answer = await this.t.run((c) => c.submitTransaction(actions));
        const etag = answer.subResponses[0]?.etag?.trim();
        // Without an ETag (never seen from Azure or Azurite) complete() simply reads first.
        return { kind: "created", begun: { record: { ...record }, version: etag ?? "" } };
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
      // Refused as a whole: either the record exists (a replay, a racing duplicate, or this very
      // transaction applied and retried by the SDK after its answer was lost), or the window
      // moved on since it was read. The record tells which.
      const stored = await this.operations.load(record.tenantId, record.requestId);
      if (stored === undefined) return RETRY;
      if (record.attempt !== undefined && stored.record.attempt === record.attempt) return { kind: "created", begun: { record: stored.record, version: stored.etag } };
      return { kind: "exists", existing: stored.record };
    });
  }

  async complete(begun: BegunOperation, o: { outcome: string; reason?: PolicyReason | undefined; completedAt: Date }, audit: AuditRow): Promise<LedgerCompletion> {
    const { tenantId, requestId } = begun.record;
    // One key for this audit row, in the transaction and in the fallback: a retry finds it (409), never doubles it.
    const auditRow = auditEntity(audit);
    if (begun.version !== "" && begun.record.status === "pending") {
      const next: OperationRecord = { ...begun.record, status: "completed", outcome: o.outcome, reason: o.reason, completedAt: o.completedAt };
      const actions: TransactionAction[] = [
        ["update", { partitionKey: tenantId, rowKey: requestId, ...toEntity(next) }, "Replace", { etag: begun.version }],
        ["create", auditRow],
      ];
      try {
        await this.t.run((c) => c.submitTransaction(actions));
        return { record: { status: "fulfilled", value: next }, audit: { status: "fulfilled", value: undefined } };
      } catch {
        // Nothing of it applied, or all of it and the SDK's retry was refused: decide apart, below.
      }
    }
    // Another outcome got there first (the record's ETag moved), the record is gone, the
    // transaction landed and its retry was refused, or storage failed: each write on its own.
    const [record, appended] = await Promise.allSettled([
      this.operations.complete(tenantId, requestId, o),
      this.t.run((c) => c.createEntity(auditRow)).then(
        () => undefined,
        (e: unknown) => {
          if (statusOf(e) !== 409) throw e;
        },
      ),
    ]);
    return { record, audit: appended };
  }
}
