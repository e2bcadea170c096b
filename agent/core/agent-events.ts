import { encodeAgentEvent, type AgentEvent } from "../../shared/protocol/agent-event.js";
import type { AgentKeyStore } from "./agent-key-store.js";

/** Who the agent is, as every event it sends says. */
export interface AgentIdentity {
  tenantId: string;
  agentId: string;
  agentVersion: string;
}

export function keyAcknowledgedEvent(id: AgentIdentity, keyVersion: number, requestId: string, sentAt: Date): AgentEvent {
  return { v: 1, type: "keyAcknowledged", tenantId: id.tenantId, agentId: id.agentId, agentVersion: id.agentVersion, sentAt: sentAt.toISOString(), keyVersion, requestId };
}

export function disableAcknowledgedEvent(id: AgentIdentity, requestId: string, sentAt: Date): AgentEvent {
  return { v: 1, type: "disableAcknowledged", tenantId: id.tenantId, agentId: id.agentId, agentVersion: id.agentVersion, sentAt: sentAt.toISOString(), requestId };
}

/** Signs an event with the agent's private key: the bytes to send on the agent-events queue. */
export function signAgentEvent(event: AgentEvent, keys: Pick<AgentKeyStore, "privateKey">): Buffer {
  return encodeAgentEvent(event, keys.privateKey);
}
