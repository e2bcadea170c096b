import type { AgentHeartbeat, AgentHeartbeatStore } from "../../ports/agent-heartbeat-store.port.js";

export class MemoryAgentHeartbeatStore implements AgentHeartbeatStore {
  private readonly rows = new Map<string, AgentHeartbeat>();

  async record(heartbeat: AgentHeartbeat): Promise<void> {
    const existing = this.rows.get(heartbeat.tenantId);
    // Ordered by the cloud's clock of receipt, not the agent's (see the table store).
    if (existing !== undefined && existing.receivedAt.getTime() > heartbeat.receivedAt.getTime()) return;
    this.rows.set(heartbeat.tenantId, structuredClone(heartbeat));
  }

  async latest(tenantId: string): Promise<AgentHeartbeat | undefined> {
    const row = this.rows.get(tenantId);
    return row === undefined ? undefined : structuredClone(row);
  }
}
