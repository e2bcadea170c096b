import type { BegunOperation, OperationRecord, OperationStore } from "../../ports/operation-store.port.js";
import type { PolicyReason } from "../../errors/catalog.js";

export class MemoryOperationStore implements OperationStore {
  private readonly rows = new Map<string, OperationRecord>();

  private key(tenantId: string, requestId: string): string {
    return `${tenantId}/${requestId}`;
  }

  async begin(record: OperationRecord): Promise<{ created: true; begun: BegunOperation } | { created: false; existing: OperationRecord }> {
    const existing = this.rows.get(this.key(record.tenantId, record.requestId));
    if (existing !== undefined) return { created: false, existing: structuredClone(existing) };
    this.rows.set(this.key(record.tenantId, record.requestId), structuredClone(record));
    return { created: true, begun: { record: structuredClone(record), version: "memory" } };
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
    return structuredClone(row);
  }

  async get(tenantId: string, requestId: string): Promise<OperationRecord | undefined> {
    const row = this.rows.get(this.key(tenantId, requestId));
    return row === undefined ? undefined : structuredClone(row);
  }
}
