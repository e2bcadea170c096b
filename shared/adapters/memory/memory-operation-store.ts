import type { BegunOperation, OperationRecord, OperationStore } from "../../ports/operation-store.port.js";
import type { PolicyReason } from "../../errors/catalog.js";

/** Records are flat (strings, Dates): a field copy is a deep copy, and far cheaper than structuredClone. */
function copy(r: OperationRecord): OperationRecord {
  return { ...r, startedAt: new Date(r.startedAt), expiresAt: new Date(r.expiresAt), completedAt: r.completedAt === undefined ? undefined : new Date(r.completedAt) };
}

export class MemoryOperationStore implements OperationStore {
  private readonly rows = new Map<string, OperationRecord>();

  private key(tenantId: string, requestId: string): string {
    return `${tenantId}/${requestId}`;
  }

  async begin(record: OperationRecord): Promise<{ created: true; begun: BegunOperation } | { created: false; existing: OperationRecord }> {
    const existing = this.rows.get(this.key(record.tenantId, record.requestId));
    if (existing !== undefined) {
      if (record.attempt !== undefined && existing.attempt === record.attempt) return { created: true, begun: { record: copy(existing), version: "memory" } };
      return { created: false, existing: copy(existing) };
    }
    this.rows.set(this.key(record.tenantId, record.requestId), copy(record));
    return { created: true, begun: { record: copy(record), version: "memory" } };
  }

  /** Read and write happen without interleaving here, so `begun` is not needed. */
  async complete(tenantId: string, requestId: string, outcome: { outcome: string; reason?: PolicyReason | undefined; completedAt: Date }, _begun?: BegunOperation): Promise<OperationRecord | undefined> {
    const row = this.rows.get(this.key(tenantId, requestId));
    if (row === undefined) return undefined;
    // First outcome wins: a completed record is never changed again.
    if (row.status !== "completed") {
      row.status = "completed";
      row.outcome = outcome.outcome;
      row.reason = outcome.reason;
      row.completedAt = outcome.completedAt;
    }
    return copy(row);
  }

  async get(tenantId: string, requestId: string): Promise<OperationRecord | undefined> {
    const row = this.rows.get(this.key(tenantId, requestId));
    return row === undefined ? undefined : copy(row);
  }
}
