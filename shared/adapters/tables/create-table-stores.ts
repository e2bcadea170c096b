import type { RateLimitOptions } from "../../domain/rate-limit-window.js";
import { LazyTable, type TableConnection } from "./table-client.js";
import { TABLE_NAMES, TableAgentHeartbeatStore, TableAuditLog, TableOperationStore, TableRateLimiter, TableTenantSettingsStore } from "./table-stores.js";

/** The five Table storage stores of the function app, in one call for the composition root. */
export function createTableStores(connection: TableConnection, rateLimit: RateLimitOptions, names: Partial<Record<keyof typeof TABLE_NAMES, string>> = {}) {
  const n = { ...TABLE_NAMES, ...names };
  return {
    settings: new TableTenantSettingsStore(new LazyTable(connection, n.settings)),
    heartbeats: new TableAgentHeartbeatStore(new LazyTable(connection, n.heartbeats)),
    operations: new TableOperationStore(new LazyTable(connection, n.operations)),
    rateLimiter: new TableRateLimiter(new LazyTable(connection, n.rateLimits), rateLimit),
    audit: new TableAuditLog(new LazyTable(connection, n.audit)),
  };
}
