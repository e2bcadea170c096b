import { MemoryAgentHeartbeatStore } from "../../../shared/adapters/memory/memory-agent-heartbeat-store.js";
import { MemoryAuditLog } from "../../../shared/adapters/memory/memory-audit-log.js";
import { MemoryOperationStore } from "../../../shared/adapters/memory/memory-operation-store.js";
import { MemoryRateLimiter } from "../../../shared/adapters/memory/memory-rate-limiter.js";
import { MemoryTenantSettingsStore } from "../../../shared/adapters/memory/memory-tenant-settings-store.js";
import { storeContract, type StoreSet } from "../../support/contracts/stores.contract.js";

storeContract("memory", async () => {
  const shared: StoreSet = {
    settings: new MemoryTenantSettingsStore(),
    heartbeats: new MemoryAgentHeartbeatStore(),
    operations: new MemoryOperationStore(),
    rateLimiter: new MemoryRateLimiter({ maxOperations: 5, windowSeconds: 3600 }),
    audit: new MemoryAuditLog(),
  };
  return [shared, shared];
});
