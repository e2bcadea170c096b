import { MemoryAgentHeartbeatStore } from "./memory-agent-heartbeat-store.js";
import { MemoryAuditLog } from "./memory-audit-log.js";
import { MemoryKeyVersionAllocator } from "./memory-key-version-allocator.js";
import { MemoryOperationLedger } from "./memory-operation-ledger.js";
import { MemoryOperationStore } from "./memory-operation-store.js";
import type { RateLimitOptions } from "../../domain/rate-limit-window.js";
import { MemoryRateLimiter } from "./memory-rate-limiter.js";
import { MemoryTenantSettingsStore } from "./memory-tenant-settings-store.js";

/** The stores in process memory: one instance, nothing durable (tests, benchmarks of the relay path). */
export function createMemoryStores(rateLimit: RateLimitOptions) {
  const operations = new MemoryOperationStore();
  const rateLimiter = new MemoryRateLimiter(rateLimit);
  const audit = new MemoryAuditLog();
  return {
    settings: new MemoryTenantSettingsStore(),
    heartbeats: new MemoryAgentHeartbeatStore(),
    operations,
    rateLimiter,
    ledger: new MemoryOperationLedger(operations, rateLimiter, audit),
    audit,
    keyVersions: new MemoryKeyVersionAllocator(),
  };
}
