import type { RateLimitOptions } from "../../domain/rate-limit-window.js";
import { LazyTable, type TableConnection } from "./table-client.js";
import { TableKeyVersionAllocator } from "./table-key-version-allocator.js";
import { TableOperationLedger } from "./table-operation-ledger.js";
import { TABLE_NAMES, TableAgentHeartbeatStore, TableAuditLog, TableOperationStore, TableRateLimiter, TableTenantSettingsStore } from "./table-stores.js";

/** The Table storage stores of the function app (and the key version allocator the key ring uses), in one call for the composition root. */
export function createTableStores(connection: TableConnection, rateLimit: RateLimitOptions, names: Partial<Record<keyof typeof TABLE_NAMES, string>> = {}) {
  const n = { ...TABLE_NAMES, ...names };
  // Operation records, rate-limit rows and audit rows share one table (and so one client and
  // its connections): one transaction writes a record with its count, another its outcome with its audit row.
  const operationsTable = new LazyTable(connection, n.operations);
  const operations = new TableOperationStore(operationsTable);
  const rateLimiter = new TableRateLimiter(operationsTable, rateLimit);
  return {
    settings: new TableTenantSettingsStore(new LazyTable(connection, n.settings)),
    heartbeats: new TableAgentHeartbeatStore(new LazyTable(connection, n.heartbeats)),
    operations,
    rateLimiter,
    ledger: new TableOperationLedger(operationsTable, operations, rateLimiter),
    audit: new TableAuditLog(operationsTable),
    keyVersions: new TableKeyVersionAllocator(new LazyTable(connection, n.keyVersions)),
  };
}
