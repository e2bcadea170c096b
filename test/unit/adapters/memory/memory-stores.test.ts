import { MemoryAgentHeartbeatStore } from "../../../../shared/adapters/memory/memory-agent-heartbeat-store.js";
import { MemoryAuditLog } from "../../../../shared/adapters/memory/memory-audit-log.js";
import { MemoryOperationLedger } from "../../../../shared/adapters/memory/memory-operation-ledger.js";
import { MemoryOperationStore } from "../../../../shared/adapters/memory/memory-operation-store.js";
import { MemoryRateLimiter } from "../../../../shared/adapters/memory/memory-rate-limiter.js";
import { MemoryTenantSettingsStore } from "../../../../shared/adapters/memory/memory-tenant-settings-store.js";
import { storeContract, type StoreSet } from "../../../support/contracts/stores.contract.js";

storeContract("memory", async () => {
  const operations = new MemoryOperationStore();
  const rateLimiter = new MemoryRateLimiter({ maxOperations: 5, windowSeconds: 3600 });
  const audit = new MemoryAuditLog();
  const shared: StoreSet = {
    settings: new MemoryTenantSettingsStore(),
    heartbeats: new MemoryAgentHeartbeatStore(),
    operations,
    rateLimiter,
    ledger: new MemoryOperationLedger(operations, rateLimiter, audit),
    audit,
  };
  return [shared, shared];
});
