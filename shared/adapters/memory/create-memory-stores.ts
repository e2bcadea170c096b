import { MemoryAgentHeartbeatStore } from "./memory-agent-heartbeat-store.js";
import { MemoryAuditLog } from "./memory-audit-log.js";
import { MemoryOperationStore } from "./memory-operation-store.js";
import type { RateLimitOptions } from "../../domain/rate-limit-window.js";
import { MemoryRateLimiter } from "./memory-rate-limiter.js";
import { MemoryTenantSettingsStore } from "./memory-tenant-settings-store.js";

/** The five stores in process memory: one instance, nothing durable (tests, benchmarks of the relay path). */
export function createMemoryStores(rateLimit: RateLimitOptions) {
  return {
    settings: new MemoryTenantSettingsStore(),
    heartbeats: new MemoryAgentHeartbeatStore(),
    operations: new MemoryOperationStore(),
    rateLimiter: new MemoryRateLimiter(rateLimit),
    audit: new MemoryAuditLog(),
  };
}
