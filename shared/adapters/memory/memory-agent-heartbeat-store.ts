import type { AgentHeartbeat, AgentHeartbeatStore } from "../../ports/agent-heartbeat-store.port.js";

export class MemoryAgentHeartbeatStore implements AgentHeartbeatStore {
  private readonly rows = new Map<string, AgentHeartbeat>();

  async record(heartbeat: AgentHeartbeat): Promise<void> {
    const existing = this.rows.get(heartbeat.tenantId);
    // Ordered by the cloud's clock of receipt, not the agent's (see the table store).
    if (existing !== undefined && existing.receivedAt.getTime() > heartbeat.receivedAt.getTime()) return;
    this.rows.set(heartbeat.tenantId, deepFreeze(structuredClone(heartbeat)));
  }

  /** Read on every request: a frozen copy is shared instead of cloned per read. */
  async latest(tenantId: string): Promise<AgentHeartbeat | undefined> {
    return this.rows.get(tenantId);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
