import { ConcurrencyConflictError } from "../../ports/tenant-settings-store.port.js";
import type { KeySeries, KeyVersionAllocator } from "../../ports/key-version-allocator.port.js";
import { type LazyTable, statusOf } from "./table-client.js";

const MAX_ATTEMPTS = 50;

/**
 * One Table row per tenant and series (PartitionKey tenant id, RowKey series) holding the last
 * version handed out; each allocation is a create (409 when another caller made the row) or
 * an ETag-conditioned replace (412 when another caller moved it first), retried on conflict.
 */
export class TableKeyVersionAllocator implements KeyVersionAllocator {
  constructor(private readonly t: LazyTable) {}

  async next(tenantId: string, series: KeySeries, floor: number): Promise<number> {
    const partitionKey = tenantId.toLowerCase();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let row: { last: number; etag: string } | undefined;
      try {
        const e = await this.t.run((c) => c.getEntity<{ last: number }>(partitionKey, series));
        row = { last: Number(e.last), etag: e.etag };
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
      }
      const next = Math.max(row?.last ?? 0, floor) + 1;
      const entity = { partitionKey, rowKey: series, last: next };
      try {
        if (row === undefined) await this.t.run((c) => c.createEntity(entity));
        else await this.t.run((c) => c.updateEntity(entity, "Replace", { etag: row.etag }));
        return next;
      } catch (e) {
        const status = statusOf(e);
        if (status !== 409 && status !== 412) throw e;
      }
      await new Promise((r) => setTimeout(r, Math.random() * 10 * (attempt + 1)));
    }
    throw new ConcurrencyConflictError("key version allocation: too much contention");
  }
}
