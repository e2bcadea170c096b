import type { AgentHeartbeat, AgentHeartbeatStore } from "../../ports/agent-heartbeat-store.port.js";
import { RecentReads } from "./recent-reads.js";

/**
 * An agent's heartbeat arrives every five minutes: callers that state a `maxAgeMs` get the
 * latest heartbeat as read at most that long ago by this process. A heartbeat recorded
 * through this process forgets the tenant's entry at once; one recorded by another instance
 * is seen within the caller's max age. Without `maxAgeMs`, every read is fresh.
 */
export class CachedAgentHeartbeatStore implements AgentHeartbeatStore {
  private readonly recent: RecentReads<AgentHeartbeat | undefined>;

  constructor(
    private readonly inner: AgentHeartbeatStore,
    options: { maxTenants?: number; now?: () => number } = {},
  ) {
    this.recent = new RecentReads(options.maxTenants ?? 10_000, options.now);
  }

  async record(heartbeat: AgentHeartbeat): Promise<void> {
    try {
      await this.inner.record(heartbeat);
    } finally {
      this.recent.forget(heartbeat.tenantId);
    }
  }

  latest(tenantId: string, options: { maxAgeMs?: number } = {}): Promise<AgentHeartbeat | undefined> {
    return this.recent.read(tenantId, options.maxAgeMs ?? -1, () => this.inner.latest(tenantId));
  }

  get cachedTenants(): number {
    return this.recent.size;
  }
}
