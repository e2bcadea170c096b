import type { AgentHeartbeat, AgentHeartbeatStore } from "../../ports/agent-heartbeat-store.port.js";

export class MemoryAgentHeartbeatStore implements AgentHeartbeatStore {
  private readonly rows = new Map<string, AgentHeartbeat>();

  async record(heartbeat: AgentHeartbeat): Promise<void> {
    const existing = this.rows.get(heartbeat.tenantId);
    // Events can arrive out of order: an older heartbeat never replaces a newer one.
    if (existing !== undefined && existing.sentAt.getTime() > heartbeat.sentAt.getTime()) return;
    this.rows.set(heartbeat.tenantId, structuredClone(heartbeat));
  }

  async latest(tenantId: string): Promise<AgentHeartbeat | undefined> {
    const row = this.rows.get(tenantId);
    return row === undefined ? undefined : structuredClone(row);
  }
}
