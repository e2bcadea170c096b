import type { PasswordPolicySummary } from "../domain/password-policy.js";

export interface ConnectorHealth {
  domain: string;
  status: "healthy" | "degraded" | "unreachable";
  detail?: string | undefined;
}

export interface AgentHeartbeat {
  tenantId: string;
  agentId: string;
  agentVersion: string;
  sentAt: Date;
  receivedAt: Date;
  policy: PasswordPolicySummary;
  connectors: ConnectorHealth[];
  keyVersions: number[];
  /** The backend signing key the agent has pinned; undefined for an agent that predates signed control messages. */
  signingKeyId?: string | undefined;
}

export interface AgentHeartbeatStore {
  /** Keeps the latest heartbeat per tenant; an older one never overwrites a newer one. */
  record(heartbeat: AgentHeartbeat): Promise<void>;
  /**
   * With `maxAgeMs`, an implementation may answer with the latest heartbeat as read up to that
   * long ago (a cache); without it, the answer is read now.
   */
  latest(tenantId: string, options?: { maxAgeMs?: number }): Promise<AgentHeartbeat | undefined>;
}
